#pragma once
// Counts every heap allocation of the process: malloc, calloc, realloc, aligned_alloc, memalign and
// posix_memalign are replaced by versions that count, then call glibc's own allocator (its
// __libc_* entry points). C++ new, kat's tensor blocks, oneTBB and OpenBLAS all allocate through
// them. Link bench/malloc_count.cpp into a benchmark program (never into a library) to use it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kat::bench {

// Allocations of at least this many bytes are "large" and counted by size.
inline constexpr std::size_t kLargeAllocation = std::size_t{1} << 16;

struct MallocCounts {
  std::int64_t calls = 0;
  std::int64_t bytes = 0;
  std::int64_t large_calls = 0;
  std::int64_t large_bytes = 0;
  std::vector<std::pair<std::size_t, std::int64_t>> large_by_size;  // (bytes, calls), by size
};

// The counts since the process started.
MallocCounts malloc_counts();
// Only the number of calls (allocates nothing itself).
std::int64_t malloc_calls();

// b - a; large_by_size keeps the sizes whose count changed.
MallocCounts operator-(const MallocCounts& b, const MallocCounts& a);

// "3 x 1.0 MiB, 1 x 256.0 KiB": the large allocations, most frequent first.
std::string describe_large(const MallocCounts& c);

}  // namespace kat::bench
