#include <doctest/doctest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "core/small_vector.h"

using kat::SmallVector;
using V = SmallVector<std::int64_t, 4>;

namespace {

std::vector<std::int64_t> as_vector(const V& v) { return v.to_vector(); }

}  // namespace

TEST_CASE("small vector: grows past its inline capacity and keeps its elements") {
  V v;
  CHECK(v.empty());
  CHECK(v.capacity() == 4);
  for (std::int64_t i = 0; i < 11; ++i) v.push_back(i * i);
  CHECK(v.size() == 11);
  CHECK(v.capacity() >= 11);
  for (std::int64_t i = 0; i < 11; ++i) CHECK(v[static_cast<std::size_t>(i)] == i * i);
  v.push_back(v[3]);  // an element of the vector itself, while it may move
  CHECK(v.back() == 9);
  v.resize(2);
  CHECK(as_vector(v) == std::vector<std::int64_t>{0, 1});
  v.resize(5, 7);
  CHECK(as_vector(v) == std::vector<std::int64_t>{0, 1, 7, 7, 7});
}

TEST_CASE("small vector: copies and moves, inline and on the heap, are independent") {
  for (std::int64_t n : {3, 9}) {
    CAPTURE(n);
    V a;
    for (std::int64_t i = 0; i < n; ++i) a.push_back(i);
    V b = a;
    b[0] = 100;
    CHECK(a[0] == 0);
    V c = std::move(b);
    CHECK(c[0] == 100);
    CHECK(c.size() == static_cast<std::size_t>(n));
    CHECK(b.empty());  // NOLINT(bugprone-use-after-move): a moved-from vector is empty
    b = c;
    CHECK(b == c);
    c = std::move(a);
    CHECK(c[0] == 0);
    CHECK(b[0] == 100);
    V d{1, 2};
    d = std::move(b);
    CHECK(d[0] == 100);
    CHECK(d.size() == static_cast<std::size_t>(n));
  }
}

TEST_CASE("small vector: insert and erase, including a range of itself") {
  V v{1, 2, 3};
  v.insert(v.begin(), 0);
  v.insert(v.end(), 2, 9);
  CHECK(as_vector(v) == std::vector<std::int64_t>{0, 1, 2, 3, 9, 9});
  v.insert(v.begin() + 1, v.begin() + 3, v.end());  // 3 9 9 before the 1
  CHECK(as_vector(v) == std::vector<std::int64_t>{0, 3, 9, 9, 1, 2, 3, 9, 9});
  v.erase(v.begin() + 1, v.begin() + 4);
  CHECK(as_vector(v) == std::vector<std::int64_t>{0, 1, 2, 3, 9, 9});
  v.erase(v.end() - 1);
  v.pop_back();
  CHECK(as_vector(v) == std::vector<std::int64_t>{0, 1, 2, 3});
  const std::vector<std::int64_t> from{5, 6, 7, 8, 9, 10};
  const V w = from;
  CHECK(w.size() == 6);
  CHECK(as_vector(w) == from);
  CHECK(V{1, 2} < V{1, 3});
  CHECK(V{1, 2} != V{1, 2, 0});
}

TEST_CASE("parallel_for: a RangeFn calls the callable it refers to over the whole range") {
  std::vector<int> hits(1000, 0);
  std::int64_t calls = 0;
  auto fn = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
  };
  kat::parallel_for(0, 1000, 10, fn);
  kat::parallel_for(0, 1000, 2000, [&](std::int64_t b, std::int64_t e) { calls += e - b; });
  for (int h : hits) CHECK(h == 1);
  CHECK(calls == 1000);
}
