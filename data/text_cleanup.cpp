#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "common/json_input.h"
#include "data/input_formats.h"

namespace hllm::data {

int64_t parse_timestamp(const std::string& text, const std::string& where) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  while (end && *end != '\0' && std::isspace(static_cast<unsigned char>(*end))) ++end;
  if (text.empty() || end == begin || *end != '\0' || !std::isfinite(value) || std::floor(value) != value) {
    throw InputError(where + ": timestamp '" + text_excerpt(text) + "' is not an integer number of seconds");
  }
  if (std::fabs(value) > static_cast<double>(kMaxTimestampMagnitude)) {
    throw InputError(detail::concat(where, ": timestamp '", text_excerpt(text), "' is out of range (at most 2^53 = ",
                                    kMaxTimestampMagnitude, " seconds either side of 1970)"));
  }
  return static_cast<int64_t>(value);
}

int64_t json_timestamp(const nlohmann::json& value, const std::string& where, const std::string& key) {
  if (!value.is_number_integer()) {
    throw InputError(where + ": '" + key + "' must be an integer number of seconds, got " + json_excerpt(value));
  }
  // An unsigned value above 2^63 - 1 would turn negative in int64: compare before converting.
  const bool in_range = value.is_number_unsigned()
                            ? value.get<uint64_t>() <= static_cast<uint64_t>(kMaxTimestampMagnitude)
                            : value.get<int64_t>() >= -kMaxTimestampMagnitude &&
                                  value.get<int64_t>() <= kMaxTimestampMagnitude;
  if (!in_range) {
    throw InputError(detail::concat(where, ": '", key, "' = ", json_excerpt(value),
                                    " is out of range (at most 2^53 = ", kMaxTimestampMagnitude,
                                    " seconds either side of 1970)"));
  }
  return value.get<int64_t>();
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
