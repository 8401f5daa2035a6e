#include "data/user_reader.h"

#include <algorithm>

#include "common/error.h"
#include "data/hdf5_file.h"

namespace hllm::data {

std::vector<UserSequence> read_user_sequences(const Dataset& dataset, int64_t first, int64_t end) {
  HLLM_CHECK(first >= 0 && first <= end && end <= dataset.num_users(), "users [", first, ", ", end, ") of ",
             dataset.num_users());
  std::vector<UserSequence> users(end - first);
  for (int s = 0; s < dataset.num_shards(); ++s) {
    const auto& shard = dataset.meta().at("shards").at(s);
    const int64_t shard_first = shard.at("first_user").get<int64_t>();
    const int64_t shard_end = shard_first + shard.at("num_users").get<int64_t>();
    const int64_t from = std::max(shard_first, first);
    const int64_t to = std::min(shard_end, end);
    if (from >= to) continue;
    const Hdf5File file(dataset.shard_path(s), Hdf5File::Mode::kRead);
    const auto offsets = file.read_int64("offsets", from - shard_first, to - from + 1);
    const auto items = file.read_int32("items", offsets.front(), offsets.back() - offsets.front());
    const auto timestamps = file.read_int64("timestamps", offsets.front(), offsets.back() - offsets.front());
    const auto ids = file.read_strings("ids", from - shard_first, to - from);
    for (int64_t u = from; u < to; ++u) {
      const int64_t begin = offsets[u - from] - offsets.front();
      const int64_t stop = offsets[u - from + 1] - offsets.front();
      users[u - first].items.assign(items.begin() + begin, items.begin() + stop);
      users[u - first].timestamps.assign(timestamps.begin() + begin, timestamps.begin() + stop);
      users[u - first].id = ids[u - from];
    }
  }
  return users;
}

std::vector<int64_t> read_user_lengths(const Dataset& dataset) {
  std::vector<int64_t> lengths;
  for (int s = 0; s < dataset.num_shards(); ++s) {
    const Hdf5File file(dataset.shard_path(s), Hdf5File::Mode::kRead);
    const auto offsets = file.read_int64("offsets");
    for (size_t u = 0; u + 1 < offsets.size(); ++u) lengths.push_back(offsets[u + 1] - offsets[u]);
  }
  if (static_cast<int64_t>(lengths.size()) != dataset.num_users()) {
    throw InputError(detail::concat(dataset.directory(), ": shards hold ", lengths.size(), " users, meta.json says ",
                                    dataset.num_users()));
  }
  return lengths;
}

}  // namespace hllm::data
