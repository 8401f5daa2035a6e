#include "data/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/error.h"

namespace hllm::data {

struct UnicodeRegex::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

// Match data of this thread: find_all is const and called from several threads at once (items tokenized in
// parallel), so the compiled pattern is shared and the match data is not. One pair is enough: only the whole
// match's range is read (pcre2_match returns 0 then, "ovector too small", with that pair set).
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  return holder.data;
}

// The length in bytes of the UTF-8 character starting with `lead`.
size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  return 4;
}

}  // namespace

UnicodeRegex::UnicodeRegex(const std::string& pattern, const std::string& where) : compiled_(new Compiled) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error, &offset, nullptr);
  if (compiled_->code == nullptr) {
    delete compiled_;
    throw InputError(detail::concat(where, ": the pattern does not compile at offset ", offset, ": ",
                                    pcre2_message(error)));
  }
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter where JIT is absent
}

UnicodeRegex::UnicodeRegex(UnicodeRegex&& other) noexcept : compiled_(other.compiled_) { other.compiled_ = nullptr; }
UnicodeRegex& UnicodeRegex::operator=(UnicodeRegex&& other) noexcept {
  std::swap(compiled_, other.compiled_);
  return *this;
}
UnicodeRegex::~UnicodeRegex() { delete compiled_; }

std::vector<std::pair<size_t, size_t>> UnicodeRegex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  pcre2_match_data* match = thread_match_data();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    // The text was checked once by the caller; no per-call UTF check (it would make this quadratic).
    const int rc = pcre2_match(compiled_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    HLLM_CHECK(rc >= 0, "regular expression match failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    const size_t begin = ovector[0], end = ovector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      start = end;
    } else {
      if (begin >= text.size()) break;
      start = begin + utf8_length(static_cast<unsigned char>(text[begin]));
    }
  }
  return matches;
}

}  // namespace hllm::data
