// Hdf5ArrayWriter: arrays written while produced read back through HDF5's own filters exactly, at any
// length around the chunk and batch edges, and make the same bytes on any number of threads.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tests/data/data_test_util.h"
#include "data/hdf5_array_writer.h"
#include "data/hdf5_file.h"

namespace hllm::data {
namespace {

using testing::TempDir;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `count` values appended in uneven pieces, on `threads` threads.
template <typename T>
std::vector<T> write(const std::string& path, size_t count, int threads) {
  std::vector<T> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = static_cast<T>((i * 2654435761u) % 100003) - 5000;
  Hdf5File file(path, Hdf5File::Mode::kCreate);
  Hdf5ArrayWriter<T> writer(file, "values", threads);
  for (size_t at = 0, piece = 1; at < count; at += piece, piece = piece * 3 % 70001 + 1) {
    writer.append(values.data() + at, std::min(piece, count - at));
  }
  EXPECT_EQ(writer.size(), static_cast<int64_t>(count));
  writer.finish();
  return values;
}

TEST(Hdf5ArrayWriter, ReadsBackAtEveryEdgeAndIsTheSameBytesOnAnyThreadCount) {
  TempDir dir("arraywriter");
  const size_t chunk = 1 << 16;
  for (const size_t count : {size_t{0}, size_t{1}, chunk - 1, chunk, chunk + 1, 16 * chunk, 16 * chunk + 3, 40 * chunk + 7}) {
    SCOPED_TRACE(count);
    const auto expected = write<int32_t>(dir.file("one.h5"), count, 1);
    write<int32_t>(dir.file("three.h5"), count, 3);
    Hdf5File file(dir.file("one.h5"), Hdf5File::Mode::kRead);
    EXPECT_EQ(file.length("values"), static_cast<int64_t>(count));
    EXPECT_EQ(file.read_int32("values"), expected);
    if (count > 10) EXPECT_EQ(file.read_int32("values", static_cast<int64_t>(count) - 7, 5),
                              std::vector<int32_t>(expected.end() - 7, expected.end() - 2));
    EXPECT_EQ(bytes_of(dir.file("one.h5")), bytes_of(dir.file("three.h5")));
  }
  const auto wide = write<int64_t>(dir.file("wide.h5"), 3 * chunk + 11, 2);
  EXPECT_EQ(Hdf5File(dir.file("wide.h5"), Hdf5File::Mode::kRead).read_int64("values"), wide);
}

}  // namespace
}  // namespace hllm::data
