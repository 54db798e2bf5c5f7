#include "core/storage.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

namespace kat {
namespace {

std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};
std::atomic<std::int64_t> g_count{0};

void note_alloc(std::int64_t bytes) {
  const std::int64_t live = g_live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  g_count.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Storage::Storage(std::size_t bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment.
  bytes_ = (std::max<std::size_t>(bytes, 1) + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment;
  data_ = std::aligned_alloc(kStorageAlignment, bytes_);
  if (data_ == nullptr) throw std::bad_alloc();
  note_alloc(static_cast<std::int64_t>(bytes_));
}

Storage::~Storage() {
  std::free(data_);
  g_live.fetch_sub(static_cast<std::int64_t>(bytes_), std::memory_order_relaxed);
}

MemoryStats memory_stats() {
  return {g_live.load(std::memory_order_relaxed), g_peak.load(std::memory_order_relaxed),
          g_count.load(std::memory_order_relaxed)};
}

void reset_peak_memory() { g_peak.store(g_live.load(std::memory_order_relaxed), std::memory_order_relaxed); }

}  // namespace kat
