#include "runtime/host_caching_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <iterator>
#include <map>
#include <unordered_map>

#include "common/error.h"

namespace hllm::runtime {
namespace {

// LibTorch's CPU kernels expect 64-byte alignment (c10::gAlignment); mappings are page-aligned.
constexpr size_t kSmallAlignment = 64;

// Rounds a large request up to one of eight classes per power of two: at most 1/8 of a block is unused, and
// requests of nearby sizes (length buckets, the last flat-buffer shard) share blocks.
size_t size_class(size_t bytes) {
  const int top_bit = 63 - __builtin_clzll(bytes);
  const size_t step = size_t{1} << (top_bit - 3);
  return (bytes + step - 1) / step * step;
}

class HostCachingAllocator final : public c10::Allocator {
 public:

  c10::DataPtr allocate(size_t bytes) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (bytes == 0) return {nullptr, nullptr, nullptr, cpu};
    return const_cast<HostCachingAllocator*>(this)->allocate_block(bytes);
  }

  HostMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peaks() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
    stats_.peak_reserved_bytes = stats_.reserved_bytes;
  }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    unmap_cached_down_to(0);
    held_most_ = stats_.allocated_bytes;
  }

 private:
  // A mapping serving one large tensor; in the size-ordered cache and the waiting order while cached.
  struct Block {
    void* address;
    size_t bytes;
    std::list<Block*>::iterator waiting;               // while cached
    std::multimap<size_t, Block*>::iterator position;  // while cached
  };

  c10::DataPtr allocate_block(size_t bytes) {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (static_cast<int64_t>(bytes) < kLargeBlockBytes) {
      void* address = nullptr;
      HLLM_CHECK(posix_memalign(&address, kSmallAlignment, bytes) == 0, "host memory: cannot allocate ", bytes, " bytes");
      count_allocated(static_cast<int64_t>(malloc_usable_size(address)));
      return {address, address, &free_any, cpu};
    }
    // The context is the address itself, as LibTorch's raw_allocate() requires; the block is found by it.
    Block* block = take_block(size_class(bytes));
    return {block->address, block->address, &free_any, cpu};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &free_any; }

  Block* take_block(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    Block* block = reuse_cached(bytes);
    if (block == nullptr) {
      void* address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (address == MAP_FAILED) {  // what the cache holds may be what the kernel lacks
        unmap_cached_down_to(0);
        address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      }
      HLLM_CHECK(address != MAP_FAILED, "host memory: cannot map ", bytes, " bytes (", std::strerror(errno), "); ",
                 stats_.allocated_bytes, " bytes are held by tensors");
      ++stats_.maps;
      stats_.reserved_bytes += static_cast<int64_t>(bytes);
      block = new Block{address, bytes, {}, {}};
    }
    count_allocated_locked(static_cast<int64_t>(block->bytes));
    live_.emplace(block->address, block);
    // The bound: what is mapped never exceeds the most the tensors have held at once since the last release.
    held_most_ = std::max(held_most_, stats_.allocated_bytes);
    unmap_cached_down_to(stats_.cached_bytes - (stats_.reserved_bytes - held_most_));
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
    return block;
  }

  // A cached block for `bytes`: the block of that class, else the smallest larger one up to twice the size
  // (served as it is: cutting it would cost a system call now and page faults when a larger request wants
  // it back), else the largest smaller one grown with mremap (page tables move, not data: only the new tail
  // is faulted in). nullptr when none fits: a new mapping is cheaper than cutting a much larger block.
  Block* reuse_cached(size_t bytes) {
    auto fit = free_blocks_.lower_bound(bytes);
    if (fit == free_blocks_.end() || fit->first > 2 * bytes) {
      if (fit == free_blocks_.begin()) return nullptr;
      fit = std::prev(fit);
    }
    Block* block = fit->second;
    free_blocks_.erase(fit);
    waiting_.erase(block->waiting);
    stats_.cached_bytes -= static_cast<int64_t>(block->bytes);
    if (block->bytes < bytes) {
      void* moved = mremap(block->address, block->bytes, bytes, MREMAP_MAYMOVE);
      if (moved == MAP_FAILED) {  // keep the kernel's answer simple: give the block back, map afresh
        munmap(block->address, block->bytes);
        stats_.reserved_bytes -= static_cast<int64_t>(block->bytes);
        ++stats_.unmaps;
        delete block;
        return nullptr;
      }
      stats_.reserved_bytes += static_cast<int64_t>(bytes) - static_cast<int64_t>(block->bytes);
      ++stats_.resizes;
      block->address = moved;
      block->bytes = bytes;
    }
    return block;
  }

  // Frees what allocate() returned at `address`: a large block goes to the cache, a small one to malloc.
  void free_address(void* address) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto live = live_.find(address);
    if (live == live_.end()) {
      const auto bytes = static_cast<int64_t>(malloc_usable_size(address));
      stats_.allocated_bytes -= bytes;
      lock.unlock();
      std::free(address);
      return;
    }
    Block* block = live->second;
    live_.erase(live);
    stats_.allocated_bytes -= static_cast<int64_t>(block->bytes);
    stats_.cached_bytes += static_cast<int64_t>(block->bytes);
    block->waiting = waiting_.insert(waiting_.end(), block);
    block->position = free_blocks_.emplace(block->bytes, block);
  }

  // Unmaps the longest-waiting cached blocks until the cache holds at most `limit` bytes.
  void unmap_cached_down_to(int64_t limit) {
    while (stats_.cached_bytes > limit && !waiting_.empty()) {
      Block* block = waiting_.front();
      waiting_.pop_front();
      free_blocks_.erase(block->position);
      munmap(block->address, block->bytes);
      stats_.cached_bytes -= static_cast<int64_t>(block->bytes);
      stats_.reserved_bytes -= static_cast<int64_t>(block->bytes);
      ++stats_.unmaps;
      delete block;
    }
  }

  void count_allocated(int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    count_allocated_locked(bytes);
  }

  void count_allocated_locked(int64_t bytes) {
    stats_.allocated_bytes += bytes;
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  }

  static void free_any(void* address);

  std::mutex mutex_;
  HostMemoryStats stats_;
  int64_t held_most_ = 0;  // the most allocated_bytes since the last release_cached(): the bound
  std::unordered_map<void*, Block*> live_;     // large blocks held by tensors, by address
  std::multimap<size_t, Block*> free_blocks_;  // cached blocks by size
  std::list<Block*> waiting_;                  // cached blocks, longest waiting first
};

