// Generation speed of the reference language model (vocab 256, d_model 256, 4 layers, 4 heads, FFN
// 1024, pre-norm), batch 1, one token at a time through the decoding state: a KV cache for softmax
// attention, the recurrent (S, z) sums for linear and Performer attention.
//
//   generation --attention linear [--positions 256,1024,4096,16384 --window 64 --threads 1|2|auto]
//              [--features 64] [--jump 1] [--weights f32|f16] [--profile 1]
//
// --weights f16 decodes with float16 copies of the linear layers' weights (layers/linear.h).
// --threads auto measures one thread against all of them first and decodes on the faster, as `kat
// generate` does (layers/decoding/threads.h); the JSON then has the chosen count and both figures.
//
// Prints one JSON line: the mean milliseconds per token over the `window` tokens that end at each
// position, the heap allocations (malloc and friends, bench/malloc_count.h) per token, and
// `weights_read_ms`: the median time, on the decoding's thread count, to read every parameter of the
// model once and do nothing else with it. A token reads each weight matrix once, so that is the
// floor under the milliseconds of a recurrent (linear or Performer) token at any position. With
// --weights f16 also `token_weights_read_ms`: the time to read as many bytes as such a token reads
// (the float16 copies and the float32 rest), the floor of float16 decoding. bench/generation.py runs
// it against the PyTorch peer (bench/peers/generation_peer.py).
//
// --profile 1 prints to stderr where a token's time goes, by op (autograd/profiler.h), over every
// decoded token.
//
// By default one run decodes every token from position 0 to the last position. With --jump 1 each
// position starts from a fresh state made at position p - window - 8: every layer's attention state
// holds that many random keys and values (softmax: a KV cache of them, through start_cross; linear
// and Performer: their sums), and the decoder's position is set to it; then 8 untimed tokens and
// the window are decoded. A token costs what it costs at that position (the work depends on the
// state's size, not on its values), without decoding the thousands of tokens before it: that is
// how bench/compare.sh reaches position 16384 for softmax attention in its time budget.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/profiler.h"
#include "bench/malloc_count.h"
#include "core/kernels/blas_kernels.h"
#include "core/parallel.h"
#include "layers/attention/attention.h"
#include "layers/decoding/threads.h"
#include "layers/linear.h"
#include "layers/models/language_model.h"

namespace {

// Floats to read: blocks of at most 16 Ki floats.
struct Block {
  const float* p;
  std::int64_t n;
};

void add_blocks(std::vector<Block>& blocks, const float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 16384) blocks.push_back({x + i, std::min<std::int64_t>(16384, n - i)});
}

// Milliseconds to read the blocks once, spread over the threads (a sum per block, so that the
// reads are not optimized away; eight independent float32 lanes of four partial sums each, which
// the compiler vectorizes), the median of 41 passes after 5 untimed ones.
double read_ms(const std::vector<Block>& blocks, double& checksum) {
  std::vector<float> sums(blocks.size());
  std::vector<double> times;
  for (int pass = 0; pass < 46; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    kat::parallel_for(0, static_cast<std::int64_t>(blocks.size()), 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b) {
        const float* x = blocks[static_cast<std::size_t>(b)].p;
        const std::int64_t n = blocks[static_cast<std::size_t>(b)].n, whole = n / 32 * 32;
        float acc[32] = {};
        for (std::int64_t i = 0; i < whole; i += 32) {
          for (int j = 0; j < 32; ++j) acc[j] += x[i + j];
        }
        for (std::int64_t i = whole; i < n; ++i) acc[0] += x[i];
        float s = 0;
        for (float a : acc) s += a;
        sums[static_cast<std::size_t>(b)] += s;
      }
    });
    const auto t1 = std::chrono::steady_clock::now();
    if (pass >= 5) times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  checksum = 0;
  for (float a : sums) checksum += a;
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
  return times[times.size() / 2];
}

