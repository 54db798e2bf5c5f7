// Data-parallel training over real MPI ranks. This program runs under the launcher, as CTest runs
// it: `mpiexec -n 2 test_mpi` (registered only when MPI was found). Every rank runs every test case
// in the same order; the checks inside a case are CHECKs, never REQUIREs, so that a failure on one
// rank does not leave the other waiting in a collective call.
//
// The equivalence tests train the same experiment twice on each rank: alone (a single-process
// communicator) and with the other rank, each rank on its share of every batch. The two must give
// the same parameters to 1e-6, the tolerance of float32 sums added in another order.

#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "autograd/ops.h"
#include "layers/module.h"
#include "tests/selection_counter.h"
#include "tests/train/train_test_util.h"
#include "train/distributed/distributed.h"
#include "train/distributed/grad_reducer.h"
#include "train/run_folder/checkpoint.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::ScratchDir;

namespace {

std::shared_ptr<Communicator> g_world;  // the ranks this program was launched as

Communicator& world() { return *g_world; }

// A folder every rank names alike: rank 0's scratch folder, its name broadcast.
std::string shared_folder(const ScratchDir& mine) {
  const std::string path = mine.path().string();
  std::vector<std::uint64_t> words(64, 0);
  std::copy(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(path.size(), 511)),
            reinterpret_cast<char*>(words.data()));
  world().broadcast(words, 0);
  return std::string(reinterpret_cast<const char*>(words.data()));
}

// Under softmax attention, the key projection's bias adds q.b to every score of a query, which
// softmax ignores: its gradient is zero but for rounding, and Adam, dividing by the gradient's own
// size, moves it by the rounding noise, which differs with the order of any sum (as between thread
// counts, docs/reliability.md). It has no effect on the output; the tests check that its first
// moment stays at rounding level instead.
bool without_effect(const std::string& name) { return name.find("attn.k_proj.bias") != std::string::npos; }

// The largest difference between two state dicts' float tensors (those without effect left out
// under softmax attention), and their names and shapes checked.
double max_difference(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b,
                      std::string* where = nullptr, bool softmax = false) {
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second.shape() != t.shape()) return INFINITY;
    if (!is_floating(t.dtype()) || (softmax && without_effect(name))) continue;
    const double d = max_abs_diff(t, it->second);
    if (d > worst) {
      worst = d;
      if (where) *where = name;
    }
  }
  return worst;
}

struct Run {
  TrainResult result;
  std::map<std::string, Tensor> model;  // the trained model's state, in memory
};

Run train(Experiment e, const std::shared_ptr<Communicator>& comm,
          std::function<void(Trainer&, std::int64_t)> after_step = {}, bool resume = false) {
  TrainerOptions o;
  o.console = false;
  o.signals = false;
  o.resume = resume;
  o.comm = comm;
  o.after_step = std::move(after_step);
  Run r;
  Trainer t(e, o);
  r.result = t.run();
  for (auto& [name, tensor] : t.model().state_dict()) r.model[name] = tensor.clone();
  return r;
}

