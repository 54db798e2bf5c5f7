#pragma once
// Tensor: a strided view (sizes, strides and offset in elements) of a shared Storage.
// Views (reshape of contiguous data, transpose, permute, slice, expand, unsqueeze, squeeze) share
// the storage; contiguous() and clone() copy. Copying a Tensor object is cheap and aliases.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace kat {

class Tensor {
 public:
  Tensor() = default;  // undefined: holds no storage

  // Factories. Shapes may hold zeros; kernels refuse empty tensors where that makes no sense.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);  // shape ()
  static Tensor arange(std::int64_t n, DType dtype = DType::f32);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<std::int64_t>(values.size())});
  }

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  std::int64_t offset() const { return offset_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t axis) const;  // negative axes count from the end
  std::int64_t stride(std::int64_t axis) const;
  std::int64_t numel() const { return kat::numel(shape_); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Typed pointer to element [0, ..., 0]; throws when T does not match the dtype.
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  void* raw_data();
  const void* raw_data() const;

  // Views.
  Tensor view(const Shape& shape) const;     // contiguous input only; one dimension may be -1
  Tensor reshape(const Shape& shape) const;  // a view when contiguous, else a copy
  Tensor transpose(std::int64_t a, std::int64_t b) const;
  Tensor permute(const std::vector<std::int64_t>& order) const;
  Tensor slice(std::int64_t axis, std::int64_t start, std::int64_t end) const;  // [start, end)
  Tensor select(std::int64_t axis, std::int64_t index) const;                   // drops the axis
  Tensor expand(const Shape& shape) const;  // broadcast to `shape` (stride 0), NumPy rules
  Tensor unsqueeze(std::int64_t axis) const;
  Tensor squeeze(std::int64_t axis) const;  // the axis must have size 1
  Tensor flatten_outer() const;             // (..., C) -> (R, C) view or copy

  // Copies.
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a new contiguous tensor
  Tensor to(DType dtype) const;
  void copy_(const Tensor& src);  // src broadcast to this shape; this may be a strided view
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // Element access for tests and small bookkeeping (slow; not for kernels).
  double item() const;  // a tensor of one element
  double at(const std::vector<std::int64_t>& index) const;
  template <typename T>
  std::vector<T> to_vector() const;  // row-major order, converting the element type
  std::string to_string(std::int64_t max_elements = 64) const;

 private:
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, std::int64_t offset, DType dtype);
  Tensor with_layout(Shape shape, Strides strides, std::int64_t offset) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  std::int64_t offset_ = 0;
  DType dtype_ = DType::f32;
};

// The order of t's axes in memory, outermost first, when t is a permutation of a contiguous tensor
// (a view such as x.permute(...) of a contiguous x; axes of size 1 count as outermost); empty
// when t is not (a slice with gaps, a broadcast).
std::vector<std::int64_t> memory_order(const Tensor& t);
// memory_order(t) when t's last axis is its innermost (its rows are contiguous), else empty: the
// layout an op's output or gradient takes from an input whose rows it reads in place (heads split
// from a (B, N, H D) projection), so that merging the heads back needs no copy.
std::vector<std::int64_t> rows_layout(const Tensor& t);
// An uninitialized tensor of `shape` whose axes lie in memory in `order` (outermost first, a
// permutation of its axes; empty: row-major). For an op's output or gradient that keeps the layout
// of its input (memory_order of it), so that the view ops around the op need no copy.
Tensor empty_in_order(const Shape& shape, const std::vector<std::int64_t>& order, DType dtype = DType::f32);

// True when both tensors have the same shape and every element differs by at most
// atol + rtol * |b| (NaN never matches).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
// Largest absolute elementwise difference of two tensors of the same shape.
double max_abs_diff(const Tensor& a, const Tensor& b);

template <typename T>
T* Tensor::data() {
  if (dtype_of<T>() != dtype_) {
    throw Error("Tensor::data: requested " + std::string(dtype_name(dtype_of<T>())) + " from a " +
                std::string(dtype_name(dtype_)) + " tensor");
  }
  return static_cast<T*>(storage_->data()) + offset_;
}

template <typename T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

}  // namespace kat
