// hllm_export: a checkpoint's Item LLM and User LLM as Hugging Face directories (checkpoint/hf_export.h).
//
//   hllm_export CHECKPOINT_DIR OUT_DIR
//
// CHECKPOINT_DIR is a committed step directory (runs/<name>/checkpoints/step_00000300), or a checkpoint
// root, meaning its newest committed checkpoint that verifies. OUT_DIR must not exist.
#include <iostream>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/hf_export.h"
#include "common/error.h"
#include "common/exit_codes.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: hllm_export CHECKPOINT_DIR OUT_DIR" << std::endl;
    return hllm::kExitBadInput;
  }
  try {
    std::string from = argv[1];
    std::vector<std::string> skipped;
    if (const std::string newest = hllm::checkpoint::latest_valid_checkpoint(from, &skipped); !newest.empty()) {
      for (const auto& why : skipped) std::cerr << "hllm_export: skipping " << why << std::endl;
      from = newest;
    }
    hllm::checkpoint::export_hf(from, argv[2]);
    std::cout << "exported " << from << " to " << argv[2] << "/item and " << argv[2] << "/user" << std::endl;
    return hllm::kExitOk;
  } catch (const hllm::InputError& e) {
    std::cerr << "hllm_export: " << e.what() << std::endl;
    return hllm::kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "hllm_export: " << e.what() << std::endl;
    return hllm::kExitFailure;
  }
}