// Bytes of weights a token reads: every parameter once as float32, except the matrices decoded
// from float16 copies (Linear layers with half weights, a tied output with a float16 copy of the
// embedding), which it reads at two bytes a weight.
// float32_bytes: every parameter's.
std::int64_t token_weight_bytes(kat::TransformerLM& lm, std::int64_t float32_bytes) {
  std::int64_t bytes = float32_bytes;
  lm.visit([&](kat::Module& m) {
    if (auto* l = dynamic_cast<kat::Linear*>(&m); l != nullptr && l->half_weights()) {
      bytes -= l->weight().data().numel() * 2;
    }
  });
  if (lm.decoder().half_tied_output()) bytes -= lm.decoder().embedding().weight().data().numel() * 2;
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  kat::choose_blas_kernels(argc, argv);  // the kernels the kat command would run on
  using namespace kat;
  std::string attention = "linear";
  std::vector<std::int64_t> positions = {256, 1024, 4096, 16384};
  std::int64_t window = 64, features = 64;
  int threads = 1;  // 0: auto
  bool jump = false, profile = false;
  std::string weights_kind = "f32";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--attention") {
      attention = v;
    } else if (k == "--positions") {
      positions.clear();
      std::stringstream ss(v);
      for (std::string p; std::getline(ss, p, ',');) positions.push_back(std::atoll(p.c_str()));
    } else if (k == "--window") {
      window = std::atoll(v.c_str());
    } else if (k == "--threads") {
      threads = v == "auto" ? 0 : std::atoi(v.c_str());
    } else if (k == "--features") {
      features = std::atoll(v.c_str());
    } else if (k == "--weights") {
      if (v != "f32" && v != "f16") {
        std::fprintf(stderr, "generation: --weights takes f32 or f16, got %s\n", v.c_str());
        return 2;
      }
      weights_kind = v;
    } else if (k == "--jump") {
      jump = v == "1";
    } else if (k == "--profile") {
      profile = v == "1";
    } else {
      std::fprintf(stderr, "generation: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (threads > 0) set_num_threads(threads);
  std::int64_t last = 0;
  for (auto p : positions) last = std::max(last, p);

  Rng rng(1);
  const StackOptions o = reference_lm_options(attention, features, /*dropout=*/0.0, last + 1);
  TransformerLM lm(o, rng);
  lm.eval();
  if (weights_kind == "f16") use_half_weights(lm, true);
  NoGradGuard no_grad;
  DecodingThreads dt;
  if (threads == 0) {
    const Tensor probe = Tensor::from_vector<std::int64_t>({65});
    dt = choose_decoding_threads([&] { return lm.start(1); }, [&](DecodeState& st) { lm.step(probe, st); });
    threads = dt.threads;
  }

  std::vector<double> ms(static_cast<std::size_t>(last));
  std::int64_t step_mallocs = 0, steps = 0;
  Tensor token = Tensor::from_vector<std::int64_t>({65});
  // Decodes positions [from, to) from `state`, recording each token's milliseconds.
  Profiler profiler;
  double profiled_seconds = 0;
  auto decode = [&](DecodeState& state, std::int64_t from, std::int64_t to) {
    for (std::int64_t t = from; t < to; ++t) {
      const std::int64_t m0 = bench::malloc_calls();
      const auto t0 = std::chrono::steady_clock::now();
      Tensor logits;
      if (profile) {
        ProfileScope on(profiler);
        logits = lm.step(token, state);
      } else {
        logits = lm.step(token, state);
      }
      const auto t1 = std::chrono::steady_clock::now();
      if (profile) profiled_seconds += std::chrono::duration<double>(t1 - t0).count();
      step_mallocs += bench::malloc_calls() - m0;
      ++steps;
      ms[static_cast<std::size_t>(t)] = std::chrono::duration<double, std::milli>(t1 - t0).count();
      token = Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(rng.below(256))});
      (void)logits;
    }
  };
  if (!jump) {
    DecodeState state = lm.start(1);
    decode(state, 0, last);
  } else {
    std::vector<AttentionKernel*> kernels;  // in layer order
    lm.visit([&](Module& m) {
      if (auto* k = dynamic_cast<AttentionKernel*>(&m)) kernels.push_back(k);
    });
    const std::int64_t heads = o.layer.heads, head_dim = o.layer.d_model / o.layer.heads;
    for (auto p : positions) {
      const std::int64_t from = std::max<std::int64_t>(0, p - window - 8);
      DecodeState state = lm.start(1);
      if (from > 0) {
        for (std::size_t i = 0; i < kernels.size(); ++i) {
          Tensor k = Tensor::empty({1, heads, from, head_dim}), v = Tensor::empty({1, heads, from, head_dim});
          fill_normal(k, rng, 0.0, 1.0);
          fill_normal(v, rng, 0.0, 1.0);
          state.self[i] = kernels[i]->start_cross(k, v, AttentionMask{});
        }
        state.position = from;
      }
      decode(state, from, p);
    }
  }
  if (profile) std::fputs(format_profile(profiler.ops(), steps, profiled_seconds, {}).c_str(), stderr);
  nlohmann::ordered_json out;
  out["impl"] = "kat";
  out["attention"] = attention;
  out["weights"] = weights_kind;
  out["threads"] = threads;
  if (dt.measured) {
    out["threads_measured_ms_per_token"] = {{"1", dt.ms_one}, {std::to_string(dt.all), dt.ms_all}};
  }
  auto& per_token = out["ms_per_token"];
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const std::int64_t p = positions[i];
    double sum = 0;
    const std::int64_t from = std::max<std::int64_t>(0, p - window);
    for (std::int64_t t = from; t < p; ++t) sum += ms[static_cast<std::size_t>(t)];
    per_token[std::to_string(p)] = sum / static_cast<double>(p - from);
  }
  // The floors: every float32 weight read once, and (float16 decoding) as many bytes as a token
  // reads, from a buffer of that size.
  double checksum = 0, checksum16 = 0;
  std::vector<Block> weights;
  std::int64_t weight_bytes = 0;
  for (const Variable& p : lm.parameters()) {
    add_blocks(weights, p.data().data<float>(), p.data().numel());
    weight_bytes += p.data().numel() * static_cast<std::int64_t>(sizeof(float));
  }
  const double f32_ms = read_ms(weights, checksum);
  out["mallocs_per_token"] = static_cast<double>(step_mallocs) / static_cast<double>(std::max<std::int64_t>(steps, 1));
  out["weights_mb"] = static_cast<double>(weight_bytes) / 1e6;
  out["weights_read_ms"] = f32_ms;
  if (weights_kind == "f16") {
    const std::int64_t bytes = token_weight_bytes(lm, weight_bytes);
    std::vector<float> buffer(static_cast<std::size_t>(bytes / 4), 1.0f);
    std::vector<Block> blocks;
    add_blocks(blocks, buffer.data(), static_cast<std::int64_t>(buffer.size()));
    out["token_weights_mb"] = static_cast<double>(bytes) / 1e6;
    out["token_weights_read_ms"] = read_ms(blocks, checksum16);
  }
  out["weights_checksum"] = checksum;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
