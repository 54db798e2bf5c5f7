#include "autograd/functions/dropout.h"

#include <fmt/format.h>

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

Tensor make_mask(const Shape& shape, DType dtype, double p, std::uint64_t key) {
  Tensor mask = Tensor::empty(shape, dtype);
  dispatch_float(dtype, "dropout", [&](auto tag) {
    using T = decltype(tag);
    T* m = mask.data<T>();
    const T keep = static_cast<T>(1.0 / (1.0 - p));
    parallel_for(0, mask.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        m[i] = counter_uniform(key, static_cast<std::uint64_t>(i)) < p ? T(0) : keep;
      }
    });
  });
  return mask;
}

}  // namespace

Variable dropout(const Variable& x, double p, Rng& rng, bool training) {
  if (!x.defined()) throw Error("dropout: undefined input");
  if (!(p >= 0.0 && p < 1.0)) throw Error(fmt::format("dropout: probability must be in [0, 1), got {}", p));
  if (!training || p == 0.0) return x;
  Tensor mask = make_mask(x.shape(), x.dtype(), p, rng.next_u64());
  Tensor out = binary(BinaryOp::mul, x.data(), mask);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<DropoutNode>();
  node->mask = mask;
  return attach(std::move(out), std::move(node), {&x});
}

}  // namespace kat
