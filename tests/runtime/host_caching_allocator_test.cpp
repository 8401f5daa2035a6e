// The host caching allocator (runtime/host_caching_allocator.h), installed as LibTorch's CPU allocator for
// this whole test binary: what it counts, that a repeated request reuses the same pages, that another size
// takes (or grows) a cached block instead of mapping one, and the bound — mapped bytes never above the most the
// tensors held at once since the last release — over a random sequence of sizes and lifetimes.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "runtime/host_caching_allocator.h"

namespace hllm::runtime {
namespace {

constexpr int64_t kMiB = 1 << 20;

class HostCachingAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(install_host_caching_allocator());
    release_cached_host_memory();
    reset_host_memory_peaks();
  }
};

at::Tensor bytes(int64_t n) { return at::empty({n}, at::kByte); }

TEST_F(HostCachingAllocatorTest, IsLibTorchsCpuAllocatorAndCountsWhatTensorsHold) {
  EXPECT_TRUE(host_caching_allocator_installed());
  const HostMemoryStats before = host_memory_stats();
  {
    at::Tensor large = bytes(4 * kMiB), small = bytes(1000);
    const HostMemoryStats during = host_memory_stats();
    EXPECT_EQ(during.allocated_bytes - before.allocated_bytes >= 4 * kMiB + 1000, true);
    EXPECT_LT(during.allocated_bytes - before.allocated_bytes, 4 * kMiB + 1000 + 4 * kMiB / 8 + 4096);
    EXPECT_GE(during.reserved_bytes, 4 * kMiB);
  }
  const HostMemoryStats after = host_memory_stats();
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_GE(after.peak_allocated_bytes, before.allocated_bytes + 4 * kMiB);
  EXPECT_EQ(after.cached_bytes, after.reserved_bytes);  // nothing large is alive: all of it waits
  release_cached_host_memory();
  EXPECT_EQ(host_memory_stats().reserved_bytes, 0);
}

TEST_F(HostCachingAllocatorTest, ARepeatedRequestReusesTheSamePages) {
  void* first = nullptr;
  {
    at::Tensor t = bytes(3 * kMiB + 17);
    t.fill_(7);
    first = t.data_ptr();
  }
  const HostMemoryStats cached = host_memory_stats();
  at::Tensor again = bytes(3 * kMiB + 5);  // another size, the same class
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(host_memory_stats().maps, cached.maps);
  EXPECT_EQ(host_memory_stats().resizes, cached.resizes);
}

TEST_F(HostCachingAllocatorTest, AnotherSizeTakesACachedBlockInsteadOfMappingOne) {
  { at::Tensor t = bytes(8 * kMiB); }
  const HostMemoryStats cached = host_memory_stats();
  {
    at::Tensor smaller = bytes(6 * kMiB);  // a larger block, at most twice the size, serves as it is
    smaller.fill_(1);
    EXPECT_EQ(smaller.data_ptr<uint8_t>()[6 * kMiB - 1], 1);
    EXPECT_EQ(host_memory_stats().allocated_bytes - cached.allocated_bytes, 8 * kMiB) << "counted as held";
  }
  HostMemoryStats now = host_memory_stats();
  EXPECT_EQ(now.maps, cached.maps);
  EXPECT_EQ(now.resizes, cached.resizes);
  EXPECT_EQ(now.reserved_bytes, 8 * kMiB);
  {
    at::Tensor larger = bytes(10 * kMiB);  // only a smaller block waits: it grows (mremap)
    larger.fill_(2);
    EXPECT_EQ(larger.data_ptr<uint8_t>()[10 * kMiB - 1], 2);
  }
  now = host_memory_stats();
  EXPECT_EQ(now.maps, cached.maps);
  EXPECT_EQ(now.resizes, cached.resizes + 1);
  EXPECT_EQ(now.reserved_bytes, 10 * kMiB);
  {
    at::Tensor much_smaller = bytes(2 * kMiB);  // the cached block is over twice the size: a mapping of its own
    EXPECT_EQ(host_memory_stats().maps, cached.maps + 1);
  }
}

TEST_F(HostCachingAllocatorTest, MappedBytesNeverExceedTheTensorsPeakSinceTheLastRelease) {
  std::mt19937 random(3);
  std::vector<at::Tensor> alive;
  int64_t most_held = host_memory_stats().allocated_bytes;
  for (int i = 0; i < 2000; ++i) {
    if (!alive.empty() && random() % 3 == 0) {
      alive.erase(alive.begin() + static_cast<int64_t>(random() % alive.size()));
    } else {
      // Sizes over three orders of magnitude, as activations, gathered units and evaluation batches.
      const int64_t n = kMiB + static_cast<int64_t>(random() % (64 * kMiB));
      alive.push_back(bytes(n));
      alive.back().data_ptr<uint8_t>()[n - 1] = 1;  // the whole block is usable
    }
    const HostMemoryStats s = host_memory_stats();
    most_held = std::max(most_held, s.allocated_bytes);
    ASSERT_LE(s.reserved_bytes, most_held) << "after operation " << i;
    ASSERT_EQ(s.reserved_bytes - s.cached_bytes <= s.allocated_bytes, true);
  }
  alive.clear();
  release_cached_host_memory();
  EXPECT_EQ(host_memory_stats().reserved_bytes, 0);
}

TEST_F(HostCachingAllocatorTest, ComputesAsTheDefaultAllocator) {
  at::manual_seed(1);
  const at::Tensor a = at::randn({512, 700}), b = at::randn({700, 300});
  const at::Tensor ours = at::mm(a, b);
  const at::Tensor reference = at::mm(a.to(at::kDouble), b.to(at::kDouble)).to(at::kFloat);
  EXPECT_TRUE(at::allclose(ours, reference, 1e-4, 1e-3));
}

}  // namespace
}  // namespace hllm::runtime
