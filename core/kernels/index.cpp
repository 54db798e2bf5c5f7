#include "core/kernels/index.h"

#include <fmt/format.h>

#include <cstring>

#include "core/kernels/elementwise.h"
#include "core/parallel.h"

namespace kat {
namespace {

void check_ids(const char* op, const Tensor& ids, std::int64_t V) {
  if (ids.dtype() != DType::i64) {
    throw Error(fmt::format("{}: ids must be int64, got {}", op, dtype_name(ids.dtype())));
  }
  const Tensor c = ids.contiguous();
  const std::int64_t* p = c.data<std::int64_t>();
  for (std::int64_t i = 0; i < c.numel(); ++i) {
    if (p[i] < 0 || p[i] >= V) {
      throw Error(fmt::format("{}: id {} at position {} is outside the table's {} rows [0, {})", op, p[i], i, V, V));
    }
  }
}

void check_table(const char* op, const Tensor& table) {
  if (!table.defined() || table.dim() != 2) {
    throw Error(fmt::format("{}: table must be a (rows, dim) matrix, got {}", op,
                            table.defined() ? to_string(table.shape()) : "undefined"));
  }
}

}  // namespace

Tensor gather_rows(const Tensor& table, const Tensor& ids, const char* op) {
  check_table(op, table);
  check_ids(op, ids, table.size(0));
  const std::int64_t D = table.size(1);
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, table.dtype());
  const Tensor t = table.contiguous();
  const Tensor ic = ids.contiguous();
  const std::int64_t* pi = ic.data<std::int64_t>();
  const std::size_t row_bytes = static_cast<std::size_t>(D) * dtype_size(table.dtype());
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  const std::int64_t n = ic.numel();
  parallel_for(0, n, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(D, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t i = b; i < e; ++i)
                   std::memcpy(dst + i * row_bytes, src + pi[i] * row_bytes, row_bytes);
               });
  return out;
}

void scatter_add_rows(const Tensor& src, const Tensor& ids, Tensor& table, const char* op) {
  check_table(op, table);
  check_ids(op, ids, table.size(0));
  const std::int64_t D = table.size(1);
  Shape expect = ids.shape();
  expect.push_back(D);
  if (src.shape() != expect || src.dtype() != table.dtype()) {
    throw Error(fmt::format("{}: source {} {} must be {} {} (ids shape + table width)", op, dtype_name(src.dtype()),
                            to_string(src.shape()), dtype_name(table.dtype()), to_string(expect)));
  }
  if (!table.is_contiguous()) throw Error(fmt::format("{}: table must be contiguous", op));
  const Tensor sc = src.contiguous();
  const Tensor ic = ids.contiguous();
  const std::int64_t* pi = ic.data<std::int64_t>();
  const std::int64_t n = ic.numel();
  dispatch_float(table.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* ps = sc.data<T>();
    T* pt = table.data<T>();
    // Columns are split among threads, so each row of the table is updated by one thread per block.
    const std::int64_t block = 64;
    parallel_for(0, (D + block - 1) / block, std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(n * block, 1)),
                 [&](std::int64_t b, std::int64_t e) {
                   const std::int64_t c0 = b * block, c1 = std::min(D, e * block);
                   for (std::int64_t i = 0; i < n; ++i) {
                     T* row = pt + pi[i] * D;
                     const T* s = ps + i * D;
                     for (std::int64_t c = c0; c < c1; ++c) row[c] += s[c];
                   }
                 });
  });
}

Tensor concat(const std::vector<Tensor>& parts, std::int64_t axis) {
  if (parts.empty()) throw Error("concat: no tensors given");
  const Tensor& first = parts.front();
  if (first.dim() == 0) throw Error("concat: cannot join scalars (shape ())");
  axis = normalize_axis(axis, first.dim(), "concat");
  Shape shape = first.shape();
  shape[axis] = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Tensor& p = parts[i];
    bool ok = p.defined() && p.dim() == first.dim() && p.dtype() == first.dtype();
    for (std::int64_t d = 0; ok && d < first.dim(); ++d) ok = d == axis || p.size(d) == first.size(d);
    if (!ok) {
      throw Error(fmt::format("concat: part {} has {} {} but part 0 has {} {} (axis {} may differ)", i,
                              p.defined() ? dtype_name(p.dtype()) : "undefined",
                              p.defined() ? to_string(p.shape()) : "()", dtype_name(first.dtype()),
                              to_string(first.shape()), axis));
    }
    shape[axis] += p.size(axis);
  }
  Tensor out = Tensor::empty(shape, first.dtype());
  std::int64_t at = 0;
  for (const Tensor& p : parts) {
    Tensor dst = out.slice(axis, at, at + p.size(axis));
    copy(p, dst);
    at += p.size(axis);
  }
  return out;
}

}  // namespace kat
