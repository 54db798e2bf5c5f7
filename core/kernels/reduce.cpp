#include "core/kernels/reduce.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/parallel.h"

namespace kat {
namespace {

constexpr std::int64_t kChunk = 4096;  // rows per partial sum when one output gathers many rows

// Reduces a contiguous (outer, R, inner) view into out (outer, inner).
template <typename T>
void reduce_block(ReduceOp op, const T* in, T* out, std::int64_t outer, std::int64_t R, std::int64_t inner) {
  const bool is_max = op == ReduceOp::max;
  const double scale = op == ReduceOp::mean ? 1.0 / static_cast<double>(R) : 1.0;
  if (inner == 1) {
    // Each output reduces one contiguous row of R values. Long rows are cut into fixed chunks
    // combined in order, so the sum is the same whatever the threads.
    const std::int64_t nchunks = (R + kChunk - 1) / kChunk;
    Tensor partial_t = Tensor::empty({outer * nchunks}, DType::f64);  // a tensor: the block cache reuses it
    double* partial = partial_t.data<double>();
    parallel_for(0, outer * nchunks, std::max<std::int64_t>(1, 32768 / std::min(R, kChunk)),
                 [&](std::int64_t b, std::int64_t e) {
                   for (std::int64_t t = b; t < e; ++t) {
                     const std::int64_t o = t / nchunks, c = t % nchunks;
                     const T* row = in + o * R + c * kChunk;
                     const std::int64_t n = std::min(kChunk, R - c * kChunk);
                     if (is_max) {
                       T m = row[0];
                       for (std::int64_t r = 1; r < n; ++r) m = row[r] > m ? row[r] : m;
                       partial[t] = static_cast<double>(m);
                     } else {
                       double s = 0.0;
                       for (std::int64_t r = 0; r < n; ++r) s += static_cast<double>(row[r]);
                       partial[t] = s;
                     }
                   }
                 });
    for (std::int64_t o = 0; o < outer; ++o) {
      double acc = partial[o * nchunks];
      for (std::int64_t c = 1; c < nchunks; ++c) {
        const double v = partial[o * nchunks + c];
        acc = is_max ? std::max(acc, v) : acc + v;
      }
      out[o] = static_cast<T>(acc * scale);
    }
    return;
  }
  // Each output row gathers R rows of `inner` values: accumulate row by row (vectorized over
  // inner) in fixed chunks of R, one float64 buffer per chunk, then combine the chunks in order.
  const std::int64_t nchunks = (R + kChunk - 1) / kChunk;
  Tensor partial_t = Tensor::empty({outer * nchunks * inner}, DType::f64);
  double* partial = partial_t.data<double>();
  const std::int64_t work = std::min(R, kChunk) * inner;
  parallel_for(0, outer * nchunks, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(work, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t t = b; t < e; ++t) {
                   const std::int64_t o = t / nchunks, c = t % nchunks;
                   const std::int64_t r0 = c * kChunk, r1 = std::min(R, r0 + kChunk);
                   double* acc = partial + t * inner;
                   const T* first = in + (o * R + r0) * inner;
                   for (std::int64_t i = 0; i < inner; ++i) acc[i] = static_cast<double>(first[i]);
                   for (std::int64_t r = r0 + 1; r < r1; ++r) {
                     const T* row = in + (o * R + r) * inner;
                     if (is_max) {
                       for (std::int64_t i = 0; i < inner; ++i) {
                         acc[i] = std::max(acc[i], static_cast<double>(row[i]));
                       }
                     } else {
                       for (std::int64_t i = 0; i < inner; ++i) acc[i] += static_cast<double>(row[i]);
                     }
                   }
                 }
               });
  for (std::int64_t o = 0; o < outer; ++o) {
    double* acc = partial + o * nchunks * inner;
    for (std::int64_t c = 1; c < nchunks; ++c) {
      const double* p = acc + c * inner;
      for (std::int64_t i = 0; i < inner; ++i) acc[i] = is_max ? std::max(acc[i], p[i]) : acc[i] + p[i];
    }
    for (std::int64_t i = 0; i < inner; ++i) out[o * inner + i] = static_cast<T>(acc[i] * scale);
  }
}

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::mean: return "mean";
    case ReduceOp::max: return "max";
  }
  return "?";
}

