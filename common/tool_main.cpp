#include "common/tool_main.h"

#include <iostream>

#include "common/error.h"
#include "common/exit_codes.h"

namespace hllm {

int guarded_tool_main(const char* tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::cerr << tool << ": " << e.what() << std::endl;
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << tool << ": " << e.what() << std::endl;
    return kExitFailure;
  }
}

}  // namespace hllm
