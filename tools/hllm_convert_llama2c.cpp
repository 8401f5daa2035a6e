// hllm_convert_llama2c: a llama2.c checkpoint (Karpathy's run.c format, e.g. stories260K.bin) as a Hugging Face
// directory (config.json, model.safetensors, and its SentencePiece tokenizer.model when given), so that an
// HLLM tower can start from it (model.item / model.user = DIR) and hllm_prepare can tokenize with it
// (--tokenizer DIR).
//
//   hllm_convert_llama2c CHECKPOINT.bin OUT_DIR [--tokenizer tok512.model] [--overwrite]
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/tool_main.h"
#include "models/llama2c_converter.h"

namespace hllm::tools {
namespace {

constexpr const char* kUsage =
    "Usage: hllm_convert_llama2c CHECKPOINT.bin OUT_DIR [--tokenizer TOKENIZER.model] [--overwrite]\n\n"
    "Writes OUT_DIR as a Hugging Face LLaMA directory: config.json and model.safetensors (RoPE rows permuted\n"
    "from llama2.c's interleaved pairs to Hugging Face's halves), and tokenizer.model when --tokenizer is given.\n"
    "The directory is written under a temporary name and renamed when complete; an existing OUT_DIR is kept\n"
    "unless --overwrite.\n";

int convert(int argc, char** argv) {
  std::string checkpoint, out, tokenizer;
  bool overwrite = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return kExitOk;
    } else if (arg == "--overwrite") {
      overwrite = true;
    } else if (arg == "--tokenizer" && i + 1 < argc) {
      tokenizer = argv[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      throw InputError("unknown flag '" + arg + "' (hllm_convert_llama2c --help)");
    } else if (checkpoint.empty()) {
      checkpoint = arg;
    } else if (out.empty()) {
      out = arg;
    } else {
      throw InputError("unexpected argument '" + arg + "' (hllm_convert_llama2c --help)");
    }
  }
  if (checkpoint.empty() || out.empty()) throw InputError("CHECKPOINT and OUT_DIR are required (hllm_convert_llama2c --help)");
  if (std::filesystem::exists(out) && !overwrite) throw InputError("'" + out + "' exists (--overwrite replaces it)");
  if (!tokenizer.empty() && !std::filesystem::is_regular_file(tokenizer)) {
    throw InputError("--tokenizer '" + tokenizer + "': no such file");
  }
  const std::string temporary = out + ".tmp-" + std::to_string(::getpid());
  try {
    const models::LlamaConfig config = models::convert_llama2c(checkpoint, temporary);
    if (!tokenizer.empty()) std::filesystem::copy_file(tokenizer, temporary + "/tokenizer.model");
    std::filesystem::remove_all(out);
    std::filesystem::rename(temporary, out);
    std::cout << "wrote " << out << ": LLaMA, hidden " << config.hidden_size << ", " << config.num_hidden_layers
              << " layers, " << config.num_attention_heads << " heads (" << config.num_key_value_heads
              << " key-value), vocabulary " << config.vocab_size << (tokenizer.empty() ? "" : ", tokenizer.model")
              << "\n";
  } catch (...) {
    std::filesystem::remove_all(temporary);  // never a half-written directory
    throw;
  }
  return kExitOk;
}

}  // namespace
}  // namespace hllm::tools

int main(int argc, char** argv) {
  return hllm::guarded_tool_main("hllm_convert_llama2c", [&] { return hllm::tools::convert(argc, argv); });
}
