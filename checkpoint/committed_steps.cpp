#include "checkpoint/committed_steps.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "checkpoint/checkpoint_format.h"

namespace hllm::checkpoint {
namespace fs = std::filesystem;

std::string step_directory_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step_%08lld", static_cast<long long>(step));
  return name;
}

std::vector<int64_t> committed_steps(const std::string& root) {
  std::vector<int64_t> steps;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return steps;
  const std::regex pattern("step_([0-9]+)");
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && std::regex_match(name, match, pattern) && fs::exists(entry.path() / kManifest)) {
      steps.push_back(std::stoll(match[1].str()));
    }
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

}  // namespace hllm::checkpoint
