#include "common/json_input.h"

#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "common/path_names.h"

namespace hllm {
namespace {

std::string nested(int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

std::string error_of(const std::string& text, const std::string& origin) {
  try {
    parse_json(text, origin);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(JsonInput, NestingUpToTheLimitIsRead) {
  EXPECT_EQ(parse_json(nested(kMaxJsonDepth), "x").dump().size(), 2 * kMaxJsonDepth + 1);
  EXPECT_EQ(parse_json(R"({"a": {"b": [1, {"c": null}]}})", "x")["a"]["b"][0], 1);
}

// A value nested 100,000 deep would overflow the stack in dump() or a copy; it is refused while parsing,
// naming where it came from.
TEST(JsonInput, DeeperNestingIsRefusedNamingTheOrigin) {
  EXPECT_EQ(error_of(nested(kMaxJsonDepth + 1), "users.jsonl:3"), "users.jsonl:3: JSON nested deeper than 64 levels");
  EXPECT_EQ(error_of("{\"a\": " + nested(100000) + "}", "c.json"), "c.json: JSON nested deeper than 64 levels");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_EQ(error_of(objects, "t.json"), "t.json: JSON nested deeper than 64 levels");
}

TEST(JsonInput, SyntaxErrorsAndOverflowingNumbersAreInputErrors) {
  EXPECT_NE(error_of("{\"name\": }", "c.json").find("c.json: not valid JSON: "), std::string::npos);
  EXPECT_NE(error_of("1e999", "c.json").find("c.json: not valid JSON: "), std::string::npos);
  std::string why;
  EXPECT_FALSE(try_parse_json("plain words", &why).has_value());
  EXPECT_EQ(why.rfind("not valid JSON: ", 0), 0u) << why;
}

// nlohmann's message quotes the last token, which can be a whole unterminated string: the refusal is cut.
TEST(JsonInput, RefusalsQuoteAShortPrefix) {
  const std::string message = error_of("\"" + std::string(2'000'000, 'a'), "big.jsonl:1");
  EXPECT_LT(message.size(), 400u) << message.size();
  EXPECT_NE(message.find("big.jsonl:1: not valid JSON"), std::string::npos);
}

TEST(JsonInput, ExcerptsCutAtCharacterBoundaries) {
  EXPECT_EQ(text_excerpt("short"), "short");
  const std::string long_text(1000, 'x');
  EXPECT_EQ(text_excerpt(long_text, 10), "xxxxxxxxxx… (1000 bytes)");
  // "é" is two bytes: a cut inside it backs up to before it.
  EXPECT_EQ(text_excerpt("abcdefghié" + long_text, 10), "abcdefghi… (1011 bytes)");
  EXPECT_EQ(json_excerpt(nlohmann::json(std::vector<int>(10000, 7)), 9), "[7,7,7,7,… (20001 bytes)");
  // Invalid UTF-8 inside a string is replaced, not thrown.
  EXPECT_EQ(json_excerpt(nlohmann::json(std::string("a\xff"))), "\"a\xEF\xBF\xBD\"");
}

TEST(PathNames, LongPartsAndPathsAreNamed) {
  EXPECT_EQ(path_problem("runs/demo"), "");
  EXPECT_EQ(path_problem(std::string(255, 'a')), "");
  EXPECT_EQ(path_problem("/tmp/" + std::string(300, 'a') + "/x"),
            "the part '" + std::string(40, 'a') + "… (300 bytes)' is 300 bytes long; a file or directory name is at "
            "most 255");
  std::string deep_path;
  for (int i = 0; i < 500; ++i) deep_path += "abcdefghi/";
  EXPECT_EQ(path_problem(deep_path), "the path is 5000 bytes long; a path is at most 4095");
  EXPECT_EQ(path_problem(std::string("a\0b", 3)), "it contains a NUL character");
  try {
    check_path(std::string(256, 'o'), "--out");
    ADD_FAILURE() << "a 256-byte name was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--out = 'oooo", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace hllm
