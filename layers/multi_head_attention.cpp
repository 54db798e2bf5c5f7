#include "layers/multi_head_attention.h"

#include <fmt/format.h>

#include "autograd/ops.h"
#include "core/kernels/index.h"

namespace kat {

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& o, bool causal, Rng& rng)
    : Module("multi_head_attention"), options_(o) {
  if (o.d_model <= 0 || o.heads <= 0) {
    fail(fmt::format("d_model and heads must be positive, got d_model={} heads={}", o.d_model, o.heads));
  }
  if (o.d_model % o.heads != 0) {
    fail(fmt::format("d_model {} is not divisible by heads {}", o.d_model, o.heads));
  }
  head_dim_ = o.d_model / o.heads;
  const LinearOptions proj{o.d_model, o.d_model, o.bias};
  q_proj_ = add_module<Linear>("q_proj", proj, rng);
  k_proj_ = add_module<Linear>("k_proj", proj, rng);
  v_proj_ = add_module<Linear>("v_proj", proj, rng);
  o_proj_ = add_module<Linear>("o_proj", proj, rng);
  std::shared_ptr<AttentionKernel> kernel;
  try {
    kernel = make_attention(o.attention, AttentionSetup{head_dim_, causal, o.heads, o.cross}, rng);
  } catch (const LayerError& e) {
    throw LayerError(e.path().empty() ? "attention" : "attention." + e.path(), e.message());
  } catch (const Error& e) {
    fail(std::string("attention: ") + e.what());
  }
  kernel_ = register_module("attention", kernel);
}

void MultiHeadAttention::check_input(const Variable& x, const char* what) const {
  if (!x.defined() || x.dim() != 3 || x.size(2) != options_.d_model) {
    fail(fmt::format("{} must be (batch, length, {}), got {}", what, options_.d_model,
                     x.defined() ? to_string(x.shape()) : "undefined"));
  }
}

Variable MultiHeadAttention::split_heads(const Variable& x) const {
  return permute(reshape(x, {x.size(0), x.size(1), options_.heads, head_dim_}), {0, 2, 1, 3});
}

Variable MultiHeadAttention::merge_heads(const Variable& x) const {
  return reshape(permute(x, {0, 2, 1, 3}), {x.size(0), x.size(2), options_.d_model});
}

Variable MultiHeadAttention::forward(const Variable& query, const Variable& memory, const AttentionMask& mask) {
  check_input(query, "query");
  const Variable& kv = memory.defined() ? memory : query;
  if (memory.defined()) {
    check_input(memory, "memory");
    if (memory.size(0) != query.size(0)) {
      fail(fmt::format("query batch {} != memory batch {}", query.size(0), memory.size(0)));
    }
  }
  check_mask(mask, query.size(0), kv.size(1), where());
  const Variable q = split_heads(q_proj_->forward(query));
  const Variable k = split_heads(k_proj_->forward(kv));
  const Variable v = split_heads(v_proj_->forward(kv));
  return o_proj_->forward(merge_heads(kernel_->forward(q, k, v, mask)));
}

std::unique_ptr<AttentionState> MultiHeadAttention::start_self(std::int64_t batch) {
  return kernel_->start_self(batch);
}

Tensor MultiHeadAttention::step_self(const Tensor& x, AttentionState& state) {
  NoGradGuard no_grad;
  const Variable xv(x);
  check_input(xv, "step input");
  const Tensor q = split_heads(q_proj_->forward(xv)).data();
  const Tensor k = split_heads(k_proj_->forward(xv)).data();
  const Tensor v = split_heads(v_proj_->forward(xv)).data();
  return o_proj_->forward(merge_heads(Variable(kernel_->step_self(q, k, v, state)))).data();
}

Tensor MultiHeadAttention::step_self_rows(const Tensor& x, AttentionState& state) {
  NoGradGuard no_grad;
  const std::int64_t B = x.size(0), E = options_.d_model, H = options_.heads;
  // One position: (B, 1, H, D) with its heads moved forward is (B, H, 1, D) in the same memory.
  Tensor qkv = Tensor::empty({3, B, E});
  Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
  q_proj_->forward_into(x, q);
  k_proj_->forward_into(x, k);
  v_proj_->forward_into(x, v);
  const Tensor heads =
      kernel_
          ->step_self(q.view({B, H, 1, head_dim_}), k.view({B, H, 1, head_dim_}), v.view({B, H, 1, head_dim_}), state)
          .contiguous();  // (B, H, 1, D)
  Tensor out = Tensor::empty({B, E});
  o_proj_->forward_into(heads.view({B, E}), out);
  return out;
}

std::unique_ptr<AttentionState> MultiHeadAttention::start_cross(const Tensor& memory, const AttentionMask& mask) {
  NoGradGuard no_grad;
  const Variable m(memory);
  check_input(m, "memory");
  check_mask(mask, memory.size(0), memory.size(1), where());
  return kernel_->start_cross(split_heads(k_proj_->forward(m)).data(), split_heads(v_proj_->forward(m)).data(), mask);
}

Tensor MultiHeadAttention::step_cross(const Tensor& x, AttentionState& state, const CrossRows& rows) {
  NoGradGuard no_grad;
  const Variable xv(x);
  check_input(xv, "step input");
  const std::int64_t group = rows.group, n = x.size(0);
  if (group < 1 || x.size(1) != 1 || n % group != 0) {
    fail(fmt::format("step_cross takes (groups * {}, 1, E) for groups of {} rows, got {}", group, group,
                     to_string(x.shape())));
  }
  const std::int64_t groups = n / group;
  const bool mapped = rows.items != nullptr && !rows.items->empty();
  if (mapped && static_cast<std::int64_t>(rows.items->size()) != groups) {
    fail(fmt::format("step_cross: {} cross-attention entries named for {} groups of rows", rows.items->size(), groups));
  }
  // (groups * group, 1, E) -> (groups, group, E): a group's rows are the queries of its entry.
  const Variable grouped(x.reshape({groups, group, x.size(2)}));
  Tensor q = split_heads(q_proj_->forward(grouped)).data();  // (groups, H, group, D)
  if (!mapped) {
    const Tensor out = o_proj_->forward(merge_heads(Variable(kernel_->step_cross(q, state)))).data();
    return out.reshape({n, 1, out.size(2)});
  }
  for (std::int64_t e : *rows.items) {
    if (e < 0 || e >= rows.entries) {
      fail(fmt::format("step_cross: cross-attention entry {} outside the state's {}", e, rows.entries));
    }
  }
  // Every entry of the state gets queries (zeros where no group reads it); the groups' outputs are
  // then taken back out.
  const Tensor ids = Tensor::from_vector(*rows.items);
  const std::int64_t width = q.numel() / groups;
  Tensor all = Tensor::zeros({rows.entries, width}, q.dtype());
  scatter_add_rows(q.contiguous().reshape({groups, width}), ids, all, "step_cross");
  const Tensor attended = kernel_->step_cross(all.view({rows.entries, q.size(1), q.size(2), q.size(3)}), state);
  const Tensor mine = take_batch(attended, ids);  // (groups, H, group, Dv)
  const Tensor out = o_proj_->forward(merge_heads(Variable(mine))).data();
  return out.reshape({n, 1, out.size(2)});
}

}  // namespace kat
