#include "data/hf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_input.h"
#include "data/dataset_format.h"
#include "data/unicode_text.h"

namespace hllm::data {
namespace {

using nlohmann::json;

// GPT-2's pre-tokenizer pattern, what ByteLevel's use_regex applies.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("tokenizer: cannot open '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return parse_json(text.str(), "tokenizer: '" + path + "'");
}

// Reads a tokenizer.json: `where("key")` is the error prefix naming the file and the key.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void refuse(const std::string& key, const std::string& what) const {
    throw InputError("tokenizer: '" + path_ + "', key '" + key + "': " + what);
  }
  std::string where(const std::string& key) const { return "tokenizer: '" + path_ + "', key '" + key + "'"; }

  const json& at(const json& object, const std::string& name, const std::string& key) const {
    if (!object.is_object() || !object.contains(name)) refuse(key, "missing");
    return object.at(name);
  }
  // A token id: an integer in [0, kMaxVocabularySize), so that every id has a row in an embedding table of a
  // size that fits (data/dataset_format.h).
  int32_t token_id(const json& value, const std::string& key) const {
    if (!value.is_number_integer()) refuse(key, "expected an integer id, got " + json_excerpt(value));
    if (value.is_number_unsigned() ? value.get<uint64_t>() >= static_cast<uint64_t>(kMaxVocabularySize)
                                   : value.get<int64_t>() < 0 || value.get<int64_t>() >= kMaxVocabularySize) {
      refuse(key, detail::concat("id ", json_excerpt(value), " is outside [0, ", kMaxVocabularySize, ")"));
    }
    return value.get<int32_t>();
  }
  // `object[name]`, which must be a list.
  const json& list(const json& object, const std::string& name, const std::string& key) const {
    const json& value = at(object, name, key);
    if (!value.is_array()) refuse(key, "expected a list, got " + json_excerpt(value));
    return value;
  }
  // `object[name]` as a boolean: `otherwise` when absent or null.
  bool boolean(const json& object, const std::string& name, bool otherwise, const std::string& key) const {
    if (!object.contains(name) || object.at(name).is_null()) return otherwise;
    if (!object.at(name).is_boolean()) refuse(key, "expected true or false, got " + json_excerpt(object.at(name)));
    return object.at(name).get<bool>();
  }
  // `object[name]` is absent, null or equal to `allowed` (a value this reader implements).
  void require_default(const json& object, const std::string& name, const json& allowed, const std::string& key,
                       const std::string& why) const {
    if (!object.contains(name) || object.at(name).is_null() || object.at(name) == allowed) return;
    refuse(key + "." + name, json_excerpt(object.at(name)) + " is not supported (" + why + ")");
  }

 private:
  std::string path_;
};

// A literal for a PCRE2 pattern: \Q...\E, with any \E inside split out.
std::string quote_literal(const std::string& text) {
  std::string quoted = "\\Q";
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'E') {
      quoted += "\\E\\\\\\Q";
      continue;
    }
    quoted += text[i];
  }
  return quoted + "\\E";
}

// The id of a token named by tokenizer_config.json: a string, {"content": ...}, or null (-1).
int32_t special_token_id(const json& config, const std::string& name, const std::string& config_path,
                         const std::unordered_map<std::string, int32_t>& ids) {
  if (!config.contains(name) || config.at(name).is_null()) return -1;
  const json& value = config.at(name);
  std::string content;
  if (value.is_string()) {
    content = value.get<std::string>();
  } else if (value.is_object() && value.contains("content") && value.at("content").is_string()) {
    content = value.at("content").get<std::string>();
  } else {
    throw InputError("tokenizer: '" + config_path + "', key '" + name + "': expected a string, got " + json_excerpt(value));
  }
  const auto found = ids.find(content);
  if (found == ids.end()) {
    throw InputError("tokenizer: '" + config_path + "', key '" + name + "': '" + content +
                     "' is neither an added token nor in the vocabulary of the tokenizer.json beside it");
  }
  return found->second;
}

}  // namespace

HfTokenizer HfTokenizer::load(const std::string& path) {
  try {
    return load_checked(path);
  } catch (const json::exception& e) {  // a value of the wrong type where the reader expected another
    throw InputError("tokenizer: '" + path + "': " + e.what());
  }
}

