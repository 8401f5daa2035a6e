// A Hugging Face tokenizer.json of the byte-level BPE family (GPT-2, Llama-3, Qwen2/2.5/3, SmolLM), read
// without Python: its normalizer (none or NFC), added tokens (split out of the text first, longest match at
// the leftmost position), pre-tokenizer (Split by regular expression, Digits, ByteLevel) and BPE model.
// BOS, EOS and PAD are named by tokenizer_config.json beside it. encode() gives what
// `tokenizer.encode(text, add_special_tokens=False)` gives: no BOS/EOS; the post-processor is not applied.
// Anything else a tokenizer.json can say (another model type, a normalizer or pre-tokenizer this reader
// does not implement, added tokens that strip spaces) is refused when loading, naming the key.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/byte_level_bpe.h"
#include "data/unicode_regex.h"

namespace hllm::data {

class HfTokenizer {
 public:
  // `path`: a tokenizer.json. Throws InputError naming the file and key of anything it cannot honour.
  static HfTokenizer load(const std::string& path);

  // Thread-safe: the patterns' match data is each thread's own (unicode_regex.h), the rest is read-only.
  std::vector<int32_t> encode(std::string_view text) const;

  // One past the largest id of the vocabulary and the added tokens.
  int vocab_size() const { return vocab_size_; }
  int bos_id() const { return bos_id_; }  // -1 where tokenizer_config.json names none
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }

 private:
  struct AddedToken {
    std::string content;
    int32_t id;
    bool normalized;  // matched in the normalized text, else in the raw text
  };
  struct Split {
    std::shared_ptr<UnicodeRegex> pattern;
    bool keep_matches;  // the matches are pieces (else dropped: "Removed")
    bool keep_gaps;     // the text between them is (else dropped: "Removed" with invert)
  };

  explicit HfTokenizer(ByteLevelBpe bpe) : bpe_(std::move(bpe)) {}
  static HfTokenizer load_checked(const std::string& path);
  void encode_normalized(std::string_view text, std::vector<int32_t>* ids) const;
  void encode_pre_tokens(std::string_view text, std::vector<int32_t>* ids) const;
  // Cuts `text` at the added tokens with normalized == `normalized`: text pieces go to encode_next, tokens
  // are appended to `ids` directly.
  template <typename EncodeText>
  void split_added(std::string_view text, bool normalized, std::vector<int32_t>* ids, EncodeText encode_next) const;

  ByteLevelBpe bpe_;
  bool nfc_ = false;
  std::vector<AddedToken> added_;  // longest first
  std::array<bool, 256> added_starts_{};  // the first bytes of added tokens: no search elsewhere
  std::vector<Split> splits_;      // applied in order, each to every piece of the one before
  int vocab_size_ = 0;
  int bos_id_ = -1;
  int eos_id_ = -1;
  int pad_id_ = -1;
};

}  // namespace hllm::data