// Trains `e` alone on each rank (into a folder of its own) and with both ranks (into a shared
// folder), and checks that the parameters, optimizer moments, data position and losses agree.
void check_equivalence(Experiment e, const std::string& what) {
  ScratchDir alone_dir("mpi-alone-" + what);
  ScratchDir together_mine("mpi-together-" + what);
  const std::string together = shared_folder(together_mine);

  e.output.dir = alone_dir.path().string();
  const Run alone = train(e, single_process());
  e.output.dir = together;
  const Run both = train(e, g_world);

  std::string where;
  const bool softmax = e.model.attention.type == "softmax";
  const double in_memory = max_difference(alone.model, both.model, &where, softmax);
  INFO(what << ": largest difference " << in_memory << " in " << where);
  CHECK(in_memory <= 1e-6);
  CHECK(both.result.step == alone.result.step);
  CHECK(both.result.outcome == alone.result.outcome);
  CHECK(std::abs(both.result.train_loss - alone.result.train_loss) <= 1e-5 * std::abs(alone.result.train_loss));
  CHECK(std::abs(both.result.valid_loss - alone.result.valid_loss) <= 1e-5 * std::abs(alone.result.valid_loss));
  if (world().rank() == 0) {
    // Rank 0 wrote the run folder: its last checkpoint against the single process's.
    const Checkpoint a = read_checkpoint(alone_dir.file("checkpoints/last.h5"));
    const Checkpoint b = read_checkpoint(together + "/checkpoints/last.h5");
    const double on_disk = max_difference(a.model, b.model, &where, softmax);
    MESSAGE(what << ": the checkpoints of 1 and " << world().size() << " processes differ by at most " << on_disk
                 << " (in " << where << ")");
    CHECK(on_disk <= 1e-6);
    CHECK(max_difference(a.optimizer.slots, b.optimizer.slots, &where, softmax) <= 1e-6);
    if (softmax) {
      for (const auto& [name, m] : b.optimizer.slots) {
        if (without_effect(name) && name.find("exp_avg_sq") == std::string::npos) {
          CHECK(max_abs_diff(m, Tensor::zeros(m.shape(), m.dtype())) < 1e-8);
        }
      }
    }
    CHECK(a.data_state == b.data_state);  // one global data position
    CHECK(a.progress.tokens == b.progress.tokens);
    CHECK(a.progress.step == b.progress.step);
    CHECK(std::filesystem::exists(together + "/train.log"));
  }
  world().barrier();  // rank 0 removes the shared folder once every rank is done with it
}

Experiment lm(const std::string& dir) {
  Experiment e = test::tiny_lm(dir);
  e.data.batch_size = 7;  // shared 3 + 4
  e.model.dropout = 0.1;  // the ranks draw the masks of one process (Dropout::set_first_row)
  // A smooth activation: the two runs' sums of gradients differ in rounding (about 1e-7), and with
  // relu a unit whose input lies that close to 0 is on in one run and off in the other; Adam turns
  // the gradient it then gets in one run only into a step of about lr (seen: 8e-3 after 8 steps).
  e.model.activation = Activation::gelu;
  e.train.accumulate = 2;
  e.train.steps = 8;
  e.train.threads = 1;
  e.train.bucket_mb = 0.002;  // several buckets, started during backward
  return e;
}

}  // namespace

TEST_CASE("mpi: ranks, sums, broadcast and a nonblocking sum") {
  CHECK(world().size() >= 2);
  std::vector<double> v = {1.0, static_cast<double>(world().rank())};
  world().sum(v);
  const int n = world().size();
  CHECK(v[0] == n);
  CHECK(v[1] == n * (n - 1) / 2);
  std::vector<std::uint64_t> word = {world().rank() == 0 ? 42u : 7u};
  world().broadcast(word, 0);
  CHECK(word[0] == 42u);
  std::vector<float> f(1000, static_cast<float>(world().rank() + 1));
  auto pending = world().start_sum(f);
  pending->wait();
  CHECK(f[999] == static_cast<float>(n * (n + 1) / 2));
  CHECK(world().local_size() >= 1);
  CHECK(world().hosts() >= 1);
  CHECK(default_threads_per_rank(world()) >= 1);
}

TEST_CASE("mpi: gradient buckets finished in another order on each rank are summed in the same order") {
  auto leaf = [](float v) { return Variable(Tensor::full({3}, v, DType::f32), true); };
  Variable a = leaf(1), b = leaf(2), c = leaf(3);
  GradientReducer reducer(world(), {a, b, c}, 12);  // one parameter a bucket
  CHECK(reducer.buckets() == 3);
  for (int step = 0; step < 3; ++step) {
    for (Variable* p : {&a, &b, &c}) p->zero_grad();
    reducer.arm();
    // Rank 0 finishes c first, the others a first.
    if (world().rank() == 0) {
      sum(((a * 2.0) * b) * c).backward();
    } else {
      sum(((c * 2.0) * b) * a).backward();
    }
    reducer.finish();
    // Every rank's gradient of a is 2bc = 12, summed over the ranks.
    const double n = world().size();
    CHECK(a.grad().at({0}) == doctest::Approx(12.0 * n));
    CHECK(b.grad().at({1}) == doctest::Approx(6.0 * n));
    CHECK(c.grad().at({2}) == doctest::Approx(4.0 * n));
  }
}

