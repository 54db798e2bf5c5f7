#include "train/distributed/grad_reducer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace kat {

GradientReducer::GradientReducer(Communicator& comm, std::vector<Variable> params, std::size_t bucket_bytes)
    : comm_(comm), params_(std::move(params)), bucket_of_(params_.size()), ready_(params_.size(), 0) {
  const std::size_t bucket_floats = std::max<std::size_t>(1, bucket_bytes / sizeof(float));
  for (std::size_t k = params_.size(); k-- > 0;) {
    const Variable& p = params_[k];
    if (p.dtype() != DType::f32) {
      throw Error(fmt::format("data-parallel training reduces float32 gradients; parameter {} is {}", k,
                              dtype_name(p.dtype())));
    }
    const auto n = static_cast<std::size_t>(p.numel());
    if (buckets_.empty() || (buckets_.back().waiting > 0 && buckets_.back().buffer.size() + n > bucket_floats)) {
      buckets_.emplace_back();
    }
    Bucket& b = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    b.params.push_back(k);
    b.offsets.push_back(b.buffer.size());
    b.buffer.resize(b.buffer.size() + n);
    ++b.waiting;
  }
  for (Bucket& b : buckets_) b.buffer.resize(b.buffer.size() + b.params.size());  // the flags
  for (std::size_t k = 0; k < params_.size(); ++k) params_[k].set_grad_ready_hook([this, k] { on_ready(k); });
}

GradientReducer::~GradientReducer() {
  for (Variable& p : params_) p.set_grad_ready_hook({});
  for (Bucket& b : buckets_) {
    if (b.sum) b.sum->wait();
  }
}

void GradientReducer::arm() {
  for (Bucket& b : buckets_) {
    if (b.sum) b.sum->wait();  // a step abandoned halfway (an exception) left it running
    b.sum.reset();
    b.waiting = b.params.size();
  }
  std::fill(ready_.begin(), ready_.end(), 0);
  next_to_start_ = next_to_test_ = started_in_backward_ = 0;
  armed_ = true;
}

void GradientReducer::on_ready(std::size_t param) {
  if (!armed_ || ready_[param]) return;
  ready_[param] = 1;
  --buckets_[bucket_of_[param]].waiting;
  start_ready_buckets();
  // Keep the started sums moving while backward goes on.
  while (next_to_test_ < next_to_start_ && buckets_[next_to_test_].sum->test()) ++next_to_test_;
}

void GradientReducer::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].waiting == 0) {
    start(buckets_[next_to_start_]);
    ++next_to_start_;
  }
}

void GradientReducer::start(Bucket& b) {
  const std::size_t flags = b.buffer.size() - b.params.size();
  for (std::size_t i = 0; i < b.params.size(); ++i) {
    const Tensor& g = params_[b.params[i]].grad();
    float* dst = b.buffer.data() + b.offsets[i];
    const auto n = static_cast<std::size_t>(params_[b.params[i]].numel());
    if (g.defined()) {
      const Tensor c = g.contiguous();
      std::memcpy(dst, c.data<float>(), n * sizeof(float));
    } else {
      std::fill(dst, dst + n, 0.0f);
    }
    b.buffer[flags + i] = g.defined() ? 1.0f : 0.0f;
  }
  b.sum = comm_.start_sum(b.buffer);
}

void GradientReducer::finish() {
  if (!armed_) throw Error("GradientReducer::finish without arm");
  started_in_backward_ = next_to_start_;
  for (std::size_t k = 0; k < params_.size(); ++k) {
    if (!ready_[k]) {
      ready_[k] = 1;
      --buckets_[bucket_of_[k]].waiting;
    }
  }
  start_ready_buckets();
  armed_ = false;
  for (Bucket& b : buckets_) {
    b.sum->wait();
    b.sum.reset();
    const std::size_t flags = b.buffer.size() - b.params.size();
    for (std::size_t i = 0; i < b.params.size(); ++i) {
      Variable& p = params_[b.params[i]];
      if (b.buffer[flags + i] == 0.0f) {
        p.set_grad(Tensor());  // no rank has a gradient: none, as in one process
        continue;
      }
      Tensor g = p.grad();
      if (!g.defined() || !g.is_contiguous()) g = Tensor::empty(p.shape(), DType::f32);
      std::memcpy(g.data<float>(), b.buffer.data() + b.offsets[i], static_cast<std::size_t>(p.numel()) * sizeof(float));
      p.set_grad(g);
    }
  }
}

}  // namespace kat
