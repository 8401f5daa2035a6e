// hllm_export: a checkpoint's Item LLM and User LLM as Hugging Face directories (runtime/hf_export.h).
//
//   hllm_export CHECKPOINT_DIR OUT_DIR [--max_shard_size SIZE]
//
// CHECKPOINT_DIR is a committed step directory (runs/<name>/checkpoints/step_00000300), or a checkpoint
// root, meaning its newest committed checkpoint that verifies. OUT_DIR must not exist. A tower larger than
// SIZE (default 5GB, as Hugging Face's save_pretrained; also MB, GiB, ... or bytes) is written in shards
// with model.safetensors.index.json.
#include <iostream>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "runtime/hf_export.h"
#include "common/error.h"
#include "common/exit_codes.h"
#include "common/tool_main.h"

namespace {

constexpr const char* kUsage = "usage: hllm_export CHECKPOINT_DIR OUT_DIR [--max_shard_size SIZE (default 5GB)]";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::string max_shard_size;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--max_shard_size" && i + 1 < argc) {
      max_shard_size = argv[++i];
    } else if (arg.rfind("--max_shard_size=", 0) == 0) {
      max_shard_size = arg.substr(17);
    } else if (arg.rfind("--", 0) == 0) {
      std::cerr << "hllm_export: unknown flag '" << arg << "'\n" << kUsage << std::endl;
      return hllm::kExitBadInput;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    std::cerr << kUsage << std::endl;
    return hllm::kExitBadInput;
  }
  return hllm::guarded_tool_main("hllm_export", [&] {
    const int64_t max_shard_bytes = max_shard_size.empty() ? hllm::runtime::kDefaultMaxShardBytes
                                                           : hllm::runtime::parse_byte_size(max_shard_size);
    std::string from = positional[0];
    std::vector<std::string> skipped;
    if (const std::string newest = hllm::checkpoint::latest_valid_checkpoint(from, &skipped); !newest.empty()) {
      for (const auto& why : skipped) std::cerr << "hllm_export: skipping " << why << std::endl;
      from = newest;
    }
    hllm::runtime::export_hf(from, positional[1], max_shard_bytes);
    std::cout << "exported " << from << " to " << positional[1] << "/item and " << positional[1] << "/user" << std::endl;
    return hllm::kExitOk;
  });
}
