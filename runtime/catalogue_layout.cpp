#include "runtime/catalogue_layout.h"

#include <algorithm>

#include "common/error.h"
#include "models/model_plan.h"

namespace hllm::runtime {

CatalogueLayout CatalogueLayout::of(int64_t items, int replicas) {
  HLLM_CHECK(items >= 0 && replicas >= 1, "catalogue layout: ", items, " items over ", replicas, " replicas");
  const int64_t chunk = models::kCatalogueChunkItems;
  const int64_t chunks = (items + chunk - 1) / chunk;
  CatalogueLayout layout;
  layout.starts.push_back(0);
  for (int r = 1; r <= replicas; ++r) layout.starts.push_back(1 + std::min(items, chunk * (chunks * r / replicas)));
  return layout;
}

int CatalogueLayout::owner(int64_t row) const {
  HLLM_CHECK(row >= 0 && row < rows(), "catalogue layout: row ", row, " outside the ", rows(), " rows");
  return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), row) - starts.begin()) - 1;
}

}  // namespace hllm::runtime
