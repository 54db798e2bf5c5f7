#pragma once
// Which OpenBLAS kernels kat runs on, chosen at start-up.
//
// OpenBLAS picks its kernel family (Haswell, SkylakeX, ...) once, when it is loaded, from
// OPENBLAS_CORETYPE or else from its own CPU detection; a version that does not know the CPU falls
// back to slow generic kernels (OpenBLAS 0.3.21 on a Sapphire Rapids Xeon: a quarter of the
// SkylakeX kernels' GEMM speed). choose_blas_kernels() makes the choice whatever started the
// program (a script, the bare binary, an MPI launcher, a library user's main):
//
//   1. OPENBLAS_CORETYPE set in the environment: it wins, nothing changes.
//   2. Otherwise the families this CPU's features allow, fastest first (Cooperlake where AVX512_BF16
//      is present, SkylakeX with AVX-512, Haswell with AVX2 and FMA, Sandybridge with AVX); on AMD
//      processors the AVX-512 families are skipped (OpenBLAS 0.3.21's compute wrong results or crash
//      on Zen 4 and 5).
//   3. The first of those that computes correctly: a child process loads OpenBLAS with that family
//      and checks single and double precision products of awkward shapes against a reference (a
//      crash counts as wrong). Verdicts are cached per CPU and OpenBLAS build in
//      $XDG_CACHE_HOME/kat/openblas-kernels.tsv (else ~/.cache/...), so the check runs once. A check
//      that cannot tell (it could not start, or took longer than KAT_BLAS_CHECK_SECONDS, default
//      20, on a busy machine) passes to the next family for this start and is not cached.
//   4. When that family is not the one loaded, the program starts again (execv of /proc/self/exe with
//      the same arguments) with OPENBLAS_CORETYPE set to it; kat's own environment variable
//      KAT_BLAS_CHOICE carries the reason across.
//
//   5. OPENBLAS_NUM_THREADS unset: the program starts again once with it set to 1, so that OpenBLAS
//      makes none of its own threads (kat holds OpenBLAS at one thread and splits products itself;
//      an idle OpenBLAS thread spins on the core kat's second thread needs, measured: two-thread
//      decoding 0.45-0.53 ms per token in half the runs against 0.34). A set value is left alone.
//      Step 4's restart sets it as well, so there is at most one restart.
//
// Call it first in main(), before any thread starts. KAT_BLAS_CHOICE=off leaves OpenBLAS's own
// choice alone, and its threads.

#include <string>

namespace kat {

struct BlasKernels {
  std::string family;   // the kernel family OpenBLAS runs, as it names it ("SkylakeX")
  std::string origin;   // "environment", "chosen" or "openblas"
  std::string reason;   // one sentence saying why
  std::string library;  // OpenBLAS's build ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64")
};

// Returns in the process that runs on the chosen kernels; may not return at all in this process
// (it is replaced by the restarted one). A process started by the check itself runs the check and
// exits inside this call.
void choose_blas_kernels(int argc, char** argv);

// One sentence on OpenBLAS's own threads: none (OPENBLAS_NUM_THREADS=1), or why it has them.
std::string describe_blas_threads();

// The kernels in use and why (after choose_blas_kernels, or OpenBLAS's own choice without it).
BlasKernels blas_kernels();

// Whether this CPU has the AVX512_BF16 instructions (bfloat16 dot products; core/kernels/bfloat16.h).
bool cpu_has_avx512_bf16();

// One line for kat --version and the logs: "OpenBLAS 0.3.21, SkylakeX kernels (chosen: ...)".
std::string describe_blas_kernels();

}  // namespace kat