HfTokenizer HfTokenizer::load_checked(const std::string& path) {
  const json root = read_json(path);
  const Reader reader(path);

  // The model: byte-level BPE only.
  const json& model = reader.at(root, "model", "model");
  const std::string type = model.value("type", "");
  if (type != "BPE") {
    reader.refuse("model.type", "'" + type + "' is not supported (this reader implements byte-level \"BPE\"; a "
                                "SentencePiece model directory is read from its tokenizer.model)");
  }
  reader.require_default(model, "dropout", json(), "model", "dropout changes the ids from one call to the next");
  reader.require_default(model, "byte_fallback", false, "model", "byte fallback belongs to SentencePiece-style BPE");
  reader.require_default(model, "continuing_subword_prefix", "", "model", "a byte-level BPE has no subword prefix");
  reader.require_default(model, "end_of_word_suffix", "", "model", "a byte-level BPE has no end-of-word suffix");

  std::unordered_map<std::string, int32_t> spelled_ids;  // as written in the file: every token's id
  std::unordered_map<std::string, int32_t> vocab;        // raw bytes → id, byte-level pieces only
  int32_t largest_id = -1;
  const json& vocab_json = reader.at(model, "vocab", "model.vocab");
  if (!vocab_json.is_object()) reader.refuse("model.vocab", "expected an object of piece → id");
  vocab.reserve(vocab_json.size());
  for (const auto& [spelling, id_json] : vocab_json.items()) {
    const auto id = reader.token_id(id_json, "model.vocab." + text_excerpt(spelling, 40));
    largest_id = std::max(largest_id, id);
    spelled_ids[spelling] = id;
    // A piece outside GPT-2's alphabet (a special token kept in the vocabulary) is never produced by BPE.
    if (auto bytes = bytes_of_byte_level(spelling)) vocab.emplace(std::move(*bytes), id);
  }
  std::vector<std::pair<std::string, std::string>> merges;
  const json& merges_json = reader.at(model, "merges", "model.merges");
  merges.reserve(merges_json.size());
  for (size_t i = 0; i < merges_json.size(); ++i) {
    const json& merge = merges_json[i];
    std::string left, right;
    if (merge.is_string()) {  // "Ġ t"
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        reader.refuse("model.merges[" + std::to_string(i) + "]", "expected two pieces separated by one space");
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {  // ["Ġ", "t"]
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      reader.refuse("model.merges[" + std::to_string(i) + "]", "expected \"A B\" or [\"A\", \"B\"]");
    }
    auto left_bytes = bytes_of_byte_level(left), right_bytes = bytes_of_byte_level(right);
    if (!left_bytes || !right_bytes) {
      reader.refuse("model.merges[" + std::to_string(i) + "]", "a piece outside the byte-level alphabet");
    }
    merges.emplace_back(std::move(*left_bytes), std::move(*right_bytes));
  }
  HfTokenizer tokenizer(ByteLevelBpe(std::move(vocab), merges, model.value("ignore_merges", false),
                                     reader.where("model")));

  // The normalizer: none, NFC, or a Sequence of those (DeepSeek-V3's is an empty one).
  std::function<void(const json&, const std::string&)> add_normalizer = [&](const json& step, const std::string& key) {
    if (step.is_null()) return;
    const std::string type = step.value("type", "");
    if (type == "Sequence") {
      const json& steps = reader.list(step, "normalizers", key + ".normalizers");
      for (size_t i = 0; i < steps.size(); ++i) {
        add_normalizer(steps[i], key + ".normalizers[" + std::to_string(i) + "]");
      }
    } else if (type == "NFC") {
      tokenizer.nfc_ = true;
    } else {
      reader.refuse(key + ".type", "'" + type + "' is not supported (none, \"NFC\" or a \"Sequence\" of them)");
    }
  };
  if (root.contains("normalizer")) add_normalizer(root.at("normalizer"), "normalizer");

  // The pre-tokenizer: splits by pattern, in order; one ByteLevel step must be among them.
  bool byte_level = false;
  std::function<void(const json&, const std::string&)> add_step = [&](const json& step, const std::string& key) {
    const std::string step_type = step.value("type", "");
    if (step_type == "Sequence") {
      const json& steps = reader.list(step, "pretokenizers", key + ".pretokenizers");
      for (size_t i = 0; i < steps.size(); ++i) add_step(steps[i], key + ".pretokenizers[" + std::to_string(i) + "]");
    } else if (step_type == "ByteLevel") {
      byte_level = true;
      reader.require_default(step, "add_prefix_space", false, key, "a space before the text changes its ids");
      if (step.value("use_regex", true)) {
        tokenizer.splits_.push_back({std::make_shared<UnicodeRegex>(kGpt2Pattern, reader.where(key)), true, true});
      }
    } else if (step_type == "Split") {
      const json& pattern = reader.at(step, "pattern", key + ".pattern");
      std::string regex;
      if (pattern.contains("Regex")) {
        regex = pattern.at("Regex").get<std::string>();
      } else if (pattern.contains("String")) {
        regex = quote_literal(pattern.at("String").get<std::string>());
      } else {
        reader.refuse(key + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
      }
      const std::string behavior = step.value("behavior", "");
      if (behavior != "Isolated" && behavior != "Removed") {
        reader.refuse(key + ".behavior", "'" + behavior + "' is not supported (\"Isolated\" or \"Removed\")");
      }
      // The behavior applies to the delimiters: the matches, or with invert (GPT-4o) the text between them.
      // Isolated keeps both as pieces either way; Removed drops the matches, or with invert the gaps.
      const bool invert = reader.boolean(step, "invert", false, key + ".invert");
      const bool removed = behavior == "Removed";
      tokenizer.splits_.push_back({std::make_shared<UnicodeRegex>(regex, reader.where(key + ".pattern")),
                                   !(removed && !invert), !(removed && invert)});
    } else if (step_type == "Digits") {
      // Hugging Face's Digits splits at char::is_numeric: the Unicode numerals (Nd, Nl, No: "½", "²", "١٢٣"
      // too), not only ASCII ones (transformers.js's \d is ASCII only; tests/data/tokenizer_golden/variants.json).
      const char* digits = step.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+";
      tokenizer.splits_.push_back({std::make_shared<UnicodeRegex>(digits, reader.where(key)), true, true});
    } else {
      reader.refuse(key + ".type", "'" + step_type +
                                       "' is not supported (\"Sequence\", \"Split\", \"Digits\", \"ByteLevel\")");
    }
  };
  if (root.contains("pre_tokenizer") && !root.at("pre_tokenizer").is_null()) {
    add_step(root.at("pre_tokenizer"), "pre_tokenizer");
  }
  if (!byte_level) {
    reader.refuse("pre_tokenizer", "no ByteLevel step: not a byte-level BPE (a SentencePiece model directory is "
                                   "read from its tokenizer.model)");
  }

  // Added tokens, cut out of the text before anything else.
  if (root.contains("added_tokens")) {
    const json& added = root.at("added_tokens");
    for (size_t i = 0; i < added.size(); ++i) {
      const std::string key = "added_tokens[" + std::to_string(i) + "]";
      const json& token = added[i];
      for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
        reader.require_default(token, flag, false, key, "added tokens that take in the spaces around them");
      }
      AddedToken entry{reader.at(token, "content", key + ".content").get<std::string>(),
                       reader.token_id(reader.at(token, "id", key + ".id"), key + ".id"), token.value("normalized", false)};
      if (entry.content.empty()) reader.refuse(key + ".content", "empty");
      largest_id = std::max(largest_id, entry.id);
      spelled_ids[entry.content] = entry.id;
      tokenizer.added_starts_[static_cast<unsigned char>(entry.content[0])] = true;
      tokenizer.added_.push_back(std::move(entry));
    }
    std::stable_sort(tokenizer.added_.begin(), tokenizer.added_.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  }
  tokenizer.vocab_size_ = largest_id + 1;

  const std::string config_path = (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
  if (std::filesystem::exists(config_path)) {
    const json config = read_json(config_path);
    tokenizer.bos_id_ = special_token_id(config, "bos_token", config_path, spelled_ids);
    tokenizer.eos_id_ = special_token_id(config, "eos_token", config_path, spelled_ids);
    tokenizer.pad_id_ = special_token_id(config, "pad_token", config_path, spelled_ids);
  }
  return tokenizer;
}

template <typename EncodeText>
void HfTokenizer::split_added(std::string_view text, bool normalized, std::vector<int32_t>* ids,
                              EncodeText encode_next) const {
  size_t piece_begin = 0;
  size_t i = 0;
  while (i < text.size()) {
    const AddedToken* match = nullptr;
    if (!added_starts_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    for (const auto& token : added_) {  // longest first: the first that matches here is the longest
      if (token.normalized == normalized && text.compare(i, token.content.size(), token.content) == 0) {
        match = &token;
        break;
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    if (i > piece_begin) encode_next(text.substr(piece_begin, i - piece_begin));
    ids->push_back(match->id);
    i += match->content.size();
    piece_begin = i;
  }
  if (text.size() > piece_begin) encode_next(text.substr(piece_begin));
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text) const {
  const std::string valid = to_valid_utf8(text);
  std::vector<int32_t> ids;
  split_added(valid, false, &ids, [&](std::string_view piece) { encode_normalized(piece, &ids); });
  return ids;
}

void HfTokenizer::encode_normalized(std::string_view text, std::vector<int32_t>* ids) const {
  const std::string normalized = nfc_ ? to_nfc(text) : std::string(text);
  split_added(normalized, true, ids, [&](std::string_view piece) { encode_pre_tokens(piece, ids); });
}

void HfTokenizer::encode_pre_tokens(std::string_view text, std::vector<int32_t>* ids) const {
  std::vector<std::string_view> pieces = {text};
  for (const Split& split : splits_) {
    std::vector<std::string_view> next;
    for (const std::string_view piece : pieces) {
      size_t kept = 0;  // the end of what has been emitted
      for (const auto& [begin, end] : split.pattern->find_all(piece)) {
        if (begin > kept && split.keep_gaps) next.push_back(piece.substr(kept, begin - kept));
        if (split.keep_matches) next.push_back(piece.substr(begin, end - begin));
        kept = end;
      }
      if (piece.size() > kept && split.keep_gaps) next.push_back(piece.substr(kept));
    }
    pieces = std::move(next);
  }
  for (const std::string_view piece : pieces) bpe_.encode(piece, ids);
}

}  // namespace hllm::data
