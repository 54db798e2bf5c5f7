#pragma once
// Storage: one 64-byte aligned, zero-initialized-on-request block of bytes, shared by every tensor
// that views it (reference counted through std::shared_ptr). Every allocation is counted, so
// tests and benchmarks can read the live and peak bytes of tensor memory.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace kat {

inline constexpr std::size_t kStorageAlignment = 64;

class Storage {
 public:
  // Allocates `bytes` bytes (at least one alignment unit), uninitialized.
  explicit Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Bytes held by live Storage objects (in size classes: blocks of 64 KiB and more are rounded up by
// at most 12.5%), the highest value since the last reset, the allocation count, and the bytes of
// freed blocks kept for reuse (storage.cpp; at most KAT_CACHE_MB MiB, default 2048, 0 disables).
// Where the blocks came from: a large block (64 KiB and more) from the cache or, on a miss, from
// the system (aligned_alloc); a small one from the allocating thread's own free lists
// (small_reused counts those) or else from malloc. The small blocks kept, at most 8 MiB per thread
// (none with KAT_CACHE_MB=0), are not in cached_bytes.
struct MemoryStats {
  std::int64_t live_bytes = 0;
  std::int64_t peak_bytes = 0;
  std::int64_t allocations = 0;
  std::int64_t cached_bytes = 0;
  std::int64_t cache_hits = 0;
  std::int64_t system_allocations = 0;  // large blocks the cache did not have
  std::int64_t system_bytes = 0;        // their bytes
  std::int64_t small_reused = 0;        // blocks below 64 KiB taken from a thread's free lists
};
MemoryStats memory_stats();
// Sets the peak to the current live bytes, so a test can measure the peak of one region.
void reset_peak_memory();
// Returns the kept blocks to the system (the small ones: the calling thread's).
void release_cached_memory();

}  // namespace kat
