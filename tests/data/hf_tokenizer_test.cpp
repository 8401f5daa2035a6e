// The tokenizer.json reader: a tiny hand-made byte-level BPE for each rule, and the real Llama-3 and Qwen3
// tokenizers against ids written by an implementation that is not ours (tests/data/tokenizer_golden).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/byte_level_bpe.h"
#include "data/hf_tokenizer.h"
#include "data/tokenizer.h"
#include "data_test_util.h"

namespace hllm::data {
namespace {

using nlohmann::json;
using testing::TempDir;

// GPT-2's spelling of one byte, written out here independently of the reader.
std::string spell(unsigned char byte) {
  int code_point = byte;
  const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
  if (!printable) {
    int rank = 0;
    for (int b = 0; b < byte; ++b) {
      if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) ++rank;
    }
    code_point = 256 + rank;
  }
  std::string text;
  if (code_point < 0x80) {
    text.push_back(static_cast<char>(code_point));
  } else {
    text.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    text.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
  return text;
}

std::string spell(const std::string& bytes) {
  std::string text;
  for (const char c : bytes) text += spell(static_cast<unsigned char>(c));
  return text;
}

// Ids 0-255: the bytes; then "ab" 256, "abc" 257, "bc" 258, " a" 259, "é" 260, "aa" 261, "ca" 262 (no merge
// makes it). Added: "<s>" 300, "<s><s>" 301, "<sep>" 302 (normalized).
json tiny_tokenizer() {
  json vocab = json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[spell(static_cast<unsigned char>(byte))] = byte;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"a", "b"}, {"ab", "c"}, {"b", "c"}, {" ", "a"}, {"\xC3", "\xA9"}, {"a", "a"}};
  json merges_json = json::array();
  int id = 256;
  for (const auto& [left, right] : merges) {
    merges_json.push_back(spell(left) + " " + spell(right));
    vocab[spell(left + right)] = id++;
  }
  vocab[spell("ca")] = id;
  const auto added = [](const std::string& content, int token_id, bool normalized) {
    return json{{"id", token_id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", normalized}, {"special", true}};
  };
  return json{
      {"version", "1.0"},
      {"added_tokens", {added("<s>", 300, false), added("<s><s>", 301, false), added("<sep>", 302, true)}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", R"('s|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", merges_json}}}};
}

std::string write_json(const TempDir& dir, const std::string& name, const json& value) {
  return dir.write(name, value.dump());
}

// The InputError message of loading `tokenizer`, "" if it loads.
std::string load_error(const json& tokenizer) {
  TempDir dir("hf-bad");
  try {
    HfTokenizer::load(write_json(dir, "tokenizer.json", tokenizer));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ByteLevel, SpellingIsUndoneForEveryByte) {
  for (int byte = 0; byte < 256; ++byte) {
    const auto bytes = bytes_of_byte_level(spell(static_cast<unsigned char>(byte)));
    ASSERT_TRUE(bytes.has_value()) << byte;
    EXPECT_EQ(*bytes, std::string(1, static_cast<char>(byte)));
  }
  EXPECT_EQ(*bytes_of_byte_level("\xC4\xA0hello\xC4\x8A"), " hello\n");  // "Ġhello\u010A"
  EXPECT_FALSE(bytes_of_byte_level("<|begin_of_text|>\xE2\x80\x94").has_value());  // an em dash is outside
}

TEST(HfTokenizer, MergesByRankLeftmostFirst) {
  TempDir dir("hf-merges");
  const auto tokenizer = HfTokenizer::load(write_json(dir, "tokenizer.json", tiny_tokenizer()));
  EXPECT_EQ(tokenizer.encode("abc"), (std::vector<int32_t>{257}));  // a+b (rank 0), then ab+c (rank 1)
  EXPECT_EQ(tokenizer.encode("bc"), (std::vector<int32_t>{258}));
  EXPECT_EQ(tokenizer.encode("aaa"), (std::vector<int32_t>{261, 'a'}));  // the leftmost pair of a rank first
  EXPECT_EQ(tokenizer.encode("ca"), (std::vector<int32_t>{'c', 'a'}));   // "ca" is in the vocabulary, no merge
  EXPECT_EQ(tokenizer.encode("x a"), (std::vector<int32_t>{'x', 259}));  // the pre-tokenizer keeps " a" whole
  EXPECT_EQ(tokenizer.encode(""), (std::vector<int32_t>{}));
  EXPECT_EQ(tokenizer.vocab_size(), 303);
  EXPECT_EQ(tokenizer.bos_id(), -1);  // no tokenizer_config.json
}

TEST(HfTokenizer, LongPiecesMergeLikeShortOnes) {
  TempDir dir("hf-long");
  const auto tokenizer = HfTokenizer::load(write_json(dir, "tokenizer.json", tiny_tokenizer()));
  // One pre-token of 200,001 letters (no space to split at): pairs from the left, the odd one out last. A
  // quadratic merge loop would take hours here; ctest's timeout would fail it.
  const std::vector<int32_t> ids = tokenizer.encode(std::string(200001, 'a'));
  ASSERT_EQ(ids.size(), 100001u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 261), 100000);
  EXPECT_EQ(ids.back(), 'a');
  // a+b (rank 0) at both places, then ab+c (rank 1), then the a+a (rank 5) that is left; the same rules on
  // the heap's side of ByteLevelBpe::kShortPiece (20 copies in one piece merge as 20 short ones).
  const std::vector<int32_t> unit = {'a', 257, 261, 257};
  EXPECT_EQ(tokenizer.encode("aabcaaabc"), unit);
  std::string text;
  std::vector<int32_t> want;
  for (int i = 0; i < 20; ++i) {
    text += "aabcaaabc";
    want.insert(want.end(), unit.begin(), unit.end());
  }
  ASSERT_GT(text.size(), ByteLevelBpe::kShortPiece);
  EXPECT_EQ(tokenizer.encode(text), want);
}

TEST(HfTokenizer, IgnoreMergesTakesWholePiecesFromTheVocabulary) {
  TempDir dir("hf-ignore");
  json file = tiny_tokenizer();
  file["model"]["ignore_merges"] = true;
  const auto tokenizer = HfTokenizer::load(write_json(dir, "tokenizer.json", file));
  EXPECT_EQ(tokenizer.encode("ca"), (std::vector<int32_t>{262}));
  EXPECT_EQ(tokenizer.encode("abc"), (std::vector<int32_t>{257}));
}

TEST(HfTokenizer, AddedTokensLongestAtTheLeftmostPosition) {
  TempDir dir("hf-added");
  const auto tokenizer = HfTokenizer::load(write_json(dir, "tokenizer.json", tiny_tokenizer()));
  EXPECT_EQ(tokenizer.encode("x<s><s>y"), (std::vector<int32_t>{'x', 301, 'y'}));
  EXPECT_EQ(tokenizer.encode("<s><s><s>"), (std::vector<int32_t>{301, 300}));
  EXPECT_EQ(tokenizer.encode("ab<sep>c"), (std::vector<int32_t>{256, 302, 'c'}));
  EXPECT_EQ(tokenizer.encode("<s"), (std::vector<int32_t>{'<', 's'}));
}

TEST(HfTokenizer, NfcNormalizerComposesBeforeMerging) {
  TempDir dir("hf-nfc");
  json file = tiny_tokenizer();
  const std::string decomposed = "e\xCC\x81";  // e + combining acute
  EXPECT_EQ(HfTokenizer::load(write_json(dir, "plain.json", file)).encode(decomposed),
            (std::vector<int32_t>{'e', 0xCC, 0x81}));
  file["normalizer"] = {{"type", "NFC"}};
  const auto nfc = HfTokenizer::load(write_json(dir, "nfc.json", file));
  EXPECT_EQ(nfc.encode(decomposed), (std::vector<int32_t>{260}));
  EXPECT_EQ(nfc.encode("\xC3\xA9"), (std::vector<int32_t>{260}));
}

TEST(HfTokenizer, IllFormedUtf8BecomesReplacementCharacters) {
  TempDir dir("hf-utf8");
  const auto tokenizer = HfTokenizer::load(write_json(dir, "tokenizer.json", tiny_tokenizer()));
  EXPECT_EQ(tokenizer.encode("a\xFF" "b"), tokenizer.encode("a\xEF\xBF\xBD" "b"));
  EXPECT_EQ(tokenizer.encode("\xE2\x82"), tokenizer.encode("\xEF\xBF\xBD"));  // one per maximal subpart
}

TEST(HfTokenizer, SpecialTokensFromTokenizerConfig) {
  TempDir dir("hf-config");
  const std::string path = write_json(dir, "tokenizer.json", tiny_tokenizer());
  write_json(dir, "tokenizer_config.json",
             json{{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}}, {"eos_token", "<sep>"},
                  {"pad_token", nullptr}});
  const auto tokenizer = HfTokenizer::load(path);
  EXPECT_EQ(tokenizer.bos_id(), 300);
  EXPECT_EQ(tokenizer.eos_id(), 302);
  EXPECT_EQ(tokenizer.pad_id(), -1);
  write_json(dir, "tokenizer_config.json", json{{"eos_token", "</s>"}});
  try {
    HfTokenizer::load(path);
    FAIL() << "an unknown EOS token was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json', key 'eos_token': '</s>'"), std::string::npos)
        << e.what();
  }
}

TEST(HfTokenizer, WhatItCannotHonourIsRefusedNamingTheKey) {
  json file = tiny_tokenizer();
  file["model"]["type"] = "WordPiece";
  EXPECT_NE(load_error(file).find("key 'model.type': 'WordPiece' is not supported"), std::string::npos);
  file = tiny_tokenizer();
  file["model"]["byte_fallback"] = true;
  EXPECT_NE(load_error(file).find("key 'model.byte_fallback'"), std::string::npos);
  file = tiny_tokenizer();
  file["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_NE(load_error(file).find("key 'normalizer.type': 'Lowercase'"), std::string::npos);
  file = tiny_tokenizer();
  file["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{"a", 1}}}};
  EXPECT_NE(load_error(file).find("key 'normalizer.normalizers': expected a list"), std::string::npos);
  file = tiny_tokenizer();
  file["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFKC"}}})}};
  EXPECT_NE(load_error(file).find("key 'normalizer.normalizers[0].type': 'NFKC'"), std::string::npos);
  file = tiny_tokenizer();
  file["pre_tokenizer"]["pretokenizers"] = {{"x", 1}};
  EXPECT_NE(load_error(file).find("key 'pre_tokenizer.pretokenizers': expected a list"), std::string::npos);
  file = tiny_tokenizer();
  file["pre_tokenizer"]["pretokenizers"][0] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Removed"},
                                                {"invert", "yes"}};
  EXPECT_NE(load_error(file).find("key 'pre_tokenizer.pretokenizers[0].invert': expected true or false"),
            std::string::npos);
  file = tiny_tokenizer();
  file["pre_tokenizer"]["pretokenizers"][0] = {{"type", "Metaspace"}};
  EXPECT_NE(load_error(file).find("key 'pre_tokenizer.pretokenizers[0].type': 'Metaspace'"), std::string::npos);
  file = tiny_tokenizer();
  file["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Isolated"}};
  EXPECT_NE(load_error(file).find("no ByteLevel step"), std::string::npos);
  file = tiny_tokenizer();
  file["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  EXPECT_NE(load_error(file).find("pretokenizers[0].pattern': the pattern does not compile"), std::string::npos);
  file = tiny_tokenizer();
  file["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithNext";
  EXPECT_NE(load_error(file).find("behavior': 'MergedWithNext' is not supported"), std::string::npos);
  file = tiny_tokenizer();
  file["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true;
  EXPECT_NE(load_error(file).find("pretokenizers[1].add_prefix_space"), std::string::npos);
  file = tiny_tokenizer();
  file["added_tokens"][1]["lstrip"] = true;
  EXPECT_NE(load_error(file).find("key 'added_tokens[1].lstrip'"), std::string::npos);
  file = tiny_tokenizer();
  file["model"]["vocab"].erase(spell('\n'));
  EXPECT_NE(load_error(file).find("no piece for byte 0xa"), std::string::npos);
  file = tiny_tokenizer();
  file["model"]["merges"].push_back(spell("x") + " " + spell("y"));
  EXPECT_NE(load_error(file).find("merge 6 uses or makes a piece that is not in the vocabulary"), std::string::npos);
  file = tiny_tokenizer();
  file["model"]["merges"][0] = "a";
  EXPECT_NE(load_error(file).find("key 'model.merges[0]'"), std::string::npos);
  file = tiny_tokenizer();
  file["added_tokens"][0]["id"] = "three hundred";
  EXPECT_NE(load_error(file).find("tokenizer: '"), std::string::npos);  // an InputError naming the file
  TempDir dir("hf-notjson");
  EXPECT_THROW(HfTokenizer::load(dir.write("tokenizer.json", "{\"model\": ")), InputError);
}

TEST(Tokenizer, ModelDirectoryWithOnlyTokenizerJson) {
  TempDir dir("hf-dir");
  write_json(dir, "tokenizer.json", tiny_tokenizer());
  write_json(dir, "tokenizer_config.json", json{{"bos_token", "<s>"}});
  const auto tokenizer = Tokenizer::load(dir.file(""));
  EXPECT_EQ(tokenizer.kind(), "tokenizer.json (byte-level BPE)");
  EXPECT_EQ(tokenizer.bos_id(), 300);
  const auto files = tokenizer.files().files;
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "tokenizer.json");
  EXPECT_EQ(files[1].name, "tokenizer_config.json");
  EXPECT_EQ(tokenizer.encode("abc"), (std::vector<int32_t>{257}));
}

// Every string of tests/data/tokenizer_golden/NAME.jsonl gives the ids transformers.js gave it.
void expect_golden_ids(const std::string& name) {
  const std::string directory = testing::shared_data_dir() + "/../models/" + name + "-tokenizer";
  if (!std::filesystem::exists(directory + "/tokenizer.json")) GTEST_SKIP() << "skipped: " << directory << " is absent";
  const auto tokenizer = Tokenizer::load(directory);
  std::ifstream golden(std::string(HLLM_SOURCE_DIR) + "/tests/data/tokenizer_golden/" + name + ".jsonl");
  ASSERT_TRUE(golden.good());
  std::string line;
  int strings = 0, mismatches = 0;
  while (std::getline(golden, line)) {
    const json entry = json::parse(line);
    const auto want = entry.at("ids").get<std::vector<int32_t>>();
    const auto got = tokenizer.encode(entry.at("text").get<std::string>());
    ++strings;
    if (got != want && ++mismatches <= 5) ADD_FAILURE() << "ids differ for " << entry.at("text").dump();
  }
  EXPECT_GE(strings, 300);
  EXPECT_EQ(mismatches, 0) << "of " << strings << " strings";
}

TEST(HfTokenizerGolden, Llama3) {
  expect_golden_ids("llama3");
  if (::testing::Test::IsSkipped()) return;
  const std::string directory = testing::shared_data_dir() + "/../models/llama3-tokenizer";
  const auto tokenizer = Tokenizer::load(directory);
  EXPECT_EQ(tokenizer.vocab_size(), 128256);
  EXPECT_EQ(tokenizer.bos_id(), 128000);  // <|begin_of_text|>
  EXPECT_EQ(tokenizer.eos_id(), 128001);  // <|end_of_text|>
  EXPECT_EQ(tokenizer.pad_id(), -1);
}

// Pre-tokenizers no shipped fixture uses, on Llama-3's vocabulary (tests/data/tokenizer_golden/variants.json):
// ByteLevel with use_regex true (GPT-2's pattern), Digits (Unicode numerals, as Hugging Face's Rust splits
// them) in both modes, and the published GPT-4o (an inverted Split) and DeepSeek-V3 (a Sequence normalizer)
// ones; the ids from transformers.js loading the same tokenizer.json (generate.sh).
TEST(HfTokenizerGolden, PreTokenizerVariantsOfLlama3) {
  const std::string base = testing::shared_data_dir() + "/../models/llama3-tokenizer/tokenizer.json";
  if (!std::filesystem::exists(base)) GTEST_SKIP() << "skipped: " << base << " is absent";
  const std::string golden = std::string(HLLM_SOURCE_DIR) + "/tests/data/tokenizer_golden/";
  const json variants = json::parse(std::ifstream(golden + "variants.json"));
  json file = json::parse(std::ifstream(base));
  TempDir dir("hf-variants");
  for (const auto& [name, variant] : variants.items()) {
    SCOPED_TRACE(name);
    file["pre_tokenizer"] = variant.at("pre_tokenizer");
    file["normalizer"] = variant.value("normalizer", json());
    const auto tokenizer = HfTokenizer::load(dir.write(name + ".json", file.dump()));
    std::ifstream lines(golden + name + ".jsonl");
    ASSERT_TRUE(lines.good());
    std::string line;
    int strings = 0, mismatches = 0;
    while (std::getline(lines, line)) {
      const json entry = json::parse(line);
      ++strings;
      if (tokenizer.encode(entry.at("text").get<std::string>()) != entry.at("ids").get<std::vector<int32_t>>() &&
          ++mismatches <= 5) {
        ADD_FAILURE() << "ids differ for " << entry.at("text").dump();
      }
    }
    EXPECT_GE(strings, 300);
    EXPECT_EQ(mismatches, 0) << "of " << strings << " strings";
  }
}

TEST(HfTokenizerGolden, Qwen3) {
  expect_golden_ids("qwen3");
  if (::testing::Test::IsSkipped()) return;
  const auto tokenizer = Tokenizer::load(testing::shared_data_dir() + "/../models/qwen3-tokenizer");
  EXPECT_EQ(tokenizer.vocab_size(), 151669);
  EXPECT_EQ(tokenizer.bos_id(), -1);      // Qwen has none
  EXPECT_EQ(tokenizer.eos_id(), 151645);  // <|im_end|>
  EXPECT_EQ(tokenizer.pad_id(), 151643);  // <|endoftext|>
}

}  // namespace
}  // namespace hllm::data
