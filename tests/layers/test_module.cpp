#include <doctest/doctest.h>

#include "layers/feed_forward.h"
#include "layers/models/language_model.h"
#include "layers/module_list.h"

using namespace kat;

namespace {

StackOptions tiny_lm(std::int64_t vocab = 11) {
  StackOptions o;
  o.vocab = vocab;
  o.layers = 2;
  o.layer.d_model = 8;
  o.layer.heads = 2;
  o.layer.d_ff = 16;
  o.layer.dropout = 0.1;
  return o;
}

}  // namespace

TEST_CASE("parameters are named by their path") {
  Rng rng(1);
  TransformerLM lm(tiny_lm(), rng);
  std::vector<std::string> names;
  for (const auto& [name, p] : lm.named_parameters()) names.push_back(name);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  CHECK(has("decoder.layers.1.self_attn.q_proj.weight"));
  CHECK(has("decoder.layers.0.ffn.fc2.bias"));
  CHECK(has("decoder.input.embedding.weight"));
  CHECK(has("decoder.norm.weight"));
  CHECK_FALSE(has("decoder.out_proj.weight"));  // tied to the embedding
  // d=8, ff=16, vocab 11: embedding 88; per layer 4*(64+8) attention + (128+16)+(128+8) ffn + 2*16 norms.
  const std::int64_t per_layer = 4 * (64 + 8) + (8 * 16 + 16) + (16 * 8 + 8) + 2 * 16;
  CHECK(lm.parameter_count() == 11 * 8 + 2 * per_layer + 16);
}

TEST_CASE("train and eval reach every descendant") {
  Rng rng(2);
  TransformerLM lm(tiny_lm(), rng);
  lm.eval();
  for (const auto& [name, child] : lm.decoder().named_children()) CHECK_FALSE(child->is_training());
  lm.train();
  CHECK(lm.decoder().is_training());
}

TEST_CASE("state_dict round-trips parameters and generator states") {
  Rng rng(3), rng2(4);
  TransformerLM a(tiny_lm(), rng), b(tiny_lm(), rng2);
  const auto state = a.state_dict();
  CHECK(state.count("decoder.layers.0.dropout.rng") == 1);
  b.load_state_dict(state);
  const auto sb = b.state_dict();
  for (const auto& [name, t] : state) CHECK(max_abs_diff(t, sb.at(name)) == 0.0);
  // Same parameters and dropout streams: identical training-mode outputs.
  Tensor ids = Tensor::from_vector<std::int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(max_abs_diff(a.forward(ids).data(), b.forward(ids).data()) == 0.0);
}

TEST_CASE("load_state_dict refuses a bad state and leaves the model untouched") {
  Rng rng(5);
  TransformerLM lm(tiny_lm(), rng);
  const auto before = lm.state_dict().at("decoder.norm.weight").clone();
  auto state = lm.state_dict();
  for (auto& [name, t] : state) t = t.clone();
  state["decoder.norm.weight"].fill_(7.0);

  auto missing = state;
  missing.erase("decoder.layers.0.self_attn.k_proj.bias");
  CHECK_THROWS_WITH_AS(lm.load_state_dict(missing), doctest::Contains("decoder.layers.0.self_attn.k_proj.bias"),
                       LayerError);
  auto extra = state;
  extra["decoder.bogus"] = Tensor::zeros({1});
  CHECK_THROWS_WITH_AS(lm.load_state_dict(extra), doctest::Contains("decoder.bogus"), LayerError);
  auto wrong = state;
  wrong["decoder.input.embedding.weight"] = Tensor::zeros({12, 8});
  CHECK_THROWS_WITH_AS(lm.load_state_dict(wrong), doctest::Contains("(12, 8)"), LayerError);
  CHECK(max_abs_diff(lm.state_dict().at("decoder.norm.weight"), before) == 0.0);
  lm.load_state_dict(state);
  CHECK(lm.state_dict().at("decoder.norm.weight").at({0}) == 7.0);
}

TEST_CASE("construction errors name the layer by its path") {
  Rng rng(6);
  StackOptions o = tiny_lm();
  o.layer.d_model = 10;
  o.layer.heads = 3;
  try {
    TransformerLM lm(o, rng);
    FAIL("expected an error");
  } catch (const LayerError& e) {
    CHECK(e.path() == "decoder.layers.0.self_attn");
    CHECK(std::string(e.what()).find("d_model 10 is not divisible by heads 3") != std::string::npos);
  }
  o = tiny_lm();
  o.layer.attention.type = "quadratic";
  CHECK_THROWS_WITH_AS(TransformerLM(o, rng), doctest::Contains("unknown attention type 'quadratic'"), LayerError);
}

TEST_CASE("to(float64) converts every parameter") {
  Rng rng(7);
  FeedForward ffn(FeedForwardOptions{4, 8, Activation::gelu, 0.0}, rng);
  ffn.to(DType::f64);
  for (const auto& [name, p] : ffn.named_parameters()) CHECK(p.dtype() == DType::f64);
}
