#pragma once
// How many threads batch-1 decoding should run on. A token reads every weight matrix once, so its
// time is mostly memory traffic: whether a second core speeds it up depends on the machine (its
// caches and memory bandwidth per core) and on the model, and is measured rather than assumed.

#include <functional>

#include "layers/decode_state.h"

namespace kat {

struct DecodingThreads {
  int threads = 1;        // the count in use afterwards
  bool measured = false;  // false: the count was chosen (kat --threads, KAT_NUM_THREADS) or one core
  int all = 1;            // the other candidate: every thread allowed
  double ms_one = 0;      // milliseconds per token on one thread (when measured)
  double ms_all = 0;      // and on `all`
};

// Unless num_threads_chosen() or only one thread is allowed, one thread and all of them each
// decode 16 tokens with step() from a fresh start() after 4 untimed ones, twice over, alternating
// (fastest_thread_count); the faster count is set (set_num_threads) and returned with the figures.
// Costs about 100 tokens' time.
DecodingThreads choose_decoding_threads(const std::function<DecodeState()>& start,
                                        const std::function<void(DecodeState&)>& step);

}  // namespace kat
