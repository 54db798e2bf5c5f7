// The thread pool's settings: choosing a thread count by a cost measured under each candidate.
#include <doctest/doctest.h>

#include <map>

#include "core/error.h"
#include "core/parallel.h"

using namespace kat;

TEST_CASE("fastest_thread_count: the cheapest candidate, each run under its own thread count, then restored") {
  const int saved = num_threads();
  // A cost that depends on the thread count it runs under, and that drifts between calls: each
  // candidate keeps its lowest.
  std::map<int, int> calls;
  double drift = 0;
  const auto cost = [&] {
    ++calls[num_threads()];
    drift += 0.25;
    return (num_threads() == 3 ? 1.0 : 2.0) + (num_threads() == 1 ? 0.0 : drift);
  };
  std::vector<double> costs;
  CHECK(fastest_thread_count({1, 2, 3}, 2, cost, &costs) == 3);
  CHECK(calls == std::map<int, int>{{1, 2}, {2, 2}, {3, 2}});
  REQUIRE(costs.size() == 3);
  CHECK(costs[0] == 2.0);
  CHECK(costs[1] == 2.5);   // 2 + 0.5 (its first call, the second overall)
  CHECK(costs[2] == 1.75);  // 1 + 0.75
  CHECK(num_threads() == saved);
  CHECK(fastest_thread_count({3, 1}, 1, [] { return num_threads() == 3 ? 2.0 : 1.0; }) == 1);
  // Ties go to the earlier candidate.
  CHECK(fastest_thread_count({2, 1}, 1, [] { return 1.0; }) == 2);
  CHECK(num_threads() == saved);
  CHECK_THROWS_AS(fastest_thread_count({}, 1, [] { return 1.0; }), Error);
  CHECK_THROWS_AS(fastest_thread_count({0}, 1, [] { return 1.0; }), Error);
}
