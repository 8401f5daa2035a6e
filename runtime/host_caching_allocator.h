// LibTorch's CPU allocator replaced by a caching one, so host memory behaves as CUDA's does: freed tensor
// memory is kept for the next request of its size class instead of being faulted in again, the bytes that
// tensors hold are counted (current and peak, as CUDA's "allocated"), and what the cache keeps beyond the
// live tensors (CUDA's "reserved") is bounded.
//
// Note [Host memory]: glibc serves large blocks from fresh mappings that it returns on free, so each training
// step page-faulted and zero-filled its activations again (half the CPU step's time, docs/BENCHMARKS.md);
// keeping freed memory in glibc's heap instead made the step fast, but the heap fragments — blocks of the
// ZeRO-3 gather window, gradients, activations and evaluation batches of ever different sizes — and a
// rank's resident set grew well beyond what its tensors ever held at once. Here every block of at least
// kLargeBlockBytes is a mapping of its own, rounded up to one of eight size classes per power of two (at
// most 1/8 unused). A freed block waits in the cache; a request takes the cached block of its class, or a
// larger one up to twice its size as it is (counted whole), or grows the largest smaller one with mremap
// (which moves page tables, not data: only the new tail is faulted in), and maps afresh only when nothing
// suitable waits. After every request the longest-waiting cached blocks are unmapped until the
// mapped bytes are at most the most that tensors have held at once since the last release: the resident
// set of tensor memory stays within the tensors' own peak, whatever order the sizes come in, while a step
// that repeats the last one's requests reuses the same pages. Smaller blocks go to malloc, counted.
//
// Thread safety: all functions may be called from any thread. The allocator is process-wide because
// LibTorch's CPU allocator is (c10::SetCPUAllocator); it is installed once, by a program's main, before any
// tensor it should count is allocated, and never removed (tensors may outlive main).
#pragma once

#include <cstdint>

namespace hllm::runtime {

// Blocks below this size are served by malloc (they are many, small and short-lived: fragmentation there is
// small and mmap's cost per block is not). It is glibc's own default mmap threshold: install() fixes
// malloc's threshold there and stops it trimming its heap, so the small blocks, too, are reused rather than
// faulted in again (glibc's defaults raise the threshold as blocks are freed and trim what lies above it).
inline constexpr int64_t kLargeBlockBytes = int64_t{128} << 10;

struct HostMemoryStats {
  int64_t allocated_bytes = 0;       // held by live tensors (large blocks counted at their size class)
  int64_t peak_allocated_bytes = 0;  // highest allocated_bytes since install or reset_host_memory_peaks()
  int64_t reserved_bytes = 0;        // mapped for large blocks, live or cached
  int64_t peak_reserved_bytes = 0;
  int64_t cached_bytes = 0;          // mapped, free, waiting for a request of its class
  int64_t maps = 0;                  // large blocks mapped since install (nothing cached suited)
  int64_t resizes = 0;               // cached blocks grown for a larger class (mremap)
  int64_t unmaps = 0;                // cached blocks returned to the kernel
};

// Makes the caching allocator LibTorch's CPU allocator and sets malloc's thresholds (above; later calls
// change nothing). Returns false where LibTorch keeps another allocator (one registered with a higher
// priority).
bool install_host_caching_allocator();
bool host_caching_allocator_installed();

// All zero when the allocator is not installed.
HostMemoryStats host_memory_stats();

// Starts the peaks again from the current values, so a phase of a run can be measured on its own.
void reset_host_memory_peaks();

// Unmaps every cached block (CUDA's empty_cache) and starts the bound again from the tensors held now:
// between phases of a run (training, evaluation, saving), so one phase's peak does not bound the next's.
void release_cached_host_memory();

}  // namespace hllm::runtime
