#include "launcher/heap_tuning.h"

#include <malloc.h>

#include <climits>

namespace hllm::launcher {

bool keep_freed_memory_in_heap() {
  return mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
}

}  // namespace hllm::launcher
