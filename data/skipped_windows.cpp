#include "data/skipped_windows.h"

#include <algorithm>
#include <charconv>

#include "common/error.h"

namespace hllm::data {
namespace {

bool parse_count(const std::string& text, size_t begin, size_t end, int64_t* out) {
  if (begin >= end) return false;
  const auto [stop, error] = std::from_chars(text.data() + begin, text.data() + end, *out);
  return error == std::errc() && stop == text.data() + end && *out >= 0;
}

}  // namespace

std::string to_string(const WindowAt& at) { return std::to_string(at.epoch) + ":" + std::to_string(at.window); }

SkippedWindows SkippedWindows::parse(const std::vector<std::string>& texts, const std::string& key) {
  SkippedWindows skipped;
  for (const std::string& text : texts) {
    const size_t colon = text.find(':');
    WindowAt at;
    if (colon == std::string::npos || !parse_count(text, 0, colon, &at.epoch) ||
        !parse_count(text, colon + 1, text.size(), &at.window)) {
      throw InputError(detail::concat(key, ": '", text, "' is not EPOCH:WINDOW (two counts from 0, as in \"0:1207\")"));
    }
    skipped.add(at);
  }
  return skipped;
}

int64_t SkippedWindows::largest_window() const {
  int64_t largest = -1;
  for (const WindowAt& at : windows_) largest = std::max(largest, at.window);
  return largest;
}

void check_windows_exist(const SkippedWindows& skipped, int64_t total, const std::string& dataset_directory) {
  if (skipped.largest_window() < total) return;
  throw InputError(detail::concat("data.skip_windows: window ", skipped.largest_window(), " does not exist: ",
                                  dataset_directory, " has ", total,
                                  " training windows at this data.max_item_list_len (numbered from 0)"));
}

std::vector<std::string> SkippedWindows::to_strings() const {
  std::vector<std::string> texts;
  texts.reserve(windows_.size());
  for (const WindowAt& at : windows_) texts.push_back(to_string(at));
  return texts;
}

}  // namespace hllm::data
