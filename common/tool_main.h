// main() of a single-process tool (hllm_prepare, hllm_tokenize, hllm_sweep, hllm_plan, hllm_plot,
// hllm_export, hllm_convert_llama2c): runs its body and turns whatever escapes into one line and an exit
// code (README "Exit codes"): an InputError exits 2, any other error 1. Nothing escapes main: an uncaught
// exception would end the tool with SIGABRT and a message a user cannot act on. Tools under MPI use
// launcher/run_tool.h's run_tool_main instead, which also aborts the job.
#pragma once

#include <functional>

namespace hllm {

int guarded_tool_main(const char* tool, const std::function<int()>& body);

}  // namespace hllm
