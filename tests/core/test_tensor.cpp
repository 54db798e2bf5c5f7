#include <doctest/doctest.h>

#include <cstdint>

#include "core/storage.h"
#include "core/tensor.h"
#include "tests/test_util.h"

using namespace kat;

TEST_CASE("storage is 64-byte aligned and counted") {
  const auto before = memory_stats();
  {
    Tensor t = Tensor::empty({3, 5}, DType::f32);
    CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0);
    CHECK(memory_stats().live_bytes >= before.live_bytes + 60);
    CHECK(memory_stats().allocations == before.allocations + 1);
  }
  CHECK(memory_stats().live_bytes == before.live_bytes);
}

TEST_CASE("a freed small block is reused by the next allocation of its size on the same thread") {
  const void* first = nullptr;
  {
    Tensor t = Tensor::empty({7, 9}, DType::f32);  // 252 bytes: the 256-byte class
    first = t.raw_data();
  }
  const auto before = memory_stats();
  Tensor other = Tensor::empty({100}, DType::f32);  // 400 bytes, the 448-byte class: not the freed block
  CHECK(other.raw_data() != first);
  Tensor same = Tensor::empty({63}, DType::f32);  // 252 bytes again
  CHECK(same.raw_data() == first);
  CHECK(reinterpret_cast<std::uintptr_t>(same.raw_data()) % 64 == 0);
  const auto after = memory_stats();
  CHECK(after.small_reused >= before.small_reused + 1);
  CHECK(after.live_bytes == before.live_bytes + 448 + 256);  // whole multiples of 64 bytes
  // The reused block is whole: writing all of it and reading it back needs no other block.
  for (std::int64_t i = 0; i < 63; ++i) same.data<float>()[i] = static_cast<float>(i);
  float sum = 0;
  for (std::int64_t i = 0; i < 63; ++i) sum += same.data<float>()[i];
  CHECK(sum == doctest::Approx(63 * 62 / 2));
  release_cached_memory();
  CHECK(memory_stats().live_bytes == after.live_bytes);
}

TEST_CASE("factories and element access") {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.strides() == Strides{3, 1});
  CHECK(t.at({1, 2}) == 6.0);
  CHECK(Tensor::full({2}, 2.5, DType::f64).at({1}) == 2.5);
  CHECK(Tensor::arange(4, DType::i64).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(Tensor::scalar(3.0).item() == 3.0);
  CHECK_THROWS_AS(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), Error);
  CHECK_THROWS_AS(t.data<double>(), Error);
  CHECK_THROWS_AS(t.item(), Error);
}

TEST_CASE("views share storage and index correctly") {
  Tensor t = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});

  SUBCASE("transpose") {
    Tensor tt = t.transpose(0, 2);
    CHECK(tt.shape() == Shape{2, 3, 2});
    CHECK(!tt.is_contiguous());
    CHECK(tt.storage() == t.storage());
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 3; ++b)
        for (int c = 0; c < 2; ++c) CHECK(tt.at({c, b, a}) == t.at({a, b, c}));
  }
  SUBCASE("permute then contiguous copies in the new order") {
    Tensor p = t.permute({1, 2, 0});
    CHECK(p.shape() == Shape{3, 2, 2});
    Tensor c = p.contiguous();
    CHECK(c.is_contiguous());
    CHECK(c.storage() != t.storage());
    CHECK(c.at({2, 1, 0}) == t.at({0, 2, 1}));
    CHECK_THROWS_AS(t.permute({0, 0, 1}), Error);
  }
  SUBCASE("slice and select") {
    Tensor s = t.slice(1, 1, 3);
    CHECK(s.shape() == Shape{2, 2, 2});
    CHECK(s.at({1, 0, 1}) == t.at({1, 1, 1}));
    CHECK(t.slice(1, -2, 3).at({0, 0, 0}) == 2.0);
    CHECK(t.select(0, 1).at({2, 1}) == 11.0);
    CHECK_THROWS_AS(t.slice(1, 2, 4), Error);
    CHECK_THROWS_AS(t.slice(3, 0, 1), Error);
  }
  SUBCASE("reshape is a view when contiguous, a copy otherwise") {
    Tensor r = t.reshape({3, -1});
    CHECK(r.shape() == Shape{3, 4});
    CHECK(r.storage() == t.storage());
    Tensor rt = t.transpose(0, 1).reshape({-1});
    CHECK(rt.storage() != t.storage());
    CHECK(rt.at({2}) == t.at({1, 0, 0}));
    CHECK_THROWS_AS(t.view({5, -1}), Error);
    CHECK_THROWS_AS(t.transpose(0, 1).view({12}), Error);
  }
  SUBCASE("expand, unsqueeze, squeeze") {
    Tensor row = Tensor::from_vector<double>({1, 2, 3}, {1, 3});
    Tensor e = row.expand({4, 3});
    CHECK(e.strides()[0] == 0);
    CHECK(e.at({3, 2}) == 3.0);
    CHECK(e.contiguous().at({2, 1}) == 2.0);
    CHECK_THROWS_AS(row.expand({4, 2}), Error);
    CHECK(row.unsqueeze(0).shape() == Shape{1, 1, 3});
    CHECK(row.unsqueeze(-1).shape() == Shape{1, 3, 1});
    CHECK(row.squeeze(0).shape() == Shape{3});
    CHECK_THROWS_AS(row.squeeze(1), Error);
  }
  SUBCASE("copy_ into a strided view writes only the view") {
    Tensor z = Tensor::zeros({3, 4}, DType::f64);
    Tensor col = z.slice(1, 1, 2);
    col.copy_(Tensor::from_vector<double>({7, 8, 9}, {3, 1}));
    CHECK(z.at({0, 1}) == 7.0);
    CHECK(z.at({2, 1}) == 9.0);
    CHECK(z.at({2, 2}) == 0.0);
  }
}

