// A compiled regular expression over UTF-8 text with Unicode classes (\p{L}, \p{N}, Unicode \s), as
// Hugging Face tokenizers' pre-tokenizer patterns need: PCRE2 with UTF and UCP, JIT-compiled when the
// library supports it. Lives in hllm_tokenizer, the only target linking PCRE2.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hllm::data {

class UnicodeRegex {
 public:
  // Throws InputError naming `where` (the file and key the pattern came from) when it does not compile.
  UnicodeRegex(const std::string& pattern, const std::string& where);
  UnicodeRegex(UnicodeRegex&&) noexcept;
  UnicodeRegex& operator=(UnicodeRegex&&) noexcept;
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;
  ~UnicodeRegex();

  // Every non-overlapping match, left to right, as [begin, end) byte offsets into `text` (valid UTF-8).
  // An empty match advances by one character. Thread-safe: each thread matches with match data of its own.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  struct Compiled;
  Compiled* compiled_ = nullptr;
};

}  // namespace hllm::data
