#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "data/dataset.h"
#include "data/dataset_builder.h"
#include "data/dataset_writer.h"
#include "data/hdf5_file.h"
#include "data/input_formats.h"
#include "data/synthetic_catalog.h"
#include "data/tokenizer.h"
#include "tests/data/data_test_util.h"

namespace hllm::data {
namespace {

using testing::TempDir;

// u1: a b c d, u2: a b c, u3: a d, u4: e (item counts a3 b2 c2 d2 e1).
RawCatalog kcore_fixture() {
  RawCatalog catalog;
  catalog.source = "test";
  catalog.text_keys = {"title"};
  for (const char* id : {"a", "b", "c", "d", "e"}) catalog.items.push_back({id, {{"title", std::string("item ") + id}}});
  int64_t t = 0;
  for (const auto& [user, items] : std::vector<std::pair<std::string, std::string>>{
           {"u1", "abcd"}, {"u2", "abc"}, {"u3", "ad"}, {"u4", "e"}}) {
    for (const char item : items) catalog.add_interaction(user, std::string(1, item), ++t);
  }
  return catalog;
}

TEST(DatasetBuilder, SinglePassKcoreMatchesHandCount) {
  BuildOptions options;
  options.min_user_inter = 3;
  options.min_item_inter = 2;
  const auto built = build_dataset(kcore_fixture(), options);
  EXPECT_EQ(built.counts.interactions_removed_by_kcore, 3);
  EXPECT_EQ(built.counts.kcore_rounds, 1);
  EXPECT_EQ(built.counts.users, 2);
  EXPECT_EQ(built.counts.items, 4);
  EXPECT_EQ(built.counts.interactions, 7);
  EXPECT_EQ(built.item_ids, (std::vector<std::string>{"", "a", "b", "c", "d"}));
  EXPECT_EQ(built.user_items[0], (std::vector<int32_t>{1, 2, 3, 4}));
}

// HLLM's recipe drops, after the pass, a user whom the item threshold left short: u5 reads a b c f, f is
// rare, so u5 keeps 3 rows < 4 and goes (a single pass alone would keep u5's a b c).
TEST(DatasetBuilder, SinglePassDropsUsersLeftShortAsHllmDoes) {
  RawCatalog catalog = kcore_fixture();
  catalog.items.push_back({"f", {{"title", "item f"}}});
  int64_t t = 100;
  for (const char* item : {"a", "b", "c", "f"}) catalog.add_interaction("u5", item, ++t);
  BuildOptions options;
  options.min_user_inter = 4;
  options.min_item_inter = 2;
  const auto built = build_dataset(catalog, options);
  EXPECT_EQ(built.counts.users, 1);  // u1
  EXPECT_EQ(built.counts.interactions, 4);
  EXPECT_EQ(built.counts.interactions_removed_by_kcore, 14 - 4);
  EXPECT_EQ(built.counts.kcore_rounds, 1);
}

TEST(DatasetBuilder, IterativeKcoreRunsUntilStable) {
  BuildOptions options;
  options.min_user_inter = 3;
  options.min_item_inter = 2;
  options.iterative_kcore = true;
  const auto built = build_dataset(kcore_fixture(), options);
  // Round 2 drops d (now 1 interaction); round 3 changes nothing.
  EXPECT_EQ(built.counts.kcore_rounds, 3);
  EXPECT_EQ(built.counts.interactions, 6);
  EXPECT_EQ(built.counts.items, 3);
}

TEST(DatasetBuilder, ShortUsersDroppedTiesKeepSourceOrderTextsFollowKeys) {
  RawCatalog catalog = kcore_fixture();
  catalog.text_keys = {"title", "brand"};
  catalog.items[0].fields.push_back({"brand", "Acme"});
  // u2's three interactions at the same time: source order decides.
  for (auto& row : catalog.interactions) {
    if (catalog.user_of(row) == "u2") row.timestamp = 50;
  }
  const auto built = build_dataset(catalog, {});
  EXPECT_EQ(built.counts.users_too_short, 2);  // u3 (2), u4 (1)
  EXPECT_EQ(built.user_ids, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(built.user_items[1], (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(built.item_texts[1], "title: item a brand: Acme");
  BuildOptions brand_only;
  brand_only.text_keys = {"brand"};
  brand_only.allow_empty_text = true;  // only "a" has a brand
  EXPECT_EQ(build_dataset(catalog, brand_only).item_texts[1], "brand: Acme");
  brand_only.text_keys = {"color"};
  EXPECT_THROW(build_dataset(catalog, brand_only), InputError);
}

TEST(DatasetBuilder, ColdItemsLeaveTheTrainingPartsOnly) {
  RawCatalog catalog = kcore_fixture();  // first seen: a 1, b 2, c 3, d 4, e 10
  int64_t t = 10;
  for (const char item : std::string("dabc")) catalog.add_interaction("u5", std::string(1, item), ++t);
  BuildOptions options;
  options.cold_after = 4;  // d and e
  const auto built = build_dataset(catalog, options);
  EXPECT_EQ(built.user_ids, (std::vector<std::string>{"u1", "u2", "u5"}));
  EXPECT_EQ(built.user_items[0], (std::vector<int32_t>{1, 2, 3, 4})) << "u1's d is its test target: kept";
  EXPECT_EQ(built.user_items[2], (std::vector<int32_t>{1, 2, 3})) << "u5's d was in its training part";
  EXPECT_EQ(built.user_timestamps[2], (std::vector<int64_t>{12, 13, 14}));
  EXPECT_EQ(built.item_ids, (std::vector<std::string>{"", "a", "b", "c", "d"})) << "e is nobody's target: gone";
  EXPECT_EQ(built.item_cold, (std::vector<uint8_t>{0, 0, 0, 0, 1}));
  EXPECT_EQ(built.counts.cold_items, 1);
  EXPECT_EQ(built.counts.interactions_removed_as_cold, 1);
  EXPECT_TRUE(build_dataset(catalog, {}).item_cold.empty()) << "no cold rule: no cold array";
  options.cold_after = 0;  // every item
  EXPECT_THROW(build_dataset(catalog, options), InputError);
}

TEST(DatasetBuilder, HashedShareOfItemsIsStableAndAboutTheFraction) {
  int in = 0;
  for (int i = 0; i < 20000; ++i) in += in_hashed_share("item" + std::to_string(i), 0.1) ? 1 : 0;
  EXPECT_NEAR(in / 20000.0, 0.1, 0.01);
  EXPECT_FALSE(in_hashed_share("item7", 0.0));
  EXPECT_EQ(in_hashed_share("B00ABC", 0.5), in_hashed_share("B00ABC", 0.5));
  for (int i = 0; i < 100; ++i) {  // a larger share holds every item of a smaller one
    const std::string id = "x" + std::to_string(i);
    if (in_hashed_share(id, 0.2)) {
      EXPECT_TRUE(in_hashed_share(id, 0.3)) << id;
    }
  }
}

TEST(DatasetBuilder, ItemsWithoutMetadataPolicy) {
  RawCatalog catalog = kcore_fixture();
  catalog.items.erase(catalog.items.begin());  // "a" has no metadata
  const auto dropped = build_dataset(catalog, {});
  EXPECT_EQ(dropped.counts.interactions_without_metadata, 3);
  EXPECT_EQ(dropped.counts.items, 3);  // b c d (u3 is left with d only, too short)
  BuildOptions keep;
  keep.keep_items_without_metadata = true;
  const auto kept = build_dataset(catalog, keep);
  EXPECT_EQ(kept.counts.items, 4);
  EXPECT_EQ(kept.item_texts[1], "");
}

TEST(DatasetBuilder, EmptyTextIsAnErrorUnlessAllowed) {
  RawCatalog catalog = kcore_fixture();
  catalog.items[1].fields[0].second = "";  // "b" has metadata but no title
  try {
    build_dataset(catalog, {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("1 item(s) have no text under --text_keys title (the first is 'b')"),
              std::string::npos)
        << e.what();
  }
  BuildOptions allow;
  allow.allow_empty_text = true;
  EXPECT_EQ(build_dataset(catalog, allow).counts.items_with_empty_text, 1);
}

TEST(DatasetBuilder, NothingLeftIsAnError) {
  BuildOptions options;
  options.min_user_inter = 100;
  try {
    build_dataset(kcore_fixture(), options);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no user is left after filtering"), std::string::npos);
  }
}

TEST(SortIds, NumericWhenAllAreIntegers) {
  std::vector<std::string> ids = {"10", "9", "100"};
  sort_ids(&ids);
  EXPECT_EQ(ids, (std::vector<std::string>{"9", "10", "100"}));
  ids = {"10", "9", "x"};
  sort_ids(&ids);
  EXPECT_EQ(ids, (std::vector<std::string>{"10", "9", "x"}));
}

TEST(SyntheticCatalog, SameOptionsSameCatalog) {
  const auto options = parse_synthetic_options("users=50,items=40,seed=7");
  const auto a = make_synthetic_catalog(options);
  const auto b = make_synthetic_catalog(options);
  ASSERT_EQ(a.interactions.size(), b.interactions.size());
  for (size_t i = 0; i < a.interactions.size(); ++i) {
    EXPECT_EQ(a.item_of(a.interactions[i]), b.item_of(b.interactions[i]));
    EXPECT_EQ(a.interactions[i].timestamp, b.interactions[i].timestamp);
  }
  EXPECT_EQ(a.items.size(), 40u);
  EXPECT_GE(a.interactions.size(), 50u * 5);
  const auto other = make_synthetic_catalog(parse_synthetic_options("users=50,items=40,seed=8"));
  bool differs = false;
  for (size_t i = 0; i < std::min(a.interactions.size(), other.interactions.size()); ++i) {
    differs = differs || a.item_of(a.interactions[i]) != other.item_of(other.interactions[i]);
  }
  EXPECT_TRUE(differs);
  EXPECT_THROW(parse_synthetic_options("users=5,items=x"), InputError);
  EXPECT_THROW(parse_synthetic_options("people=5"), InputError);
}

// Prepares `catalog` into dir/name with a tokenizer trained on its texts.
std::string prepare(const TempDir& dir, const std::string& name, const RawCatalog& catalog, int shards) {
  const auto built = build_dataset(catalog, {});
  Tokenizer::train(built.item_texts, 200, dir.file(name + ".model"));
  const auto tokenizer = Tokenizer::load(dir.file(name + ".model"));
  WriteOptions options;
  options.num_shards = shards;
  options.max_text_len = 6;
  write_dataset(dir.file(name), built, tokenizer.files(), options);
  return dir.file(name);
}

TEST(DatasetFiles, RoundTripThroughHdf5) {
  TempDir dir("roundtrip");
  const auto catalog = make_synthetic_catalog(parse_synthetic_options("users=30,items=25,seed=3"));
  const auto built = build_dataset(catalog, {});
  const auto path = prepare(dir, "ds", catalog, 3);
  const auto dataset = Dataset::open(path);
  EXPECT_NO_THROW(dataset.verify());
  EXPECT_EQ(dataset.num_users(), 30);
  EXPECT_EQ(dataset.num_items(), built.counts.items);
  std::vector<UserSequence> users;
  for (int s = 0; s < 3; ++s) {
    for (auto& user : dataset.read_shard(s)) users.push_back(std::move(user));
  }
  ASSERT_EQ(users.size(), built.user_ids.size());
  for (size_t u = 0; u < users.size(); ++u) {
    EXPECT_EQ(users[u].id, built.user_ids[u]);
    EXPECT_EQ(users[u].items, built.user_items[u]);
    EXPECT_EQ(users[u].timestamps, built.user_timestamps[u]);
  }
  const auto tokens = dataset.read_item_tokens();
  const auto tokenizer = Tokenizer::load(dataset.path_of("tokenizer.model"));
  ASSERT_EQ(tokens.size(), built.item_texts.size());
  EXPECT_TRUE(tokens[0].empty());
  for (size_t i = 1; i < tokens.size(); ++i) {
    auto expected = tokenizer.encode(built.item_texts[i]);
    expected.resize(std::min<size_t>(expected.size(), 6));
    EXPECT_EQ(tokens[i], expected) << "item " << i;
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp-" + std::to_string(::getpid())));
}

TEST(DatasetFiles, ExistingOutputIsRefusedUnlessOverwrite) {
  TempDir dir("exists");
  const auto catalog = make_synthetic_catalog(parse_synthetic_options("users=10,items=10,seed=1"));
  const auto path = prepare(dir, "ds", catalog, 1);
  EXPECT_THROW(prepare(dir, "ds", catalog, 1), InputError);
}

TEST(DatasetFiles, DamageIsReportedWithTheFile) {
  TempDir dir("damage");
  const auto catalog = make_synthetic_catalog(parse_synthetic_options("users=20,items=20,seed=2"));
  const auto path = prepare(dir, "ds", catalog, 2);
  const std::string items = path + "/items.h5";
  // Truncated: open() sees the size differ from meta.json.
  const auto size = std::filesystem::file_size(items);
  std::filesystem::resize_file(items, size / 2);
  try {
    Dataset::open(path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("items.h5"), std::string::npos) << e.what();
  }
  // Same size, flipped byte: verify() sees the checksum.
  const auto path2 = prepare(dir, "ds2", catalog, 2);
  {
    std::fstream f(path2 + "/users-00001-of-00002.h5", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-20, std::ios::end);
    f.put('\x5a');
  }
  const auto dataset = Dataset::open(path2);
  try {
    dataset.verify();
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("users-00001-of-00002.h5"), std::string::npos) << e.what();
  }
  // A truncated HDF5 file read directly (no meta.json check) is still an error naming it.
  std::filesystem::resize_file(items, 100);
  try {
    Hdf5File file(items, Hdf5File::Mode::kRead);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("items.h5"), std::string::npos) << e.what();
  }
}

TEST(DatasetFiles, WrongFormatVersionIsRefused) {
  TempDir dir("version");
  const auto catalog = make_synthetic_catalog(parse_synthetic_options("users=10,items=10,seed=1"));
  const auto path = prepare(dir, "ds", catalog, 1);
  std::ifstream in(path + "/meta.json");
  auto meta = nlohmann::json::parse(in);
  meta["format_version"] = 99;
  std::ofstream(path + "/meta.json") << meta.dump();
  try {
    Dataset::open(path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("format version 99"), std::string::npos) << e.what();
  }
}

TEST(RealData, MovieLens100kCounts) {
  const std::string dir = testing::shared_data_dir() + "/ml-100k";
  if (!std::filesystem::exists(dir + "/ml-100k.inter")) GTEST_SKIP() << "skipped: " << dir << " is absent";
  const auto catalog = read_recbole(dir + "/ml-100k.inter", dir + "/ml-100k.item");
  const auto built = build_dataset(catalog, {});
  EXPECT_EQ(built.counts.input_interactions, 100000);
  EXPECT_EQ(built.counts.input_users, 943);
  EXPECT_EQ(built.counts.users, 943);
  EXPECT_EQ(built.counts.items, 1682);
  EXPECT_EQ(built.counts.interactions, 100000);
}

TEST(RealData, AmazonMagazineCounts) {
  const std::string dir = testing::shared_data_dir() + "/amazon-magazine-2018";
  if (!std::filesystem::exists(dir + "/Magazine_Subscriptions_5.json.gz")) {
    GTEST_SKIP() << "skipped: " << dir << " is absent";
  }
  const auto catalog =
      read_amazon2018(dir + "/Magazine_Subscriptions_5.json.gz", dir + "/meta_Magazine_Subscriptions.json.gz");
  EXPECT_EQ(catalog.interactions.size(), 2375u);
  EXPECT_EQ(catalog.items.size(), 2320u);  // 3,385 metadata lines, duplicates keep the first
  const auto built = build_dataset(catalog, {});
  EXPECT_EQ(built.counts.input_users, 348);
  EXPECT_EQ(built.counts.items, 151);  // reviewed items that have metadata
}

}  // namespace
}  // namespace hllm::data