TEST_CASE("mpi: two ranks train the language model one process trains (dropout, accumulation, uneven shares)") {
  check_equivalence(lm("x"), "lm");
}

TEST_CASE("mpi: two ranks train the translation model one process trains (token budgets, label smoothing, BLEU)") {
  Experiment e = test::tiny_copy("x");
  e.data.max_tokens = 70;  // 7 rows of the longest sentence; the ranks' token counts differ
  e.data.synthetic.max_len = 9;
  e.model.dropout = 0.1;
  e.train.label_smoothing = 0.1;
  e.train.steps = 8;
  e.train.threads = 1;
  e.train.bucket_mb = 0.004;
  e.model.activation = Activation::gelu;  // see lm()
  check_equivalence(e, "translation");
}

TEST_CASE("mpi: Performer features are redrawn alike on every rank, and the runs agree") {
  Experiment e = lm("x");
  e.model.attention.type = "performer";
  e.model.attention.features = 8;
  e.model.attention.redraw_interval = 2;
  ScratchDir mine("mpi-performer");
  e.output.dir = shared_folder(mine);
  std::vector<double> mismatches = {0.0};
  std::uint64_t first = 0, last = 0;
  train(e, g_world, [&](Trainer& t, std::int64_t step) {
    // Every buffer (the random projections), hashed; rank 0's hash broadcast to compare.
    std::uint64_t h = 1469598103934665603ULL;
    for (const auto& [name, b] : t.model().named_buffers()) {
      const Tensor c = b.contiguous();
      const auto* p = static_cast<const unsigned char*>(c.raw_data());
      for (std::int64_t i = 0; i < c.numel() * static_cast<std::int64_t>(dtype_size(c.dtype())); ++i) {
        h = (h ^ p[i]) * 1099511628211ULL;
      }
    }
    std::vector<std::uint64_t> lead = {h};
    world().broadcast(lead, 0);
    if (lead[0] != h) mismatches[0] += 1;
    if (step == 1) first = h;
    last = h;
  });
  world().sum(mismatches);
  CHECK(mismatches[0] == 0.0);
  CHECK(first != last);  // the features were redrawn
  world().barrier();
  check_equivalence(e, "performer");
}

TEST_CASE("mpi: a stop requested on one rank stops every rank before the same step") {
  ScratchDir mine("mpi-stop");
  Experiment e = lm(shared_folder(mine));
  const Run r = train(e, g_world, [](Trainer& t, std::int64_t step) {
    if (step == 3 && world().rank() == world().size() - 1) t.request_stop();
  });
  CHECK(r.result.outcome == TrainOutcome::interrupted);
  CHECK(r.result.step == 3);
  if (world().rank() == 0) CHECK(read_checkpoint(e.output.dir + "/checkpoints/last.h5").progress.step == 3);
  world().barrier();
  // The two ranks' checkpoint resumes in one process as if one process had trained all along.
  ScratchDir alone_dir("mpi-stop-alone");
  Experiment alone = e;
  alone.output.dir = alone_dir.path().string();
  const Run reference = train(alone, single_process());
  if (world().rank() == 0) {
    const Run resumed = train(e, single_process(), {}, true);
    CHECK(resumed.result.step == e.train.steps);
    CHECK(max_difference(resumed.model, reference.model, nullptr, true) <= 1e-6);
  }
  world().barrier();
}

int main(int argc, char** argv) {
  g_world = join_launched_processes();
  int status = 0;
  {
    doctest::Context context(argc, argv);
    status = context.run();
    if (context.shouldExit()) {
      g_world.reset();
      return status;
    }
    if (status == 0 && kat::test::selected_test_cases == 0) {
      std::fprintf(stderr, "test_mpi: no test case matches the filter\n");
      status = 1;
    }
  }
  // Every rank reports; a failure anywhere fails the run (the launcher returns non-zero).
  std::vector<double> failed = {status != 0 ? 1.0 : 0.0};
  g_world->sum(failed);
  if (g_world->rank() == 0 && failed[0] > 0) std::fprintf(stderr, "test_mpi: %g rank(s) failed\n", failed[0]);
  g_world.reset();  // MPI_Finalize
  return status;
}
