// The op profiler: forward and backward of every op by name, counted once when timers nest, and
// nothing recorded outside a ProfileScope. Tests assert names, calls and FLOP counts, never times
// (beyond their sum fitting in the profiled region).
#include <doctest/doctest.h>

#include <chrono>

#include "autograd/ops.h"
#include "autograd/profiler.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

namespace {

const OpProfile* find(const std::vector<OpProfile>& ops, const std::string& name) {
  for (const OpProfile& op : ops) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

double total_seconds(const std::vector<OpProfile>& ops) {
  double s = 0;
  for (const OpProfile& op : ops) s += op.forward_seconds + op.backward_seconds;
  return s;
}

}  // namespace

TEST_CASE("the profiler times every op's forward and every node's backward, by op name") {
  Rng rng(3);
  Variable x(randn({5, 4}, rng), false);
  Variable w(randn({4, 3}, rng), true);
  Variable b(randn({3}, rng), true);
  Profiler prof;
  const auto t0 = std::chrono::steady_clock::now();
  {
    ProfileScope on(prof);
    for (int step = 0; step < 2; ++step) {
      const Variable y = relu(matmul(x, w) + b);
      sum(y * y).backward();  // y read twice: the engine adds its two gradients
    }
  }
  const double region = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sum(matmul(x, w)).backward();  // outside the scope: not recorded

  const std::vector<OpProfile> ops = prof.ops();
  for (const char* name : {"matmul", "add", "relu", "mul", "sum"}) {
    CAPTURE(name);
    const OpProfile* op = find(ops, name);
    REQUIRE(op != nullptr);
    CHECK(op->forward_calls == 2);
    CHECK(op->backward_calls == 2);
  }
  const OpProfile* mm = find(ops, "matmul");
  CHECK(mm->forward_flops == doctest::Approx(2 * 2.0 * 5 * 3 * 4));   // 2 M N K per call
  CHECK(mm->backward_flops == doctest::Approx(2 * 2.0 * 5 * 3 * 4));  // only w needs a gradient: one product
  CHECK(find(ops, "add")->forward_flops == 0);
  const OpProfile* acc = find(ops, "accumulate_grad");
  REQUIRE(acc != nullptr);
  CHECK(acc->forward_calls == 0);
  CHECK(acc->backward_calls == 4);  // w and b, two steps
  const OpProfile* engine_add = find(ops, "grad_accumulate (engine)");
  REQUIRE(engine_add != nullptr);
  CHECK(engine_add->backward_calls == 2);
  CHECK(ops.size() == 7);
  CHECK(total_seconds(ops) <= region);
  for (std::size_t i = 1; i < ops.size(); ++i) {
    CHECK(ops[i - 1].forward_seconds + ops[i - 1].backward_seconds >= ops[i].forward_seconds + ops[i].backward_seconds);
  }
}

TEST_CASE("a timer inside another is subtracted from it, so each interval counts once") {
  Rng rng(4);
  Variable x(randn({64, 64}, rng), true);
  Profiler prof;
  const auto t0 = std::chrono::steady_clock::now();
  {
    ProfileScope on(prof);
    OpTimer outer("composite");
    Variable y = matmul(x, x) * x;
    outer.stop();
    OpTimer other("composite");  // a second call of the same op name
  }
  const double region = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<OpProfile> ops = prof.ops();
  REQUIRE(find(ops, "composite") != nullptr);
  CHECK(find(ops, "composite")->forward_calls == 2);
  CHECK(find(ops, "matmul")->forward_calls == 1);
  CHECK(find(ops, "mul")->forward_calls == 1);
  CHECK(find(ops, "composite")->forward_seconds >= 0);
  CHECK(total_seconds(ops) <= region);
}

TEST_CASE("without a ProfileScope timers are off and record nothing") {
  Profiler prof;
  {
    OpTimer t("never");
    CHECK_FALSE(t.active());
  }
  {
    ProfileScope on(prof);
    {
      ProfileScope inner(prof);
      OpTimer t("inner");
      CHECK(t.active());
    }
    OpTimer t("outer");
    CHECK(t.active());  // the inner scope restored the outer one
  }
  OpTimer after("after");
  CHECK_FALSE(after.active());
  CHECK(prof.ops().size() == 2);
}

TEST_CASE("the profile table has a row per op, the parts outside ops, and the step") {
  OpProfile mm;
  mm.name = "matmul";
  mm.forward_calls = 6;
  mm.backward_calls = 6;
  mm.forward_seconds = 0.3;
  mm.backward_seconds = 0.6;
  mm.forward_flops = 3e10;
  mm.backward_flops = 6e10;
  OpProfile acc;
  acc.name = "accumulate_grad";
  acc.backward_calls = 4;
  acc.backward_seconds = 0.1;
  const std::string t = format_profile({mm, acc}, 2, 2.0, {{"optimizer step (adam)", 0.4}});
  CHECK(t.find("| matmul | 3 / 3 | 150.00 | 300.00 | 450.00 | 45.0% | 100.0 | 100.0 |") != std::string::npos);
  CHECK(t.find("| accumulate_grad | 0 / 2 |") != std::string::npos);
  CHECK(t.find("| all ops | | 150.00 | 350.00 | 500.00 | 50.0% |") != std::string::npos);
  CHECK(t.find("| optimizer step (adam) | | | | 200.00 | 20.0% |") != std::string::npos);
  CHECK(t.find("| other (outside ops: layer code, graph, engine) | | | | 300.00 | 30.0% |") != std::string::npos);
  CHECK(t.find("| step | | | | 1000.00 | 100.0% |") != std::string::npos);
  // A step under 10 ms (a decoded token) gets four decimals.
  OpProfile small = mm;
  small.forward_calls = small.backward_calls = 1000;
  small.forward_seconds = 0.3e-3;
  small.backward_seconds = 0.6e-3;
  const std::string u = format_profile({small}, 1000, 2.0e-3, {});
  CHECK(u.find("| matmul | 1 / 1 | 0.0003 | 0.0006 | 0.0009 | 45.0% |") != std::string::npos);
  CHECK(u.find("| step | | | | 0.0020 | 100.0% |") != std::string::npos);
}
