#include "autograd/functions/dropout.h"

#include <fmt/format.h>

#include <cmath>

#include "autograd/profiler.h"
#include "core/kernels/elementwise.h"
#include "core/parallel.h"

namespace kat {
namespace {

class DropoutNode final : public Node {
 public:
  Tensor mask;  // 0 or 1 / (1 - p)
  const char* name() const override { return "dropout"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {binary(BinaryOp::mul, g, mask)}; }
};

// A stateless 64-bit mix of (key, counter) (the finalizer of SplitMix64), inlined so the mask loop
// does not call out per element.
inline std::uint64_t mix(std::uint64_t key, std::uint64_t counter) {
  std::uint64_t z = key ^ (counter * 0xD6E8FEB86659FD93ULL);
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Element i is dropped when its 16-bit draw is below round(p * 65536): one hash of (key, i / 4)
// gives the draws of four elements. The probability is p to within 2^-17; the mask depends on the
// key and the element index only, not on how the threads split the work. Indices start at
// `first`: the mask of elements [first, first + n) of a larger tensor drawn with the same key.
// Writes the mask and x times the mask in one pass over contiguous x.
void mask_and_apply(const Tensor& x, Tensor& mask, Tensor& out, double p, std::uint64_t key, std::int64_t first) {
  const auto threshold = static_cast<std::uint32_t>(std::llround(p * 65536.0));
  dispatch_float(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* m = mask.data<T>();
    T* o = out.data<T>();
    const T keep = static_cast<T>(1.0 / (1.0 - p));
    const std::int64_t n = x.numel();
    const std::int64_t first_group = first / 4;
    const std::int64_t end_group = (first + n + 3) / 4;
    parallel_for(first_group, end_group, 4096, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t g = b; g < e; ++g) {
        const std::uint64_t h = mix(key, static_cast<std::uint64_t>(g));
        const std::int64_t base = 4 * g - first;  // local index of the group's first element
        const bool whole = base >= 0 && base + 4 <= n;
        for (int j = 0; j < 4; ++j) {
          if (!whole && (base + j < 0 || base + j >= n)) continue;
          const T mj = static_cast<std::uint32_t>((h >> (16 * j)) & 0xFFFF) < threshold ? T(0) : keep;
          m[base + j] = mj;
          o[base + j] = xp[base + j] * mj;
        }
      }
    });
  });
}

}  // namespace

Variable dropout(const Variable& x, double p, Rng& rng, bool training, std::int64_t first_element) {
  if (!x.defined()) throw Error("dropout: undefined input");
  if (!(p >= 0.0 && p < 1.0)) throw Error(fmt::format("dropout: probability must be in [0, 1), got {}", p));
  if (first_element < 0) throw Error(fmt::format("dropout: first_element must be >= 0, got {}", first_element));
  if (!training || p == 0.0) return x;
  OpTimer timer("dropout");
  const Tensor in = x.data().contiguous();
  Tensor mask = Tensor::empty(in.shape(), in.dtype());
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  mask_and_apply(in, mask, out, p, rng.next_u64(), first_element);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<DropoutNode>();
  node->mask = mask;
  return attach(std::move(out), std::move(node), {&x});
}

}  // namespace kat
