#include "common/json_input.h"

#include <fstream>
#include <sstream>

#include "common/error.h"

namespace hllm {
namespace {

struct NestedTooDeep {};

}  // namespace

std::optional<nlohmann::json> try_parse_json(std::string_view text, std::string* why) {
  // The callback sees each container as it opens, with the number of containers around it, before the
  // parser goes one level deeper: a refusal there bounds every later recursion over the value.
  const auto limit_depth = [](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    const bool opens = event == nlohmann::json::parse_event_t::object_start ||
                       event == nlohmann::json::parse_event_t::array_start;
    if (opens && depth >= kMaxJsonDepth) throw NestedTooDeep{};
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), limit_depth);
  } catch (const NestedTooDeep&) {
    *why = detail::concat("JSON nested deeper than ", kMaxJsonDepth, " levels");
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number such as 1e999
    // nlohmann quotes the last token read, which may be a whole unterminated string.
    *why = "not valid JSON: " + text_excerpt(e.what(), 2 * kExcerptChars);
  }
  return std::nullopt;
}

nlohmann::json parse_json(std::string_view text, const std::string& origin) {
  std::string why;
  std::optional<nlohmann::json> value = try_parse_json(text, &why);
  if (!value) throw InputError(origin + ": " + why);
  return std::move(*value);
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return parse_json(text.str(), "'" + path + "'");
}

std::string text_excerpt(std::string_view text, size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  size_t cut = max_chars;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so that no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return detail::concat(text.substr(0, cut), "… (", text.size(), " bytes)");
}

std::string json_excerpt(const nlohmann::json& value, size_t max_chars) {
  // dump() is safe here: every value was parsed with the depth limit. Invalid UTF-8 is replaced, not thrown.
  return text_excerpt(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), max_chars);
}

}  // namespace hllm
