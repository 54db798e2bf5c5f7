// The pieces of data-parallel training that one process can test: the single-process communicator,
// and the gradient buckets over a stand-in communicator of two ranks whose other rank always
// contributes what this one does (so every sum is twice the local value). The tests over real MPI
// ranks are in tests/train/test_mpi.cpp (run under mpirun when MPI is found).

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "autograd/ops.h"
#include "train/distributed/distributed.h"
#include "train/distributed/grad_reducer.h"

using namespace kat;

namespace {

// Two ranks that agree: sums double every value. Records the size of each sum it starts.
class TwinRanks final : public Communicator {
 public:
  std::vector<std::size_t> started;  // values per start_sum, in order
  int tests = 0;

  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_size() const override { return 2; }
  int hosts() const override { return 1; }
  std::string describe() const override { return "twin ranks"; }
  void sum(std::span<double> data) override {
    for (double& v : data) v *= 2;
  }
  std::unique_ptr<PendingSum> start_sum(std::span<float> data) override {
    started.push_back(data.size());
    return std::make_unique<Pending>(data, *this);
  }
  void broadcast(std::span<std::uint64_t>, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int) override { std::abort(); }

 private:
  class Pending final : public PendingSum {
   public:
    Pending(std::span<float> data, TwinRanks& owner) : data_(data), owner_(owner) {}
    bool test() override {
      ++owner_.tests;
      return false;  // completes in wait()
    }
    void wait() override {
      if (done_) return;
      for (float& v : data_) v *= 2;
      done_ = true;
    }

   private:
    std::span<float> data_;
    TwinRanks& owner_;
    bool done_ = false;
  };
};

Variable param(std::vector<float> values) { return Variable(Tensor::from_vector<float>(values), true); }

}  // namespace

TEST_CASE("single_process: a run of one whose collectives change nothing") {
  auto comm = single_process();
  CHECK(comm->rank() == 0);
  CHECK(comm->size() == 1);
  std::vector<double> v = {1.5, -2.0};
  comm->sum(v);
  CHECK(v == std::vector<double>{1.5, -2.0});
  std::vector<float> f = {3.0f};
  CHECK(comm->start_sum(f)->test());
  CHECK(f[0] == 3.0f);
  CHECK(default_threads_per_rank(*comm) >= 1);
}

TEST_CASE("launched_processes reads the launcher's environment") {
  // The test program itself runs outside any launcher (CTest starts it directly).
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr && std::getenv("PMI_SIZE") == nullptr &&
      std::getenv("MV2_COMM_WORLD_SIZE") == nullptr && std::getenv("PMIX_RANK") == nullptr) {
    CHECK(launched_processes() == 0);
    CHECK(join_launched_processes()->size() == 1);
  }
}

TEST_CASE("gradient buckets: sums written back, started in order, parameters without a gradient keep none") {
  // Three parameters of 4 floats, buckets of 8 bytes: one bucket each, filled from the last
  // parameter (bucket 0 holds c, bucket 1 b, bucket 2 a).
  Variable a = param({1, 2, 3, 4}), b = param({1, 1, 1, 1}), c = param({2, 2, 2, 2});
  Variable unused = param({5, 5, 5, 5});
  TwinRanks comm;
  GradientReducer reducer(comm, {a, b, c, unused}, 16);
  REQUIRE(reducer.buckets() == 4);

  // c's gradient is finished first, then b's, then a's (a feeds the whole chain): bucket 0 holds
  // `unused`, which backward never reaches, so no bucket can start before finish().
  reducer.arm();
  Variable y = sum((a * 2.0 + b) * c);
  y.backward();
  CHECK(reducer.started_in_backward() == 0);
  CHECK(comm.started.empty());
  reducer.finish();
  CHECK(comm.started == std::vector<std::size_t>{5, 5, 5, 5});  // 4 gradients + 1 flag each, in order
  CHECK(a.grad().at({0}) == doctest::Approx(2 * 2.0 * 2));      // dy/da = 2c, summed over twin ranks
  CHECK(b.grad().at({3}) == doctest::Approx(2 * 2.0));
  CHECK(c.grad().at({1}) == doctest::Approx(2 * (2.0 * 2 + 1)));
  CHECK_FALSE(unused.grad().defined());
}

TEST_CASE("gradient buckets start during backward once every bucket before them has") {
  Variable a = param({1, 2}), b = param({3, 4}), c = param({5, 6});
  TwinRanks comm;
  // 8-byte buckets: one parameter each, bucket 0 = c, 1 = b, 2 = a.
  GradientReducer reducer(comm, {a, b, c}, 8);
  REQUIRE(reducer.buckets() == 3);
  for (int step = 0; step < 2; ++step) {
    a.zero_grad();
    b.zero_grad();
    c.zero_grad();
    reducer.arm();
    // c's gradient is final as soon as the last op's backward has run.
    sum(exp(a * b) * c).backward();
    const std::size_t before = comm.started.size();
    reducer.finish();
    CHECK(reducer.started_in_backward() == 3);  // c, then b and a, each as it finished
    CHECK(comm.started.size() == before);
    CHECK(comm.tests > 0);
    CHECK(c.grad().at({0}) == doctest::Approx(2 * std::exp(3.0)));
  }
  // Backward before arm() (gradient accumulation's earlier batches) starts nothing.
  a.zero_grad();
  b.zero_grad();
  c.zero_grad();
  const std::size_t before = comm.started.size();
  sum(a * b * c).backward();
  CHECK(comm.started.size() == before);
  reducer.arm();
  sum(a * b * c).backward();
  reducer.finish();
  CHECK(a.grad().at({1}) == doctest::Approx(2 * 2 * 4.0 * 6.0));
}

TEST_CASE("gradient buckets: a rank that ran no backward contributes zeros and receives the sums") {
  Variable a = param({1, 2});
  TwinRanks comm;
  GradientReducer reducer(comm, {a}, 1 << 20);
  reducer.arm();
  reducer.finish();
  CHECK_FALSE(a.grad().defined());  // neither twin had a gradient
  CHECK_THROWS_AS(reducer.finish(), Error);
  Variable d(Tensor::from_vector<double>({1.0}), true);
  CHECK_THROWS_AS(GradientReducer(comm, {d}, 64), Error);
}
