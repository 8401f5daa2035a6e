// Helpers for data tests: a fresh temporary directory per test and small files written from strings.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace hllm::data::testing {

// A new empty directory, removed when the object goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = std::filesystem::temp_directory_path() / ("hllm-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name), std::ios::binary) << text;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

// ../shared/data relative to the source tree, where the real public test data lives when present.
inline std::string shared_data_dir() { return std::string(HLLM_SOURCE_DIR) + "/../shared/data"; }

}  // namespace hllm::data::testing
