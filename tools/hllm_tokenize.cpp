// hllm_tokenize: the ids hllm_prepare gives a text, for comparison with another implementation.
//
//   printf '%s\n' '"Hello world"' '"café 🤗"' | hllm_tokenize --tokenizer models/Llama-3.2-1B
//   9906 1917
//   ...
//
// Each stdin line is one JSON string (so that newlines and any character can be written); each stdout line
// is its ids, space-separated, without BOS/EOS (Hugging Face: encode(text, add_special_tokens=False)).
#include <gflags/gflags.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "common/exit_codes.h"
#include "data/tokenizer.h"

DEFINE_string(tokenizer, "", "A model directory (its tokenizer.model, else its tokenizer.json), a SentencePiece "
              ".model or a tokenizer.json.");
DEFINE_bool(info, false, "Print the tokenizer's kind, vocabulary size and BOS/EOS/PAD ids to stderr first.");

namespace hllm::tools {
namespace {

int tokenize() {
  if (FLAGS_tokenizer.empty()) throw InputError("--tokenizer PATH is required (hllm_tokenize --help)");
  const auto tokenizer = data::Tokenizer::load(FLAGS_tokenizer);
  if (FLAGS_info) {
    std::cerr << tokenizer.kind() << ", vocabulary " << tokenizer.vocab_size() << ", bos " << tokenizer.bos_id()
              << ", eos " << tokenizer.eos_id() << ", pad " << tokenizer.pad_id() << std::endl;
  }
  std::string line;
  for (int64_t number = 1; std::getline(std::cin, line); ++number) {
    nlohmann::json text;
    try {
      text = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(detail::concat("stdin line ", number, ": not JSON (write each text as a JSON string, e.g. "
                                      "\"Hello\\nworld\"): ", e.what()));
    }
    if (!text.is_string()) throw InputError(detail::concat("stdin line ", number, ": expected a JSON string, got ", line));
    const auto ids = tokenizer.encode(text.get<std::string>());
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << '\n';
  }
  std::cout.flush();
  return std::cout.good() ? kExitOk : kExitFailure;
}

}  // namespace
}  // namespace hllm::tools

int main(int argc, char** argv) {
  gflags::SetUsageMessage("hllm_tokenize --tokenizer PATH < texts.jsonl  (one JSON string per line → ids)");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc > 1) throw hllm::InputError(std::string("unexpected argument '") + argv[1] + "' (hllm_tokenize --help)");
    return hllm::tools::tokenize();
  } catch (const hllm::InputError& e) {
    std::cerr << "hllm_tokenize: " << e.what() << std::endl;
    return hllm::kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "hllm_tokenize: " << e.what() << std::endl;
    return hllm::kExitFailure;
  }
}
