#include "core/storage.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace kat {
namespace {

std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};
std::atomic<std::int64_t> g_count{0};
std::atomic<std::int64_t> g_cache_hits{0};
std::atomic<std::int64_t> g_system_count{0};
std::atomic<std::int64_t> g_system_bytes{0};
std::atomic<std::int64_t> g_small_hits{0};

void note_alloc(std::int64_t bytes) {
  const std::int64_t live = g_live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  g_count.fetch_add(1, std::memory_order_relaxed);
}

// The block cache. Blocks of at least kCachedFrom bytes are allocated in size classes (eight per
// power of two, so a block is at most 12.5% larger than asked) and, when their tensor dies, kept
// for the next allocation of the same class, up to a cap on the bytes kept. A training step
// allocates the same sizes every step, so after the first one it neither asks the system for
// memory nor faults fresh pages in (without the cache, glibc maps blocks of 32 MiB and more anew
// each time and the kernel clears every page of them). Smaller blocks go to malloc directly.
constexpr std::size_t kCachedFrom = std::size_t{1} << 16;

std::size_t size_class(std::size_t bytes) {
  if (bytes < kCachedFrom) return bytes;
  const int top = std::bit_width(bytes - 1);             // 2^(top-1) < bytes <= 2^top
  const std::size_t step = std::size_t{1} << (top - 4);  // eight classes between 2^(top-1) and 2^top
  return (bytes + step - 1) / step * step;
}

struct BlockCache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks;
  std::size_t cached = 0;
  std::size_t cap = default_cap();

  static std::size_t default_cap() {
    if (const char* env = std::getenv("KAT_CACHE_MB"); env != nullptr && *env != '\0') {
      char* end = nullptr;
      const long long mb = std::strtoll(env, &end, 10);
      if (end == nullptr || *end != '\0' || mb < 0) {
        throw Error(std::string("KAT_CACHE_MB: expected a whole number of MiB (0 disables the cache), got '") + env +
                    "'");
      }
      return static_cast<std::size_t>(mb) << 20;
    }
    return std::size_t{2} << 30;
  }

  void* take(std::size_t bytes) {
    std::lock_guard lock(mutex);
    auto it = free_blocks.find(bytes);
    if (it == free_blocks.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached -= bytes;
    return p;
  }

  // Keeps the block, or returns false when the cap is reached (the caller frees it).
  bool keep(void* p, std::size_t bytes) {
    std::lock_guard lock(mutex);
    if (cached + bytes > cap) return false;
    free_blocks[bytes].push_back(p);
    cached += bytes;
    return true;
  }

  void release() {
    std::lock_guard lock(mutex);
    for (auto& [bytes, blocks] : free_blocks) {
      for (void* p : blocks) std::free(p);
    }
    free_blocks.clear();
    cached = 0;
  }

  ~BlockCache() { release(); }
};

BlockCache& cache() {
  static BlockCache c;
  return c;
}

// Small blocks (below kCachedFrom) are kept per thread, one free list per multiple of the
// alignment, linked through the blocks themselves, so that the many small tensors of a decoding
// step or of the bookkeeping of a training step skip malloc's aligned path. A block freed on
// another thread than the one that allocated it joins the freeing thread's lists (every block comes
// from aligned_alloc, so any thread may free it). Each thread keeps at most kSmallCap bytes; its
// lists go back to the system when it exits. KAT_CACHE_MB=0 turns these lists off too.
constexpr std::size_t kSmallBins = kCachedFrom / kStorageAlignment;
constexpr std::size_t kSmallCap = std::size_t{8} << 20;

struct SmallBlocks {
  void* head[kSmallBins] = {};
  std::size_t cached = 0;

  static std::size_t bin(std::size_t bytes) { return bytes / kStorageAlignment - 1; }

  void* take(std::size_t bytes) {
    void*& h = head[bin(bytes)];
    void* p = h;
    if (p == nullptr) return nullptr;
    h = *static_cast<void**>(p);
    cached -= bytes;
    return p;
  }

  bool keep(void* p, std::size_t bytes) {
    if (cached + bytes > kSmallCap) return false;
    void*& h = head[bin(bytes)];
    *static_cast<void**>(p) = h;
    h = p;
    cached += bytes;
    return true;
  }

  void release() {
    for (void*& h : head) {
      while (h != nullptr) {
        void* next = *static_cast<void**>(h);
        std::free(h);
        h = next;
      }
    }
    cached = 0;
  }

  ~SmallBlocks();
};

// Set once the thread's lists are destroyed: a tensor that outlives them (a static one freed at
// exit) goes straight back to the system.
thread_local bool t_small_gone = false;

SmallBlocks::~SmallBlocks() {
  release();
  t_small_gone = true;
}

SmallBlocks* small_blocks() {
  if (t_small_gone || cache().cap == 0) return nullptr;
  thread_local SmallBlocks b;
  return &b;
}

}  // namespace

Storage::Storage(std::size_t bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment.
  bytes_ = (std::max<std::size_t>(bytes, 1) + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment;
  bytes_ = size_class(bytes_);
  if (bytes_ < kCachedFrom) {
    if (SmallBlocks* sb = small_blocks(); sb != nullptr) data_ = sb->take(bytes_);
    if (data_ != nullptr) g_small_hits.fetch_add(1, std::memory_order_relaxed);
  } else {
    data_ = cache().take(bytes_);
    if (data_ != nullptr) {
      g_cache_hits.fetch_add(1, std::memory_order_relaxed);
    } else {
      g_system_count.fetch_add(1, std::memory_order_relaxed);
      g_system_bytes.fetch_add(static_cast<std::int64_t>(bytes_), std::memory_order_relaxed);
    }
  }
  if (data_ == nullptr) data_ = std::aligned_alloc(kStorageAlignment, bytes_);
  if (data_ == nullptr) throw std::bad_alloc();
  note_alloc(static_cast<std::int64_t>(bytes_));
}

Storage::~Storage() {
  bool kept = false;
  if (bytes_ < kCachedFrom) {
    if (SmallBlocks* sb = small_blocks(); sb != nullptr) kept = sb->keep(data_, bytes_);
  } else {
    kept = cache().keep(data_, bytes_);
  }
  if (!kept) std::free(data_);
  g_live.fetch_sub(static_cast<std::int64_t>(bytes_), std::memory_order_relaxed);
}

MemoryStats memory_stats() {
  MemoryStats s;
  s.live_bytes = g_live.load(std::memory_order_relaxed);
  s.peak_bytes = g_peak.load(std::memory_order_relaxed);
  s.allocations = g_count.load(std::memory_order_relaxed);
  s.cache_hits = g_cache_hits.load(std::memory_order_relaxed);
  s.system_allocations = g_system_count.load(std::memory_order_relaxed);
  s.system_bytes = g_system_bytes.load(std::memory_order_relaxed);
  s.small_reused = g_small_hits.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(cache().mutex);
    s.cached_bytes = static_cast<std::int64_t>(cache().cached);
  }
  return s;
}

void reset_peak_memory() { g_peak.store(g_live.load(std::memory_order_relaxed), std::memory_order_relaxed); }

void release_cached_memory() {
  cache().release();
  if (SmallBlocks* sb = small_blocks(); sb != nullptr) sb->release();
}

}  // namespace kat
