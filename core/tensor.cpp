#include "core/tensor.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <numeric>

#include "core/kernels/elementwise.h"

namespace kat {
namespace {

constexpr std::int64_t kMaxDims = 16;

void check_shape(const Shape& shape, const char* op) {
  if (static_cast<std::int64_t>(shape.size()) > kMaxDims) {
    throw Error(fmt::format("{}: {} dimensions requested; at most {} are supported", op, shape.size(), kMaxDims));
  }
  for (auto s : shape) {
    if (s < 0) throw Error(fmt::format("{}: negative size in shape {}", op, kat::to_string(shape)));
  }
}

}  // namespace

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, std::int64_t offset, DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      dtype_(dtype) {}

Tensor Tensor::with_layout(Shape shape, Strides strides, std::int64_t offset) const {
  return Tensor(storage_, std::move(shape), std::move(strides), offset, dtype_);
}

namespace {

std::string bytes_text(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} bytes", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_shape(shape, "Tensor::empty");
  const std::size_t bytes = static_cast<std::size_t>(kat::numel(shape)) * dtype_size(dtype);
  std::shared_ptr<Storage> storage;
  try {
    storage = std::make_shared<Storage>(bytes);
  } catch (const std::bad_alloc&) {
    const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    throw SystemError(fmt::format("out of memory: a {} tensor of shape {} needs {} (the machine has {} in all)",
                                  dtype_name(dtype), kat::to_string(shape), bytes_text(static_cast<double>(bytes)),
                                  bytes_text(memory)));
  }
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor Tensor::arange(std::int64_t n, DType dtype) {
  Tensor t = empty({n}, DType::f64);
  double* p = t.data<double>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<double>(i);
  return dtype == DType::f64 ? t : t.to(dtype);
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<std::int64_t>(values.size()) != kat::numel(shape)) {
    throw Error(fmt::format("Tensor::from_vector: {} values do not fill shape {} ({} elements)", values.size(),
                            kat::to_string(shape), kat::numel(shape)));
  }
  Tensor t = empty(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector<std::int64_t>(const std::vector<std::int64_t>&, const Shape&);

std::int64_t Tensor::size(std::int64_t axis) const { return shape_[normalize_axis(axis, dim(), "Tensor::size")]; }

std::int64_t Tensor::stride(std::int64_t axis) const { return strides_[normalize_axis(axis, dim(), "Tensor::stride")]; }

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (std::size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() {
  if (!defined()) throw Error("Tensor::raw_data: undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
}

const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

Tensor Tensor::view(const Shape& shape) const {
  Shape out = shape;
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw Error(fmt::format("view: more than one -1 in {}", kat::to_string(shape)));
      infer = static_cast<int>(i);
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel() % known != 0) {
      throw Error(fmt::format("view: cannot infer -1 in {} for {} elements", kat::to_string(shape), numel()));
    }
    out[infer] = numel() / known;
  }
  check_shape(out, "view");
  if (kat::numel(out) != numel()) {
    throw Error(fmt::format("view: shape {} ({} elements) does not match {} ({} elements)", kat::to_string(out),
                            kat::numel(out), kat::to_string(shape_), numel()));
  }
  if (!is_contiguous()) {
    throw Error(fmt::format("view: tensor of shape {} is not contiguous; use reshape()", kat::to_string(shape_)));
  }
  return with_layout(out, contiguous_strides(out), offset_);
}

Tensor Tensor::reshape(const Shape& shape) const { return is_contiguous() ? view(shape) : contiguous().view(shape); }

Tensor Tensor::transpose(std::int64_t a, std::int64_t b) const {
  a = normalize_axis(a, dim(), "transpose");
  b = normalize_axis(b, dim(), "transpose");
  Shape s = shape_;
  Strides st = strides_;
  std::swap(s[a], s[b]);
  std::swap(st[a], st[b]);
  return with_layout(std::move(s), std::move(st), offset_);
}

Tensor Tensor::permute(const std::vector<std::int64_t>& order) const {
  if (static_cast<std::int64_t>(order.size()) != dim()) {
    throw Error(fmt::format("permute: order has {} axes but the tensor has {} dimensions", order.size(), dim()));
  }
  std::vector<bool> seen(order.size(), false);
  Shape s(order.size());
  Strides st(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::int64_t ax = normalize_axis(order[i], dim(), "permute");
    if (seen[ax]) throw Error(fmt::format("permute: axis {} repeated in ({})", ax, fmt::join(order, ", ")));
    seen[ax] = true;
    s[i] = shape_[ax];
    st[i] = strides_[ax];
  }
  return with_layout(std::move(s), std::move(st), offset_);
}

Tensor Tensor::slice(std::int64_t axis, std::int64_t start, std::int64_t end) const {
  axis = normalize_axis(axis, dim(), "slice");
  const std::int64_t n = shape_[axis];
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (start < 0 || end > n || start > end) {
    throw Error(fmt::format("slice: range [{}, {}) out of bounds for axis {} of size {} in shape {}", start, end, axis,
                            n, kat::to_string(shape_)));
  }
  Shape s = shape_;
  s[axis] = end - start;
  return with_layout(std::move(s), strides_, offset_ + start * strides_[axis]);
}

Tensor Tensor::select(std::int64_t axis, std::int64_t index) const {
  axis = normalize_axis(axis, dim(), "select");
  if (index < 0) index += shape_[axis];
  if (index < 0 || index >= shape_[axis]) {
    throw Error(fmt::format("select: index {} out of range for axis {} of size {}", index, axis, shape_[axis]));
  }
  Shape s = shape_;
  Strides st = strides_;
  s.erase(s.begin() + axis);
  st.erase(st.begin() + axis);
  return with_layout(std::move(s), std::move(st), offset_ + index * strides_[axis]);
}

Tensor Tensor::expand(const Shape& shape) const {
  check_shape(shape, "expand");
  if (broadcast_shapes(shape_, shape, "expand") != shape) {
    throw Error(
        fmt::format("expand: shape {} cannot be expanded to {}", kat::to_string(shape_), kat::to_string(shape)));
  }
  return with_layout(shape, broadcast_strides(shape_, strides_, shape), offset_);
}

Tensor Tensor::unsqueeze(std::int64_t axis) const {
  axis = normalize_axis(axis, dim() + 1, "unsqueeze");
  Shape s = shape_;
  Strides st = strides_;
  const std::int64_t stride = axis < dim() ? strides_[axis] * shape_[axis] : 1;
  s.insert(s.begin() + axis, 1);
  st.insert(st.begin() + axis, stride);
  return with_layout(std::move(s), std::move(st), offset_);
}

Tensor Tensor::squeeze(std::int64_t axis) const {
  axis = normalize_axis(axis, dim(), "squeeze");
  if (shape_[axis] != 1) {
    throw Error(fmt::format("squeeze: axis {} has size {} in shape {}, expected 1", axis, shape_[axis],
                            kat::to_string(shape_)));
  }
  Shape s = shape_;
  Strides st = strides_;
  s.erase(s.begin() + axis);
  st.erase(st.begin() + axis);
  return with_layout(std::move(s), std::move(st), offset_);
}

Tensor Tensor::flatten_outer() const {
  if (dim() == 0) throw Error("flatten_outer: a scalar has no last dimension");
  return reshape({-1, shape_.back()});
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_);
  kat::copy(*this, out);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype);
  kat::copy(*this, out);
  return out;
}

void Tensor::copy_(const Tensor& src) { kat::copy(src, *this); }

void Tensor::fill_(double value) {
  Tensor s = empty({}, DType::f64);
  *s.data<double>() = value;
  kat::copy(s, *this);
}

double Tensor::item() const {
  if (numel() != 1) {
    throw Error(fmt::format("item: tensor of shape {} has {} elements, expected 1", kat::to_string(shape_), numel()));
  }
  return at(std::vector<std::int64_t>(shape_.size(), 0));
}

double Tensor::at(const std::vector<std::int64_t>& index) const {
  if (static_cast<std::int64_t>(index.size()) != dim()) {
    throw Error(fmt::format("at: {} indices for a tensor of {} dimensions", index.size(), dim()));
  }
  std::int64_t off = offset_;
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (index[i] < 0 || index[i] >= shape_[i]) {
      throw Error(fmt::format("at: index {} out of range for axis {} of size {}", index[i], i, shape_[i]));
    }
    off += index[i] * strides_[i];
  }
  switch (dtype_) {
    case DType::f32: return static_cast<const float*>(storage_->data())[off];
    case DType::f64: return static_cast<const double*>(storage_->data())[off];
    case DType::i64: return static_cast<double>(static_cast<const std::int64_t*>(storage_->data())[off]);
  }
  return 0.0;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(dtype_of<T>()).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

std::string Tensor::to_string(std::int64_t max_elements) const {
  if (!defined()) return "Tensor(undefined)";
  const auto values = to_vector<double>();
  const std::size_t shown = std::min<std::size_t>(values.size(), static_cast<std::size_t>(max_elements));
  std::string body = fmt::format("{:.6g}", fmt::join(values.begin(), values.begin() + shown, ", "));
  if (shown < values.size()) body += ", ...";
  return fmt::format("Tensor({}, shape={}, [{}])", dtype_name(dtype_), kat::to_string(shape_), body);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) {
    throw Error(fmt::format("max_abs_diff: shapes {} and {} differ", to_string(a.shape()), to_string(b.shape())));
  }
  const auto va = a.to_vector<double>();
  const auto vb = b.to_vector<double>();
  double m = 0.0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    const double d = std::abs(va[i] - vb[i]);
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

std::vector<std::int64_t> memory_order(const Tensor& t) {
  const std::int64_t n = t.dim();
  std::vector<std::int64_t> order;
  order.reserve(static_cast<std::size_t>(n));
  for (std::int64_t ax = 0; ax < n; ++ax) {
    if (t.size(ax) == 1) order.push_back(ax);
  }
  const auto ones = static_cast<std::ptrdiff_t>(order.size());
  for (std::int64_t ax = 0; ax < n; ++ax) {
    if (t.size(ax) != 1) order.push_back(ax);
  }
  std::stable_sort(order.begin() + ones, order.end(),
                   [&](std::int64_t a, std::int64_t b) { return t.stride(a) > t.stride(b); });
  // Dense: from the innermost axis out, each stride is the product of the sizes inside it.
  std::int64_t expected = 1;
  for (auto i = static_cast<std::ptrdiff_t>(order.size()) - 1; i >= ones; --i) {
    const std::int64_t ax = order[static_cast<std::size_t>(i)];
    if (t.stride(ax) != expected) return {};
    expected *= t.size(ax);
  }
  return order;
}

std::vector<std::int64_t> rows_layout(const Tensor& t) {
  std::vector<std::int64_t> order = memory_order(t);
  if (order.empty() || order.back() != t.dim() - 1) return {};
  return order;
}

Tensor empty_in_order(const Shape& shape, const std::vector<std::int64_t>& order, DType dtype) {
  if (order.empty()) return Tensor::empty(shape, dtype);
  if (order.size() != shape.size()) {
    throw Error(fmt::format("empty_in_order: an order of {} axes for shape {}", order.size(), to_string(shape)));
  }
  Shape stored(shape.size());
  std::vector<std::int64_t> back(shape.size());  // axis i of the result is axis back[i] of stored
  std::vector<bool> seen(shape.size(), false);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::int64_t ax = order[i];
    if (ax < 0 || ax >= static_cast<std::int64_t>(shape.size()) || seen[static_cast<std::size_t>(ax)]) {
      throw Error(fmt::format("empty_in_order: ({}) is not an order of the axes of {}", fmt::join(order, ", "),
                              to_string(shape)));
    }
    seen[static_cast<std::size_t>(ax)] = true;
    stored[i] = shape[static_cast<std::size_t>(ax)];
    back[static_cast<std::size_t>(ax)] = static_cast<std::int64_t>(i);
  }
  return Tensor::empty(stored, dtype).permute(back);
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  const auto va = a.to_vector<double>();
  const auto vb = b.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i) {
    if (!(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i]))) return false;
  }
  return true;
}

}  // namespace kat
