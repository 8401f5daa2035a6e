#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "data/input_formats.h"

namespace hllm::data {

int64_t parse_timestamp(const std::string& text, const std::string& where) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  while (end && *end != '\0' && std::isspace(static_cast<unsigned char>(*end))) ++end;
  if (text.empty() || end == begin || *end != '\0' || !std::isfinite(value) || std::floor(value) != value) {
    throw InputError(where + ": timestamp '" + text + "' is not an integer number of seconds");
  }
  return static_cast<int64_t>(value);
}

std::string html_to_text(const std::string& html) {
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}};
  std::string text;
  bool in_tag = false;
  for (size_t i = 0; i < html.size(); ++i) {
    const char c = html[i];
    if (in_tag) {
      if (c == '>') {
        in_tag = false;
        text += ' ';
      }
      continue;
    }
    if (c == '<') {
      in_tag = true;
      continue;
    }
    if (c == '&') {
      bool decoded = false;
      for (const auto& [entity, replacement] : kEntities) {
        if (html.compare(i, std::char_traits<char>::length(entity), entity) == 0) {
          text += replacement;
          i += std::char_traits<char>::length(entity) - 1;
          decoded = true;
          break;
        }
      }
      if (decoded) continue;
    }
    text += c;
  }
  // Collapse whitespace runs (including newlines and tabs) to one space, trim the ends.
  std::string collapsed;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed += ' ';
    } else {
      collapsed += c;
    }
  }
  while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
  return collapsed;
}

}  // namespace hllm::data
