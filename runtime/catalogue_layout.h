// CatalogueLayout: which rows of the item table each model replica embeds, and (train.eval_catalogue
// sharded) keeps. The catalogue is cut into fixed chunks of models::kCatalogueChunkItems items (the same for
// any world size, so every item's embedding is computed the same way) and each replica takes a contiguous run
// of chunks; replica 0's slice also holds row 0, the padding.
#pragma once

#include <cstdint>
#include <vector>

namespace hllm::runtime {

struct CatalogueLayout {
  // replicas + 1 row boundaries: replica r holds rows [starts[r], starts[r + 1]); starts[0] = 0 and the
  // last is the table's rows (items + 1).
  std::vector<int64_t> starts;

  // A table of `items` items (rows 1..items) over `replicas` replicas.
  static CatalogueLayout of(int64_t items, int replicas);

  int replicas() const { return static_cast<int>(starts.size()) - 1; }
  int64_t rows() const { return starts.back(); }
  int64_t begin(int replica) const { return starts[replica]; }
  int64_t end(int replica) const { return starts[replica + 1]; }
  // The first item (never the padding row) of a replica's slice.
  int64_t first_item(int replica) const { return replica == 0 ? 1 : starts[replica]; }
  // The replica whose slice holds `row`.
  int owner(int64_t row) const;
};

}  // namespace hllm::runtime
