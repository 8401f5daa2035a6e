#include "common/path_names.h"

#include "common/error.h"
#include "common/json_input.h"

namespace hllm {

std::string path_problem(const std::string& path) {
  if (path.find('\0') != std::string::npos) return "it contains a NUL character";
  if (path.size() > kMaxPathBytes) {
    return detail::concat("the path is ", path.size(), " bytes long; a path is at most ", kMaxPathBytes);
  }
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    if (end - begin > kMaxPathPartBytes) {
      return detail::concat("the part '", text_excerpt(path.substr(begin, end - begin), 40), "' is ", end - begin,
                            " bytes long; a file or directory name is at most ", kMaxPathPartBytes);
    }
    begin = end + 1;
  }
  return "";
}

void check_path(const std::string& path, const std::string& what) {
  const std::string problem = path_problem(path);
  if (!problem.empty()) throw InputError(what + " = '" + text_excerpt(path, 60) + "': " + problem);
}

}  // namespace hllm
