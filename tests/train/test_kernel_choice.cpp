// The OpenBLAS kernels kat chooses at start-up (core/kernels/blas_kernels.h): a set
// OPENBLAS_CORETYPE wins, otherwise a checked family for this CPU with its verdict cached, a family
// that failed its check is passed over, checkpoints record the family they were trained on, and
// OpenBLAS starts none of its own threads unless OPENBLAS_NUM_THREADS says otherwise.
#include <doctest/doctest.h>

#include <filesystem>

#include "core/kernels/blas_kernels.h"
#include "tests/train/train_test_util.h"
#include "train/run_folder/checkpoint.h"

using namespace kat;
using kat::test::read_file;
using kat::test::run_split;
using kat::test::ScratchDir;
using kat::test::shell_quote;
using kat::test::write_file;

namespace {

// `kat --version` with OPENBLAS_CORETYPE unset and the verdict cache under `cache`.
std::string version_unset(const ScratchDir& cache) {
  const auto r =
      run_split("env -u OPENBLAS_CORETYPE -u KAT_BLAS_CHOICE XDG_CACHE_HOME=" + shell_quote(cache.path().string()) +
                " " + KAT_BINARY + " --version");
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// The family named by a --version line "OpenBLAS x.y.z, FAMILY kernels: reason".
std::string family_of(const std::string& version) {
  const auto end = version.find(" kernels: ");
  REQUIRE(end != std::string::npos);
  const auto start = version.rfind(", ", end);
  REQUIRE(start != std::string::npos);
  REQUIRE(version.compare(version.rfind('\n', start) + 1, 9, "OpenBLAS ") == 0);
  return version.substr(start + 2, end - start - 2);
}

}  // namespace

TEST_CASE("kernel choice: a set OPENBLAS_CORETYPE wins and is named as the reason") {
  const auto r = run_split(std::string("OPENBLAS_CORETYPE=Sandybridge ") + KAT_BINARY + " --version");
  REQUIRE(r.exit_code == 0);
  CHECK(family_of(r.out) == "Sandybridge");
  CHECK(r.out.find("OPENBLAS_CORETYPE=Sandybridge is set in the environment") != std::string::npos);
}

TEST_CASE("kernel choice: without the variable a family is checked once, cached, and one that fails is passed over") {
  ScratchDir cache("kernel-cache");
  const std::string first = version_unset(cache);
  const std::string family = family_of(first);
  CHECK(family != "");
  if (first.find("checked against a reference") == std::string::npos) {
    // OpenBLAS's own choice was already the best this CPU allows (or a newer one): nothing to check.
    MESSAGE("no family was checked on this CPU: " << first);
    CHECK(first.find("OpenBLAS's own choice") != std::string::npos);
    return;
  }
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    CHECK((family == "Cooperlake" || family == "SkylakeX" || family == "Haswell"));
  }
  const std::string table = cache.file("kat/openblas-kernels.tsv");
  const std::string verdicts = read_file(table);
  CHECK(verdicts.find("|" + family + "\tok\n") != std::string::npos);
  const std::string second = version_unset(cache);
  CHECK(family_of(second) == family);
  CHECK(second.find("(cached)") != std::string::npos);
  CHECK(read_file(table) == verdicts);  // a cached verdict is not checked again

  // The same family recorded as computing wrong results: the next one for this CPU is taken.
  std::string wrong = verdicts;
  wrong.replace(wrong.find("|" + family + "\tok\n"), family.size() + 5, "|" + family + "\twrong\n");
  write_file(table, wrong);
  const std::string third = version_unset(cache);
  CHECK(family_of(third) != family);
  CHECK(third.find(family + " rejected") != std::string::npos);
}

TEST_CASE("kernel choice: checkpoints record the family, and a resume on another one says so") {
  ScratchDir dir("kernel-resume");
  const std::string run = dir.file("run");
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/copy-tiny.yaml";
  const std::string train = std::string(KAT_BINARY) + " train " + config + " --set output.dir=" + shell_quote(run) +
                            " --set train.valid_interval=0 --set train.log_interval=5";
  const auto first = run_split("OPENBLAS_CORETYPE=Sandybridge " + train + " --set train.steps=6");
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.find("matrix products: OpenBLAS") != std::string::npos);
  CHECK(read_checkpoint(run + "/checkpoints/last.h5").blas_kernels == "Sandybridge");
  const auto resumed = run_split("OPENBLAS_CORETYPE=Haswell " + std::string(KAT_BINARY) + " train --resume " +
                                 shell_quote(run) + " --set train.steps=8");
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("was written on OpenBLAS's Sandybridge kernels and this process runs Haswell") !=
        std::string::npos);
  CHECK(read_checkpoint(run + "/checkpoints/last.h5").blas_kernels == "Haswell");
  const auto again = run_split("OPENBLAS_CORETYPE=Haswell " + std::string(KAT_BINARY) + " train --resume " +
                               shell_quote(run) + " --set train.steps=10");
  REQUIRE(again.exit_code == 0);
  CHECK(again.err.find("not bit for bit") == std::string::npos);
}

TEST_CASE("kernel choice: the process running the tests reports what it runs on") {
  const BlasKernels k = blas_kernels();
  CHECK(!k.family.empty());
  CHECK(!k.reason.empty());
  CHECK((k.origin == "environment" || k.origin == "chosen" || k.origin == "openblas"));
  CHECK(describe_blas_kernels().find(k.family + " kernels: ") != std::string::npos);
}

TEST_CASE("kernel choice: a check that cannot finish passes to the next family and leaves no verdict behind") {
  ScratchDir cache("kernel-timeout");
  const auto r = run_split("env -u OPENBLAS_CORETYPE -u KAT_BLAS_CHOICE KAT_BLAS_CHECK_SECONDS=0 XDG_CACHE_HOME=" +
                           shell_quote(cache.path().string()) + " " + KAT_BINARY + " --version");
  REQUIRE(r.exit_code == 0);
  if (r.out.find("rejected") == std::string::npos) {
    MESSAGE("no family was checked on this CPU: " << r.out);
    return;
  }
  CHECK(r.out.find("the check did not finish in 0 s") != std::string::npos);
  CHECK(r.out.find("checked against a reference") == std::string::npos);  // no family passed a check
  // Nothing was cached: the next start checks again, with time to finish.
  CHECK(!std::filesystem::exists(cache.file("kat/openblas-kernels.tsv")));
  const std::string next = version_unset(cache);
  CHECK(next.find("checked against a reference") != std::string::npos);
  CHECK(next.find("(cached)") == std::string::npos);
}

TEST_CASE("kernel choice: OpenBLAS makes no threads of its own unless OPENBLAS_NUM_THREADS is set") {
  // The last line of `kat --version` says what OpenBLAS's own threads are.
  const auto threads_line = [](const std::string& env) {
    const auto r = run_split(env + " " + KAT_BINARY + " --version");
    REQUIRE(r.exit_code == 0);
    const auto at = r.out.find("OpenBLAS's own threads: ");
    REQUIRE(at != std::string::npos);
    return r.out.substr(at);
  };
  CHECK(threads_line("env -u OPENBLAS_NUM_THREADS").find("none (OPENBLAS_NUM_THREADS=1)") != std::string::npos);
  CHECK(threads_line("env OPENBLAS_NUM_THREADS=3").find("OPENBLAS_NUM_THREADS=3 is set in the environment") !=
        std::string::npos);
  // KAT_BLAS_CHOICE=off leaves OpenBLAS alone, its threads too.
  CHECK(threads_line("env -u OPENBLAS_NUM_THREADS KAT_BLAS_CHOICE=off").find("started") != std::string::npos);
}
