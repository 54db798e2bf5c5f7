#pragma once
// Element types. Models run in float32; gradient checks run the same kernels in float64;
// token ids and other indices are int64.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace kat {

enum class DType : std::uint8_t { f32, f64, i64 };

inline std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64:
    case DType::i64: return 8;
  }
  return 0;
}

inline std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
  }
  return "?";
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::i64;
}

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

// Calls fn with a value of the element type (float or double) of a floating tensor, so one
// templated kernel serves both precisions: dispatch_float(t, "op", [&](auto tag) { using T = decltype(tag); ... }).
template <typename Fn>
decltype(auto) dispatch_float(DType t, std::string_view op, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    case DType::i64: break;
  }
  throw Error(std::string(op) + ": expected a float32 or float64 tensor, got " + std::string(dtype_name(t)));
}

}  // namespace kat
