// JSON that a user gives, read under one policy: config files and `--set` values, sweep ladders, tokenizer
// files, Hugging Face config.json and weight indexes, JSON lines (`--users`, hllm_tokenize's stdin), a
// dataset's meta.json, a checkpoint's manifest, a run's metrics and reports.
//
// - Nesting deeper than kMaxJsonDepth is refused while parsing. nlohmann's dump(), copies and comparisons
//   recurse through a value, so one nested 100,000 deep (a 200 KB line) would overflow the stack later, in
//   whatever error message or copy touched it first. No file this project reads nests beyond about 8.
// - A refusal quotes at most a short prefix of the value or line (json_excerpt, text_excerpt): a 2 MB input
//   line is named by its file and line, not repeated.
//
// Nothing outside common/json_input.cpp calls nlohmann::json::parse on such input.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace hllm {

constexpr int kMaxJsonDepth = 64;
constexpr size_t kExcerptChars = 80;

// `text` as JSON, or nullopt with *why saying what is wrong ("not valid JSON: …", "JSON nested deeper than
// 64 levels"), for a caller that words its own refusal or takes the text otherwise.
std::optional<nlohmann::json> try_parse_json(std::string_view text, std::string* why);

// `text` as JSON. Throws InputError "<origin>: not valid JSON: …" or "<origin>: JSON nested deeper than 64
// levels". `origin` names the file (and line), e.g. "users.jsonl:12" or "--set train.lr".
nlohmann::json parse_json(std::string_view text, const std::string& origin);

// The file at `path` as JSON; a file that cannot be opened is an InputError naming it.
nlohmann::json read_json_file(const std::string& path);

// At most `max_chars` characters of `text`, cut at a UTF-8 boundary, with "… (N bytes)" when cut.
std::string text_excerpt(std::string_view text, size_t max_chars = kExcerptChars);

// A value as JSON text for a message, cut like text_excerpt.
std::string json_excerpt(const nlohmann::json& value, size_t max_chars = kExcerptChars);

}  // namespace hllm
