// Keeps freed memory in the process heap instead of returning it to the kernel. glibc's defaults serve
// large blocks (from 128 KiB, rising to 32 MiB) with fresh mmaps and trim the heap's top: a training step
// frees and allocates the same activation tensors every time, so each step page-faults (and zero-fills)
// hundreds of MB again. Measured on the CPU (docs/BENCHMARKS.md, "ZeRO"): the HLLM step takes half the
// time with the heap kept. The price: the process's resident memory stays at its peak. Blocks above
// 1 GiB are still mapped on their own. Called first thing by the mains that train or evaluate.
#pragma once

namespace hllm::launcher {

// Returns false (and changes nothing further) when glibc refuses a setting.
bool keep_freed_memory_in_heap();

}  // namespace hllm::launcher
