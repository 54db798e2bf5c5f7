#include "layers/attention/softmax_attention.h"

#include <fmt/format.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/index.h"
#include "layers/attention/softmax_attention_op.h"

namespace kat {
namespace {

// Keys and values of the positions seen so far, in buffers that double when full. A reorder of a
// self-attention cache copies the positions in use into a second pair of buffers and swaps the
// pairs, so beam search allocates nothing per step.
class KVCache final : public AttentionState {
 public:
  Tensor k, v;  // (B, H, capacity, D), (B, H, capacity, Dv): the first B rows of base_k, base_v
  Tensor base_k, base_v, spare_k, spare_v;  // self-attention's own two pairs (cross-attention: none)
  std::int64_t used = 0;
  std::vector<std::int64_t> key_lengths;  // cross-attention padding; empty for self-attention

  void append(const Tensor& k1, const Tensor& v1) {  // (B, H, 1, D)
    if (!k.defined() || used == k.size(2)) {
      const std::int64_t cap = k.defined() ? 2 * k.size(2) : 64;
      Tensor nk = Tensor::empty({k1.size(0), k1.size(1), cap, k1.size(3)}, k1.dtype());
      Tensor nv = Tensor::empty({v1.size(0), v1.size(1), cap, v1.size(3)}, v1.dtype());
      if (used > 0) {
        Tensor dk = nk.slice(2, 0, used), dv = nv.slice(2, 0, used);
        dk.copy_(keys());
        dv.copy_(values());
      }
      k = base_k = nk;
      v = base_v = nv;
      spare_k = spare_v = Tensor();
    }
    Tensor dk = k.slice(2, used, used + 1), dv = v.slice(2, used, used + 1);
    dk.copy_(k1);
    dv.copy_(v1);
    ++used;
  }
  Tensor keys() const { return k.slice(2, 0, used); }
  Tensor values() const { return v.slice(2, 0, used); }

  void reorder(const Tensor& indices) override {
    if (!k.defined()) return;
    if (base_k.defined()) {
      Tensor nk = take_batch_prefix(k, indices, used, spare_k);
      Tensor nv = take_batch_prefix(v, indices, used, spare_v);
      Tensor next_k = spare_k.defined() && nk.raw_data() == spare_k.raw_data() ? spare_k : nk;
      Tensor next_v = spare_v.defined() && nv.raw_data() == spare_v.raw_data() ? spare_v : nv;
      spare_k = base_k;
      spare_v = base_v;
      base_k = next_k;
      base_v = next_v;
      k = nk;
      v = nv;
    } else {
      k = take_batch(k, indices);
      v = take_batch(v, indices);
    }
    if (!key_lengths.empty()) {
      std::vector<std::int64_t> lengths;
      for (auto i : indices.to_vector<std::int64_t>()) lengths.push_back(key_lengths.at(i));
      key_lengths = std::move(lengths);
    }
  }
  std::int64_t length() const override { return used; }
};

KVCache& as_cache(AttentionState& state, const std::string& where) {
  auto* cache = dynamic_cast<KVCache*>(&state);
  if (cache == nullptr) throw Error(where + ": decoding state was not made by softmax attention");
  return *cache;
}

}  // namespace

SoftmaxAttention::SoftmaxAttention(const AttentionSetup& setup) : AttentionKernel("softmax_attention"), setup_(setup) {
  if (setup.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", setup.head_dim));
  scale_ = 1.0 / std::sqrt(static_cast<double>(setup.head_dim));
}

Variable SoftmaxAttention::forward(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask) {
  AttentionMask m = mask;
  m.causal = mask.causal || setup_.causal;
  return softmax_attention(q, k, v, m, scale_);
}

std::unique_ptr<AttentionState> SoftmaxAttention::start_self(std::int64_t /*batch*/) {
  return std::make_unique<KVCache>();
}

Tensor SoftmaxAttention::step_self(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state) {
  NoGradGuard no_grad;
  KVCache& cache = as_cache(state, where());
  cache.append(k, v);
  // The new query is the last position: it sees every cached key, so no mask is needed.
  return softmax_attention(Variable(q), Variable(cache.keys()), Variable(cache.values()), AttentionMask{}, scale_)
      .data();
}

std::unique_ptr<AttentionState> SoftmaxAttention::start_cross(const Tensor& k, const Tensor& v,
                                                              const AttentionMask& mask) {
  auto cache = std::make_unique<KVCache>();
  cache->k = k;
  cache->v = v;
  cache->used = k.size(2);
  cache->key_lengths = mask.key_lengths;
  return cache;
}

Tensor SoftmaxAttention::step_cross(const Tensor& q, AttentionState& state) {
  NoGradGuard no_grad;
  KVCache& cache = as_cache(state, where());
  AttentionMask mask;
  mask.key_lengths = cache.key_lengths;
  return softmax_attention(Variable(q), Variable(cache.keys()), Variable(cache.values()), mask, scale_).data();
}

}  // namespace kat