TEST_CASE("memory_order finds the axis order of a permuted contiguous tensor, and empty_in_order makes one") {
  using Order = std::vector<std::int64_t>;
  const Tensor x = Tensor::empty({2, 5, 3, 4});  // as split into heads: (B, N, H, D)
  CHECK(memory_order(x) == Order{0, 1, 2, 3});
  const Tensor heads = x.permute({0, 2, 1, 3});  // (B, H, N, D) view
  CHECK(memory_order(heads) == Order{0, 2, 1, 3});
  // A tensor of another last size in that order: the strides a contiguous (B, N, H, 7) would have.
  const Tensor y = empty_in_order({2, 3, 5, 7}, memory_order(heads));
  CHECK(y.shape() == Shape{2, 3, 5, 7});
  CHECK(y.strides() == Strides{105, 7, 21, 1});
  CHECK(y.permute({0, 2, 1, 3}).is_contiguous());
  const Tensor same = empty_in_order(heads.shape(), memory_order(heads));
  CHECK(same.strides() == heads.strides());
  // Axes of size 1 count as outermost, whatever their stride.
  CHECK(memory_order(Tensor::empty({1, 4, 1, 3}).permute({0, 2, 1, 3})) == Order{0, 1, 2, 3});
  CHECK(memory_order(Tensor::empty({3, 4}).transpose(0, 1)) == Order{1, 0});
  // Not a permutation of a contiguous tensor: a slice with gaps, a broadcast.
  CHECK(memory_order(x.slice(3, 0, 2)).empty());
  CHECK(memory_order(Tensor::empty({1, 3}).expand({4, 3})).empty());
  // Row-major for an empty order; a wrong order is refused by name.
  CHECK(empty_in_order({2, 3}, {}).is_contiguous());
  CHECK_THROWS_WITH_AS(empty_in_order({2, 3}, {0, 0}), doctest::Contains("empty_in_order"), Error);
  CHECK_THROWS_WITH_AS(empty_in_order({2, 3}, {0}), doctest::Contains("empty_in_order"), Error);
}

TEST_CASE("dtype conversion round-trips") {
  Tensor i = Tensor::from_vector<std::int64_t>({1, -2, 3});
  Tensor f = i.to(DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.to_vector<float>() == std::vector<float>{1, -2, 3});
  CHECK(f.to(DType::f64).to(DType::i64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3});
}

TEST_CASE("errors name the op and the shapes") {
  Tensor t = Tensor::zeros({2, 3});
  try {
    (void)t.view({4, 2});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("view") != std::string::npos);
    CHECK(std::string(e.what()).find("(4, 2)") != std::string::npos);
    CHECK(std::string(e.what()).find("(2, 3)") != std::string::npos);
  }
  CHECK_THROWS_AS(Tensor::empty({-1, 2}), Error);
  CHECK_THROWS_AS(Tensor::empty(Shape(17, 1)), Error);
}
