// The doctest main of every test program but test_mpi: a --test-case filter that selects no test
// case fails the run (tests/selection_counter.h says why).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "core/kernels/blas_kernels.h"
#include "tests/selection_counter.h"

int main(int argc, char** argv) {
  kat::choose_blas_kernels(argc, argv);  // the kernels kat itself would run on
  bool by_name = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    by_name = by_name || a.rfind("--test-case=", 0) == 0 || a.rfind("-tc=", 0) == 0;
  }
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit()) return status;
  if (status == 0 && by_name && kat::test::selected_test_cases == 0) {
    std::fprintf(stderr, "no test case matches the --test-case filter\n");
    return 1;
  }
  return status;
}
