// `kat demo`: trains a 2-layer MLP on a synthetic classification task and prints the falling loss.
// The labels come from a fixed random "teacher" network, so the task is learnable exactly.

#include <spdlog/spdlog.h>

#include <cmath>

#include "apps/commands.h"
#include "autograd/ops.h"
#include "core/kernels/reduce.h"
#include "core/rng.h"
#include "optim/sgd.h"

namespace kat::cli {
namespace {

struct DemoOptions {
  int steps = 1000;
  int batch = 128;
  int inputs = 16;
  int hidden = 64;
  int classes = 4;
  double lr = 0.1;
  std::uint64_t seed = 1;
  int log_every = 100;
};

Tensor normal(const Shape& shape, Rng& rng, double stddev) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t, rng, 0.0, stddev);
  return t;
}

// Labels: argmax of a random tanh network applied to x.
Tensor teacher_labels(const Tensor& x, const Tensor& w1, const Tensor& w2) {
  NoGradGuard no_grad;
  const Variable h = tanh(matmul(Variable(x), Variable(w1)));
  return argmax(matmul(h, Variable(w2)).data(), -1);
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  const auto pred = argmax(logits, -1).to_vector<std::int64_t>();
  const auto want = labels.to_vector<std::int64_t>();
  std::int64_t hits = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) hits += pred[i] == want[i];
  return static_cast<double>(hits) / static_cast<double>(pred.size());
}

int run_demo(const DemoOptions& o) {
  Rng rng(o.seed);
  Rng data_rng = rng.split();
  const Tensor t1 = normal({o.inputs, 8}, rng, 1.0 / std::sqrt(o.inputs));
  const Tensor t2 = normal({8, o.classes}, rng, 1.0);

  // Student: x -> gelu(x W1 + b1) W2 + b2, Glorot-scaled normal initialization.
  Variable w1(normal({o.inputs, o.hidden}, rng, std::sqrt(2.0 / (o.inputs + o.hidden))), true);
  Variable b1(Tensor::zeros({o.hidden}), true);
  Variable w2(normal({o.hidden, o.classes}, rng, std::sqrt(2.0 / (o.hidden + o.classes))), true);
  Variable b2(Tensor::zeros({o.classes}), true);
  auto forward = [&](const Tensor& x) { return matmul(gelu(matmul(Variable(x), w1) + b1), w2) + b2; };

  SgdOptions sgd;
  sgd.lr = o.lr;
  sgd.momentum = 0.9;
  Sgd opt({w1, b1, w2, b2}, sgd);

  const Tensor x_test = normal({1024, o.inputs}, data_rng, 1.0);
  const Tensor y_test = teacher_labels(x_test, t1, t2);
  spdlog::info("demo: MLP {}-{}-{} (GELU), {} classes from a random teacher, batch {}, SGD lr {} momentum 0.9",
               o.inputs, o.hidden, o.classes, o.classes, o.batch, o.lr);
  double running = 0.0;
  int counted = 0;
  for (int step = 1; step <= o.steps; ++step) {
    const Tensor x = normal({o.batch, o.inputs}, data_rng, 1.0);
    const Tensor y = teacher_labels(x, t1, t2);
    Variable loss = cross_entropy(forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    running += loss.data().item();
    ++counted;
    if (step == 1 || step % o.log_every == 0 || step == o.steps) {
      spdlog::info("step {:>5}/{}  loss {:.4f}", step, o.steps, running / counted);
      running = 0.0;
      counted = 0;
    }
  }
  NoGradGuard no_grad;
  const Variable logits = forward(x_test);
  spdlog::info("held-out: loss {:.4f}  accuracy {:.1f}%", cross_entropy(logits, y_test).data().item(),
               100.0 * accuracy(logits.data(), y_test));
  return 0;
}

}  // namespace

Runner add_demo(CLI::App& app) {
  auto opts = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand("demo", "Train a small MLP on a synthetic task and print the falling loss");
  cmd->add_option("--steps", opts->steps, "Training steps")->check(CLI::Range(1, 1000000));
  cmd->add_option("--batch", opts->batch, "Examples per step")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--hidden", opts->hidden, "Hidden units")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--lr", opts->lr, "Learning rate")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", opts->seed, "Random seed");
  cmd->add_option("--log-every", opts->log_every, "Steps between loss reports")->check(CLI::Range(1, 1000000));
  return [opts] { return run_demo(*opts); };
}

}  // namespace kat::cli
