// run_on_threads: work(0) … work(workers - 1) at once, work(0) on the calling thread, the others on threads
// of their own, all joined before it returns. The first exception any of them threw is rethrown then; a
// thread that cannot be started throws too, after the ones started have been joined (never a terminate).
#pragma once

#include <cstddef>
#include <functional>

namespace hllm {

void run_on_threads(size_t workers, const std::function<void(size_t worker)>& work);

}  // namespace hllm
