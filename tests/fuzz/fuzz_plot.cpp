// libFuzzer entry point of the plot target (built with KAT_FUZZ=ON); the body is in plot_target.cpp.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kat::fuzz::plot_input({data, size});
  return 0;
}
