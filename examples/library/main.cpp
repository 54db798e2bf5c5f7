// A language model with linear attention learns a sequence in 60 Adam steps, kat used as a library.
#include <kat/autograd/ops.h>
#include <kat/layers/models/language_model.h>
#include <kat/optim/adam.h>
#include <cstdio>

int main() {
  kat::Rng rng(7);
  kat::StackOptions options;
  options.vocab = 10;
  options.layers = 1;
  options.layer.d_model = 32;
  options.layer.heads = 2;
  options.layer.d_ff = 64;
  options.layer.attention.type = "linear";
  kat::TransformerLM model(options, rng);
  kat::Adam adam(model.parameters(), kat::AdamOptions{.lr = 3e-3});
  const auto ids = kat::Tensor::from_vector<std::int64_t>({1, 4, 2, 8, 5, 7, 3, 9}, {1, 8});
  const auto next = kat::Tensor::from_vector<std::int64_t>({4, 2, 8, 5, 7, 3, 9, 6}, {1, 8});
  for (int step = 1; step <= 60; ++step) {
    adam.zero_grad();
    kat::Variable loss = kat::cross_entropy(model.forward(ids), next);
    loss.backward();
    adam.step();
    if (step % 20 == 0) std::printf("step %d: loss %.4f\n", step, loss.data().item());
  }
}
