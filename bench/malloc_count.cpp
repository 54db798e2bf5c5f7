#include "bench/malloc_count.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>

// glibc's allocator under the counting entry points below.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {

std::atomic<std::int64_t> g_calls{0};
std::atomic<std::int64_t> g_bytes{0};
std::atomic<std::int64_t> g_large_calls{0};
std::atomic<std::int64_t> g_large_bytes{0};

// Large allocations by exact size: an open-addressed table filled without locks (a slot's size is
// set once, from 0, by compare-and-swap). Sizes beyond its capacity go to the overflow count.
constexpr std::size_t kSlots = 512;
std::atomic<std::size_t> g_size[kSlots];
std::atomic<std::int64_t> g_size_calls[kSlots];
std::atomic<std::int64_t> g_overflow{0};

void note(std::size_t n) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  if (n < kat::bench::kLargeAllocation) return;
  g_large_calls.fetch_add(1, std::memory_order_relaxed);
  g_large_bytes.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  std::size_t i = (n >> 6) % kSlots;
  for (std::size_t probe = 0; probe < kSlots; ++probe, i = (i + 1) % kSlots) {
    std::size_t key = g_size[i].load(std::memory_order_relaxed);
    if (key == 0 && g_size[i].compare_exchange_strong(key, n, std::memory_order_relaxed)) key = n;
    if (key == n) {
      g_size_calls[i].fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  g_overflow.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {

void* malloc(std::size_t n) noexcept {
  note(n);
  return __libc_malloc(n);
}

void* calloc(std::size_t count, std::size_t size) noexcept {
  note(count * size);
  return __libc_calloc(count, size);
}

void* realloc(void* p, std::size_t n) noexcept {
  note(n);
  return __libc_realloc(p, n);
}

void* memalign(std::size_t alignment, std::size_t n) noexcept {
  note(n);
  return __libc_memalign(alignment, n);
}

void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  note(n);
  return __libc_memalign(alignment, n);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  note(n);
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

}  // extern "C"

namespace kat::bench {

MallocCounts malloc_counts() {
  MallocCounts c;
  c.large_by_size.reserve(kSlots + 1);  // before reading: this allocation is not in the snapshot
  c.calls = g_calls.load(std::memory_order_relaxed);
  c.bytes = g_bytes.load(std::memory_order_relaxed);
  c.large_calls = g_large_calls.load(std::memory_order_relaxed);
  c.large_bytes = g_large_bytes.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kSlots; ++i) {
    const std::size_t size = g_size[i].load(std::memory_order_relaxed);
    if (size != 0) c.large_by_size.emplace_back(size, g_size_calls[i].load(std::memory_order_relaxed));
  }
  if (const std::int64_t o = g_overflow.load(std::memory_order_relaxed); o > 0) c.large_by_size.emplace_back(0, o);
  std::sort(c.large_by_size.begin(), c.large_by_size.end());
  return c;
}

std::int64_t malloc_calls() { return g_calls.load(std::memory_order_relaxed); }

MallocCounts operator-(const MallocCounts& b, const MallocCounts& a) {
  MallocCounts d;
  d.calls = b.calls - a.calls;
  d.bytes = b.bytes - a.bytes;
  d.large_calls = b.large_calls - a.large_calls;
  d.large_bytes = b.large_bytes - a.large_bytes;
  std::map<std::size_t, std::int64_t> by;
  for (const auto& [size, n] : b.large_by_size) by[size] += n;
  for (const auto& [size, n] : a.large_by_size) by[size] -= n;
  for (const auto& [size, n] : by) {
    if (n != 0) d.large_by_size.emplace_back(size, n);
  }
  return d;
}

std::string describe_large(const MallocCounts& c) {
  std::vector<std::pair<std::size_t, std::int64_t>> v = c.large_by_size;
  std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  std::string s;
  char buf[96];
  for (const auto& [size, n] : v) {
    if (size == 0) {
      std::snprintf(buf, sizeof buf, "%s%lld of other sizes", s.empty() ? "" : ", ", static_cast<long long>(n));
    } else if (size >= (std::size_t{1} << 20)) {
      std::snprintf(buf, sizeof buf, "%s%lld x %.1f MiB", s.empty() ? "" : ", ", static_cast<long long>(n),
                    static_cast<double>(size) / (1 << 20));
    } else {
      std::snprintf(buf, sizeof buf, "%s%lld x %.1f KiB", s.empty() ? "" : ", ", static_cast<long long>(n),
                    static_cast<double>(size) / (1 << 10));
    }
    s += buf;
  }
  return s;
}

}  // namespace kat::bench
