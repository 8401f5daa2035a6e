#include "data/input_formats.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/tokenizer.h"
#include "tests/data/data_test_util.h"

namespace hllm::data {
namespace {

using testing::TempDir;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(CsvReader, Rfc4180QuotingAcrossLines) {
  TempDir dir("csv");
  const auto path = dir.write("a.csv", "a,b,c\r\n1,\"x, y\",\"he said \"\"hi\"\"\"\n2,\"line one\nline two\",\n\n3,,z\n");
  CsvReader reader(path);
  std::vector<std::string> f;
  ASSERT_TRUE(reader.next(&f));
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(reader.next(&f));
  EXPECT_EQ(f, (std::vector<std::string>{"1", "x, y", "he said \"hi\""}));
  ASSERT_TRUE(reader.next(&f));
  EXPECT_EQ(f, (std::vector<std::string>{"2", "line one\nline two", ""}));
  EXPECT_EQ(reader.line(), 3);
  ASSERT_TRUE(reader.next(&f));
  EXPECT_EQ(f, (std::vector<std::string>{"3", "", "z"}));
  EXPECT_EQ(reader.line(), 6);
  EXPECT_FALSE(reader.next(&f));
}

TEST(CsvReader, BrokenQuoteNamesFileAndLine) {
  TempDir dir("csvbad");
  const auto path = dir.write("bad.csv", "a,b\n1,2\n3,\"never closed\n4,5\n");
  CsvReader reader(path);
  std::vector<std::string> f;
  reader.next(&f);
  reader.next(&f);
  const std::string message = error_of([&] { reader.next(&f); });
  EXPECT_NE(message.find("bad.csv:3: unterminated quoted field"), std::string::npos) << message;
  const auto path2 = dir.write("bad2.csv", "a,b\n\"x\"y,2\n");
  CsvReader reader2(path2);
  reader2.next(&f);
  const std::string message2 = error_of([&] { reader2.next(&f); });
  EXPECT_NE(message2.find("bad2.csv:2: text after the closing quote"), std::string::npos) << message2;
}

TEST(HllmCsv, ReadsInteractionsAndItems) {
  TempDir dir("hllmcsv");
  const auto inter = dir.write("i.csv", "item_id,user_id,timestamp\n10,u1,100\n11,u1,90\n10,u2,5\n");
  const auto items = dir.write("items.csv", "item_id,title,description\n10,\"Tea, green\",\"A \"\"fine\"\" tea\"\n11,Cup,\n");
  const auto catalog = read_hllm_csv(inter, items);
  ASSERT_EQ(catalog.interactions.size(), 3u);
  EXPECT_EQ(catalog.user_of(catalog.interactions[1]), "u1");
  EXPECT_EQ(catalog.item_of(catalog.interactions[1]), "11");
  EXPECT_EQ(catalog.interactions[1].timestamp, 90);
  EXPECT_EQ(catalog.text_keys, (std::vector<std::string>{"title", "description"}));
  ASSERT_EQ(catalog.items.size(), 2u);
  EXPECT_EQ(catalog.items[0].fields[0].second, "Tea, green");
  EXPECT_EQ(catalog.items[0].fields[1].second, "A \"fine\" tea");
}

TEST(HllmCsv, BadInputsSayWhatAndWhere) {
  TempDir dir("hllmcsvbad");
  const auto items = dir.write("items.csv", "item_id,title\n1,a\n");
  EXPECT_NE(error_of([&] { read_hllm_csv(dir.write("a.csv", "item_id,user_id\n1,2\n"), items); })
                .find("a.csv:1: missing column 'timestamp'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_hllm_csv(dir.write("b.csv", "item_id,user_id,timestamp\n1,2,3\n1,2,soon\n"), items); })
                .find("b.csv:3: timestamp 'soon' is not an integer"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_hllm_csv(dir.write("c.csv", "item_id,user_id,timestamp\n1,2\n"), items); })
                .find("c.csv:2: 2 fields, the header has 3"),
            std::string::npos);
  const auto inter = dir.write("d.csv", "item_id,user_id,timestamp\n1,2,3\n");
  EXPECT_NE(error_of([&] { read_hllm_csv(inter, dir.write("dup.csv", "item_id,title\n1,a\n2,b\n1,c\n")); })
                .find("dup.csv:4: duplicate item_id '1' (first on line 2)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_hllm_csv(inter, dir.file("missing.csv")); }).find("cannot open"), std::string::npos);
}

TEST(RecBole, TypedHeadersAndTabs) {
  TempDir dir("recbole");
  const auto inter = dir.write("x.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n7\t1\t4\t881250949\n");
  const auto item = dir.write("x.item", "item_id:token\tmovie_title:token_seq\tclass:token_seq\n1\tToy Story\tAnimation Comedy\n");
  const auto catalog = read_recbole(inter, item);
  ASSERT_EQ(catalog.interactions.size(), 1u);
  EXPECT_EQ(catalog.interactions[0].timestamp, 881250949);
  EXPECT_EQ(catalog.text_keys, (std::vector<std::string>{"movie_title", "class"}));
  EXPECT_EQ(catalog.items[0].fields[0].second, "Toy Story");
}

void write_gzip(const std::string& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, text.data(), static_cast<unsigned>(text.size()));
  gzclose(file);
}

TEST(Amazon2018, DuplicateMetaKeepsFirstAndHtmlBecomesText) {
  TempDir dir("amazon");
  const auto reviews = dir.file("r.json.gz");
  const auto meta = dir.file("m.json.gz");
  write_gzip(reviews, R"({"reviewerID": "A1", "asin": "B1", "unixReviewTime": 1400000000, "overall": 5.0}
{"reviewerID": "A1", "asin": "B2", "unixReviewTime": 1400000100}
)");
  write_gzip(meta, R"({"asin": "B1", "title": "<span>Bold &amp; Bright</span>", "description": ["<p>One</p>", "two"], "category": ["Mags"], "brand": "X"}
{"asin": "B1", "title": "second copy"}
{"asin": "B2", "title": "Plain"}
)");
  const auto catalog = read_amazon2018(reviews, meta);
  ASSERT_EQ(catalog.interactions.size(), 2u);
  ASSERT_EQ(catalog.items.size(), 2u);
  EXPECT_EQ(catalog.items[0].fields[0].second, "Bold & Bright");
  EXPECT_EQ(catalog.items[0].fields[1].second, "One two");
  EXPECT_EQ(catalog.items[0].fields[2].second, "Mags");
  const auto bad = dir.file("bad.json.gz");
  write_gzip(bad, "{\"reviewerID\": \"A1\", \"asin\": \"B1\"}\n");
  EXPECT_NE(error_of([&] { read_amazon2018(bad, meta); }).find("bad.json.gz:1: 'unixReviewTime' missing"),
            std::string::npos);
}

TEST(TextCleanup, TimestampsAndHtml) {
  EXPECT_EQ(parse_timestamp("881250949.0", "x"), 881250949);
  EXPECT_THROW(parse_timestamp("1.5", "x"), InputError);
  EXPECT_THROW(parse_timestamp("", "x"), InputError);
  EXPECT_EQ(html_to_text("  <b>a</b>\n&lt;b&gt;  c&nbsp;d "), "a <b> c d");
}


TEST(Tokenizer, Stories260kGoldenEncoding) {
  const std::string model = testing::shared_data_dir() + "/../models/stories260K/tok512.model";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "skipped: " << model << " is absent";
  const auto tokenizer = Tokenizer::load(model);
  EXPECT_EQ(tokenizer.vocab_size(), 512);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  std::vector<int32_t> ids = {tokenizer.bos_id()};
  const auto text = tokenizer.encode("Once upon a time");
  ids.insert(ids.end(), text.begin(), text.end());
  // REFERENCE.md: SentencePiece encode("Once upon a time") with BOS = [1, 403, 407, 261, 378].
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 403, 407, 261, 378}));
}

TEST(Tokenizer, HuggingFaceDirectoryAndBadPaths) {
  const std::string model = testing::shared_data_dir() + "/../models/stories260K/tok512.model";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "skipped: " << model << " is absent";
  TempDir dir("hfdir");
  std::filesystem::copy_file(model, dir.file("tokenizer.model"));
  EXPECT_EQ(Tokenizer::load(dir.file("")).vocab_size(), 512);
  TempDir empty("hfempty");
  EXPECT_THROW(Tokenizer::load(empty.file("")), InputError);
  EXPECT_THROW(Tokenizer::load(empty.write("x.model", "not a model")), InputError);
}

}  // namespace
}  // namespace hllm::data
