#include "data/item_embedding_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "data/hdf5_file.h"
#include "data/user_histories_file.h"
#include "tests/data/data_test_util.h"

namespace hllm::data {
namespace {

using testing::TempDir;

ItemEmbeddingTable small_table() {
  ItemEmbeddingTable table;
  table.dim = 3;
  table.ids = {"a", "b", "new"};
  table.dataset_index = {1, 2, 0};
  table.num_dataset_items = 2;
  table.embeddings = {0.5f, -1.0f, 2.0f, 3.0f, 0.0f, 1e-7f, -4.0f, 5.5f, 6.25f};
  return table;
}

TEST(ItemEmbeddingFile, RoundTripsAndReadsRowsByHyperslab) {
  const TempDir dir("embeddings");
  const ItemEmbeddingTable table = small_table();
  write_item_embeddings(dir.file("t.h5"), table);
  const ItemEmbeddingTable back = read_item_embeddings(dir.file("t.h5"));
  EXPECT_EQ(back.dim, 3);
  EXPECT_EQ(back.ids, table.ids);
  EXPECT_EQ(back.dataset_index, table.dataset_index);
  EXPECT_EQ(back.num_dataset_items, 2);
  EXPECT_EQ(back.embeddings, table.embeddings);
  const Hdf5File file(dir.file("t.h5"), Hdf5File::Mode::kRead);
  EXPECT_EQ(file.matrix_shape("embeddings"), (std::pair<int64_t, int64_t>(3, 3)));
  EXPECT_EQ(file.read_float32_rows("embeddings", 1, 2),
            std::vector<float>(table.embeddings.begin() + 3, table.embeddings.end()));
  EXPECT_THROW(file.read_float32_rows("embeddings", 2, 2), InputError) << "past the last row";
  EXPECT_THROW(file.matrix_shape("ids"), InputError) << "a 1-D dataset";
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.file("")), {}), 1) << "no temporary left";
}

TEST(ItemEmbeddingFile, RefusesWhatIsNotATable) {
  const TempDir dir("embeddings-bad");
  EXPECT_THROW(read_item_embeddings(dir.file("missing.h5")), InputError);
  EXPECT_THROW(read_item_embeddings(dir.write("text.h5", "not hdf5")), InputError);
  {
    Hdf5File other(dir.file("other.h5"), Hdf5File::Mode::kCreate);
    other.write_int64("offsets", {0, 1});
  }
  try {
    read_item_embeddings(dir.file("other.h5"));
    FAIL() << "a file without embeddings was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has no dataset 'embeddings'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_item_embeddings(dir.file("none/t.h5"), small_table()), Error);
}

TEST(UserHistoriesFile, ReadsIdsAndNamesTheLineOfEachMistake) {
  const TempDir dir("histories");
  const std::unordered_map<std::string, int64_t> rows{{"a", 1}, {"b", 2}, {"new", 3}};
  const auto users = read_user_histories(
      dir.write("u.jsonl", "{\"user\": \"x\", \"items\": [\"a\", \"new\"]}\n\n"
                           "{\"user\": \"y\", \"items\": [\"b\"], \"timestamps\": [17]}\n"),
      rows);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].id, "x");
  EXPECT_EQ(users[0].items, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(users[0].timestamps, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(users[1].timestamps, (std::vector<int64_t>{17}));
  const auto error_of = [&](const std::string& text) {
    try {
      read_user_histories(dir.write("bad.jsonl", "{\"user\": \"x\", \"items\": [\"a\"]}\n" + text), rows);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("[1, 2]").find("bad.jsonl:2: not a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{\"items\": [\"a\"]}").find(":2: 'user' must be a string"), std::string::npos);
  EXPECT_NE(error_of("{\"user\": \"z\", \"items\": []}").find(":2: 'items' must be a non-empty list"), std::string::npos);
  EXPECT_NE(error_of("{\"user\": \"z\", \"items\": [\"c\"]}").find(":2: item 'c' is neither"), std::string::npos);
  EXPECT_NE(error_of("{\"user\": \"z\", \"items\": [\"a\"], \"timestamps\": [1, 2]}").find("one number per item"),
            std::string::npos);
  EXPECT_THROW(read_user_histories(dir.write("empty.jsonl", "\n"), rows), InputError);
  EXPECT_THROW(read_user_histories(dir.file("missing.jsonl"), rows), InputError);
}

}  // namespace
}  // namespace hllm::data
