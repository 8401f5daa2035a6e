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
#include "common/json_input.h"
#include "common/exit_codes.h"
#include "common/tool_main.h"
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
    std::string why;
    const std::optional<nlohmann::json> parsed = try_parse_json(line, &why);
    if (!parsed) {
      throw InputError(detail::concat("stdin line ", number, ": not JSON (write each text as a JSON string, e.g. "
                                      "\"Hello\\nworld\"): ", why));
    }
    const nlohmann::json& text = *parsed;
    if (!text.is_string()) {
      throw InputError(detail::concat("stdin line ", number, ": expected a JSON string, got ", json_excerpt(text)));
    }
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
  return hllm::guarded_tool_main("hllm_tokenize", [&] {
    if (argc > 1) throw hllm::InputError(std::string("unexpected argument '") + argv[1] + "' (hllm_tokenize --help)");
    return hllm::tools::tokenize();
  });
}
