// SkippedWindows: training windows left out of given epochs — data.skip_windows, and the windows of a
// step that tripped a training guard (runtime/training_guard.h). A skipped window keeps its place: the
// loader yields a masked filler row where it would have been, so every other sample stays in its step
// and a run with a skip list is a pure function of (seed, layout, skip list), like one without.
// A window is named "EPOCH:WINDOW" (its global index, data/training_windows.h) in configs, checkpoints
// and incident reports.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace hllm::data {

struct WindowAt {
  int64_t epoch = 0;
  int64_t window = 0;
  bool operator<(const WindowAt& other) const {
    return std::pair(epoch, window) < std::pair(other.epoch, other.window);
  }
  bool operator==(const WindowAt& other) const { return epoch == other.epoch && window == other.window; }
};

std::string to_string(const WindowAt& at);  // "3:1207"

class SkippedWindows {
 public:
  // From "EPOCH:WINDOW" texts; throws InputError naming `key` and the text that is not one.
  static SkippedWindows parse(const std::vector<std::string>& texts, const std::string& key);

  void add(const WindowAt& at) { windows_.insert(at); }
  void add(const SkippedWindows& other) { windows_.insert(other.windows_.begin(), other.windows_.end()); }
  bool contains(int64_t epoch, int64_t window) const { return windows_.count({epoch, window}) > 0; }
  bool empty() const { return windows_.empty(); }
  int64_t size() const { return static_cast<int64_t>(windows_.size()); }
  // The largest window index named (-1 when empty): what the loader checks against the dataset.
  int64_t largest_window() const;
  std::vector<std::string> to_strings() const;  // ascending by (epoch, window)
  bool operator==(const SkippedWindows& other) const { return windows_ == other.windows_; }

 private:
  std::set<WindowAt> windows_;
};

// Throws InputError (data.skip_windows) when `skipped` names a window past the `total` training windows of
// the dataset at `dataset_directory`.
void check_windows_exist(const SkippedWindows& skipped, int64_t total, const std::string& dataset_directory);

}  // namespace hllm::data
