// UTF-8 text as a Hugging Face tokenizer receives it: valid (it gets a Python or Rust string) and, when the
// tokenizer's normalizer says so, in Unicode normalization form C. ICU does the Unicode work; lives in
// hllm_tokenizer, the only target linking it.
#pragma once

#include <string>
#include <string_view>

namespace hllm::data {

// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD, one per maximal ill-formed subpart (as
// Python's bytes.decode("utf-8", "replace") does). Valid text is returned unchanged.
std::string to_valid_utf8(std::string_view text);

// `text` (valid UTF-8) in normalization form C. ASCII text is returned as is without a copy into ICU.
std::string to_nfc(std::string_view text);

}  // namespace hllm::data
