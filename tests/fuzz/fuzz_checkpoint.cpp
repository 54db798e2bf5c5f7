// libFuzzer entry point of the checkpoint target (built with KAT_FUZZ=ON); the body is in checkpoint_target.cpp.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kat::fuzz::checkpoint_input({data, size});
  return 0;
}