// Reduces the contiguous block of axes [first, last] of a contiguous tensor, keeping them as size 1.
Tensor reduce_span(ReduceOp op, const Tensor& in, std::int64_t first, std::int64_t last) {
  const Shape& s = in.shape();
  std::int64_t outer = 1, R = 1, inner = 1;
  for (std::int64_t d = 0; d < in.dim(); ++d) {
    (d < first ? outer : d <= last ? R : inner) *= s[d];
  }
  Shape out_shape = s;
  for (std::int64_t d = first; d <= last; ++d) out_shape[d] = 1;
  Tensor out = Tensor::empty(out_shape, in.dtype());
  dispatch_float(in.dtype(), reduce_name(op), [&](auto tag) {
    using T = decltype(tag);
    reduce_block<T>(op, in.data<T>(), out.data<T>(), outer, R, inner);
  });
  return out;
}

}  // namespace

Tensor reduce(ReduceOp op, const Tensor& in, const std::vector<std::int64_t>& axes, bool keepdim) {
  const char* name = reduce_name(op);
  if (!in.defined()) throw Error(fmt::format("{}: undefined tensor", name));
  std::vector<bool> reduced(in.dim(), axes.empty());
  for (auto a : axes) reduced[normalize_axis(a, in.dim(), name)] = true;
  for (std::int64_t d = 0; d < in.dim(); ++d) {
    if (reduced[d] && in.size(d) == 0) {
      throw Error(fmt::format("{}: cannot reduce over axis {} of size 0 in shape {}", name, d, to_string(in.shape())));
    }
  }
  Tensor cur = in.contiguous();
  if (in.dim() == 0) cur = cur.view({1});
  // Reduce maximal runs of adjacent reduced axes, last run first; the result keeps size-1 axes.
  // A mean of several runs is the mean of means because every run reduces a fixed count.
  std::int64_t d = in.dim() - 1;
  while (d >= 0) {
    if (!reduced[d]) {
      --d;
      continue;
    }
    std::int64_t first = d;
    while (first > 0 && reduced[first - 1]) --first;
    cur = reduce_span(op, cur, first, d);
    d = first - 1;
  }
  if (in.dim() == 0) return cur.view({});
  if (keepdim) return cur;
  Shape out_shape;
  for (std::int64_t k = 0; k < in.dim(); ++k) {
    if (!reduced[k]) out_shape.push_back(in.size(k));
  }
  return cur.view(out_shape);
}

Tensor sum_to(const Tensor& in, const Shape& shape) {
  if (in.shape() == shape) return in;
  if (broadcast_shapes(shape, in.shape(), "sum_to") != in.shape()) {
    throw Error(fmt::format("sum_to: shape {} does not broadcast to {}", to_string(shape), to_string(in.shape())));
  }
  const std::int64_t lead = in.dim() - static_cast<std::int64_t>(shape.size());
  std::vector<std::int64_t> axes;
  for (std::int64_t d = 0; d < in.dim(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && in.size(d) != 1)) axes.push_back(d);
  }
  if (axes.empty()) return in.reshape(shape);
  return reduce(ReduceOp::sum, in, axes, true).reshape(shape);
}

Tensor argmax(const Tensor& in, std::int64_t axis) {
  if (!in.defined()) throw Error("argmax: undefined tensor");
  axis = normalize_axis(axis, in.dim(), "argmax");
  if (in.size(axis) == 0) throw Error(fmt::format("argmax: axis {} of shape {} is empty", axis, to_string(in.shape())));
  // Move the axis last, then scan rows.
  std::vector<std::int64_t> order;
  for (std::int64_t d = 0; d < in.dim(); ++d) {
    if (d != axis) order.push_back(d);
  }
  order.push_back(axis);
  Tensor rows = in.permute(order).contiguous();
  const std::int64_t R = rows.size(-1);
  const std::int64_t outer = rows.numel() / R;
  Shape out_shape(order.size() - 1);
  for (std::size_t k = 0; k + 1 < order.size(); ++k) out_shape[k] = in.size(order[k]);
  Tensor out = Tensor::empty(out_shape, DType::i64);
  std::int64_t* po = out.data<std::int64_t>();
  dispatch_float(in.dtype(), "argmax", [&](auto tag) {
    using T = decltype(tag);
    const T* p = rows.data<T>();
    parallel_for(0, outer, std::max<std::int64_t>(1, 32768 / R), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) {
        const T* row = p + o * R;
        std::int64_t best = 0;
        for (std::int64_t r = 1; r < R; ++r) {
          if (row[r] > row[best]) best = r;
        }
        po[o] = best;
      }
    });
  });
  return out;
}

}  // namespace kat
