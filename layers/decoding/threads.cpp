#include "layers/decoding/threads.h"

#include <chrono>
#include <vector>

#include "core/parallel.h"

namespace kat {

DecodingThreads choose_decoding_threads(const std::function<DecodeState()>& start,
                                        const std::function<void(DecodeState&)>& step) {
  DecodingThreads out;
  out.threads = out.all = num_threads();
  if (num_threads_chosen() || num_threads() == 1) return out;
  const auto ms_per_token = [&] {
    DecodeState st = start();
    for (int i = 0; i < 4; ++i) step(st);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 16; ++i) step(st);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 16;
  };
  std::vector<double> ms;
  out.threads = fastest_thread_count({1, out.all}, 2, ms_per_token, &ms);
  out.measured = true;
  out.ms_one = ms[0];
  out.ms_all = ms[1];
  set_num_threads(out.threads);
  return out;
}

}  // namespace kat