// Leaked on purpose: tensors freed after main returns still call back into it.
HostCachingAllocator* the_allocator = nullptr;
std::mutex install_mutex;

void HostCachingAllocator::free_any(void* address) { the_allocator->free_address(address); }

}  // namespace

bool install_host_caching_allocator() {
  std::lock_guard<std::mutex> lock(install_mutex);
  if (the_allocator == nullptr) {
    auto* allocator = new HostCachingAllocator();
    // The small blocks: below kLargeBlockBytes always from malloc's heap, which keeps what is freed.
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(kLargeBlockBytes));
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    the_allocator = allocator;  // before LibTorch can hand out (and free) its first block
    c10::SetCPUAllocator(allocator, /*priority=*/1);
    if (c10::GetCPUAllocator() != allocator) {
      the_allocator = nullptr;  // never used: leaked rather than deleted under a registry that may keep it
      return false;
    }
  }
  return true;
}

bool host_caching_allocator_installed() {
  std::lock_guard<std::mutex> lock(install_mutex);
  return the_allocator != nullptr;
}

HostMemoryStats host_memory_stats() { return host_caching_allocator_installed() ? the_allocator->stats() : HostMemoryStats{}; }

void reset_host_memory_peaks() {
  if (host_caching_allocator_installed()) the_allocator->reset_peaks();
}

void release_cached_host_memory() {
  if (host_caching_allocator_installed()) the_allocator->release_cached();
}

}  // namespace hllm::runtime
