#include "common/error.h"

namespace hllm::detail {

// Paths are project-relative: the build maps the source root away (-fmacro-prefix-map).
void throw_check_failure(const char* file, int line, const char* condition, const std::string& message) {
  throw Error(concat(file, ":", line, ": ",
                     message.empty() ? std::string("check failed: ") + condition : message));
}

void throw_assert_failure(const char* file, int line, const char* condition, const std::string& message) {
  throw Error(concat(file, ":", line, ": internal invariant violated (", condition, ")",
                     message.empty() ? "" : ": ", message,
                     ". HINT: this is a bug in the HLLM trainer; please report it with the log."));
}

}  // namespace hllm::detail
