// Gradient checks of every layer in float64 on small shapes, and their values and errors.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/kernels/half.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/feed_forward.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/multi_head_attention.h"
#include "layers/positional.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;
using Vars = std::vector<Variable>;

namespace {

void require_ok(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const Module& m) {
  const GradcheckResult r = gradcheck(fn, inputs, m.parameters());
  INFO(r.message);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("linear: values, gradients, bad input") {
  Rng rng(1);
  for (bool bias : {true, false}) {
    Linear lin(LinearOptions{5, 3, bias}, rng);
    lin.to(DType::f64);
    require_ok([&](const Vars& v) { return lin.forward(v[0]); }, {randn({2, 4, 5}, rng)}, lin);
    CHECK(lin.parameters().size() == (bias ? 2u : 1u));
  }
  Linear lin(LinearOptions{5, 3}, rng);
  CHECK_THROWS_WITH_AS(lin.forward(Variable(Tensor::zeros({2, 4}))),
                       doctest::Contains("input last dim 4 != in_features 5"), LayerError);
  CHECK_THROWS_AS(Linear(LinearOptions{0, 3}, rng), LayerError);
}

TEST_CASE("linear: float16 weights serve decoding rows outside gradient mode, and nothing else") {
  Rng rng(4);
  Linear lin(LinearOptions{40, 24}, rng);
  Tensor bias = lin.bias().data();  // shares the parameter's storage
  fill_normal(bias, rng, 0.0, 1.0);
  const Tensor one = randn({1, 1, 40}, rng, DType::f32);
  const Tensor many = randn({2, 3, 40}, rng, DType::f32);  // 6 rows: more than a decoding step's 4
  Tensor want_one, want_many;
  {
    NoGradGuard no_grad;
    want_one = lin.forward(Variable(one)).data();
    want_many = lin.forward(Variable(many)).data();
  }
  lin.set_half_weights(true);
  REQUIRE(lin.half_weights());
  {
    NoGradGuard no_grad;
    const Tensor got = lin.forward(Variable(one)).data();
    REQUIRE(got.shape() == want_one.shape());
    // Close to float32, but not equal: the weights were rounded.
    CHECK(allclose(got, want_one, 1e-2, 1e-2));
    CHECK(max_abs_diff(got, want_one) > 0.0);
    // Equal, to float32 sums, to the product over the rounded weights.
    const Tensor w = lin.weight().data();
    for (std::int64_t j = 0; j < 24; ++j) {
      double s = lin.bias().data().data<float>()[j];
      for (std::int64_t i = 0; i < 40; ++i) s += round_to_half(w.data<float>()[i * 24 + j]) * one.data<float>()[i];
      CHECK(got.data<float>()[j] == doctest::Approx(s).epsilon(1e-5));
    }
    CHECK(max_abs_diff(lin.forward(Variable(many)).data(), want_many) == 0.0);  // float32 path
  }
  // In gradient mode the float32 weight, with its gradient.
  Variable x(one, /*requires_grad=*/true);
  Variable y = lin.forward(x);
  CHECK(max_abs_diff(y.data(), want_one) == 0.0);
  sum(y).backward();
  CHECK(lin.weight().grad().defined());
  lin.set_half_weights(false);
  CHECK_FALSE(lin.half_weights());
  NoGradGuard no_grad;
  CHECK(max_abs_diff(lin.forward(Variable(one)).data(), want_one) == 0.0);
}

TEST_CASE("embedding: lookup, padding row without gradient, out-of-range ids") {
  Rng rng(2);
  Embedding emb(EmbeddingOptions{6, 4, 0}, rng);
  CHECK(max_abs_diff(emb.weight().data().select(0, 0), Tensor::zeros({4})) == 0.0);
  emb.to(DType::f64);
  Tensor ids = Tensor::from_vector<std::int64_t>({0, 3, 3, 5, 0, 1}, {2, 3});
  require_ok([&](const Vars&) { return emb.forward(ids); }, {}, emb);
  emb.zero_grad();
  sum(emb.forward(ids)).backward();
  CHECK(max_abs_diff(emb.weight().grad().select(0, 0), Tensor::zeros({4}, DType::f64)) == 0.0);
  CHECK(emb.weight().grad().at({3, 1}) == 2.0);
  CHECK_THROWS_WITH_AS(emb.forward(Tensor::from_vector<std::int64_t>({1, 6})),
                       doctest::Contains("token id 6 at position 1 is outside the vocabulary [0, 6)"), LayerError);
}

// The decoding forms (layers on (rows, d_model) tensors, no autograd) against the forwards: a
// layer norm with and without its affine parameters, and a linear layer with and without bias,
// from one row to six (a step's few rows take a path of their own).
TEST_CASE("decoding forms of layer norm, linear and feed-forward equal their forwards") {
  Rng rng(31);
  for (bool affine : {true, false}) {
    LayerNorm ln(LayerNormOptions{24, 1e-5, affine});
    if (affine) {
      fill_normal(ln.parameters()[0].data(), rng, 1.0, 0.3);
      fill_normal(ln.parameters()[1].data(), rng, 0.0, 0.3);
    }
    for (std::int64_t rows = 1; rows <= 6; ++rows) {
      CAPTURE(affine);
      CAPTURE(rows);
      const Tensor x = randn({rows, 24}, rng, DType::f32);
      NoGradGuard no_grad;
      CHECK(max_abs_diff(ln.forward_rows(x), ln.forward(Variable(x)).data()) == 0.0);
    }
  }
  for (bool bias : {true, false}) {
    Linear lin(LinearOptions{24, 40, bias}, rng);
    if (bias) fill_normal(lin.parameters()[1].data(), rng, 0.0, 0.5);
    for (std::int64_t rows : {1, 3, 6}) {
      CAPTURE(bias);
      CAPTURE(rows);
      const Tensor x = randn({rows, 24}, rng, DType::f32);
      Tensor out = Tensor::empty({rows, 40});
      NoGradGuard no_grad;
      lin.forward_into(x, out);
      CHECK(max_abs_diff(out, lin.forward(Variable(x)).data()) < 1e-5);
    }
    const Tensor wrong = randn({2, 23}, rng, DType::f32);
    Tensor out = Tensor::empty({2, 40});
    CHECK_THROWS_WITH_AS(lin.forward_into(wrong, out), doctest::Contains("forward_into"), LayerError);
  }
  for (Activation act : {Activation::relu, Activation::gelu}) {
    FeedForward ffn(FeedForwardOptions{24, 48, act, 0.0}, rng);
    const Tensor x = randn({3, 24}, rng, DType::f32);
    NoGradGuard no_grad;
    CHECK(max_abs_diff(ffn.forward_rows(x), ffn.forward(Variable(x)).data()) < 1e-5);
  }
}

TEST_CASE("layer norm and feed-forward gradients") {
  Rng rng(3);
  LayerNorm ln(LayerNormOptions{6});
  ln.to(DType::f64);
  // Move the affine parameters off their (1, 0) start so their gradients are exercised.
  fill_normal(ln.parameters()[0].data(), rng, 1.0, 0.3);
  fill_normal(ln.parameters()[1].data(), rng, 0.0, 0.3);
  require_ok([&](const Vars& v) { return ln.forward(v[0]); }, {randn({3, 6}, rng)}, ln);
  for (Activation act : {Activation::relu, Activation::gelu}) {
    FeedForward ffn(FeedForwardOptions{4, 7, act, 0.0}, rng);
    ffn.to(DType::f64);
    require_ok([&](const Vars& v) { return ffn.forward(v[0]); }, {randn({2, 3, 4}, rng)}, ffn);
  }
}

TEST_CASE("positional encodings") {
  Rng rng(4);
  PositionalEncoding sin_pe(PositionalOptions{PositionalKind::sinusoidal, 6}, rng);
  Variable zeros(Tensor::zeros({1, 5, 6}, DType::f64));
  Tensor p = sin_pe.forward(zeros, 3).data();
  CHECK(p.at({0, 2, 0}) == doctest::Approx(std::sin(5.0)));
  CHECK(p.at({0, 2, 3}) == doctest::Approx(std::cos(5.0 / std::pow(10000.0, 2.0 / 6.0))));
  PositionalEncoding learned(PositionalOptions{PositionalKind::learned, 6, 8}, rng);
  learned.to(DType::f64);
  require_ok([&](const Vars& v) { return learned.forward(v[0], 2); }, {randn({2, 4, 6}, rng)}, learned);
  CHECK_THROWS_WITH_AS(learned.forward(zeros, 4), doctest::Contains("learned table has 8"), LayerError);
}

TEST_CASE("multi-head attention gradients with padding and causality") {
  Rng rng(5);
  MultiHeadAttentionOptions o;
  o.d_model = 6;
  o.heads = 2;
  for (bool causal : {false, true}) {
    MultiHeadAttention mha(o, causal, rng);
    mha.to(DType::f64);
    AttentionMask mask;
    mask.key_lengths = {3, 2};
    require_ok([&](const Vars& v) { return mha.forward(v[0], Variable(), mask); }, {randn({2, 3, 6}, rng)}, mha);
  }
  MultiHeadAttention cross(o, false, rng);
  cross.to(DType::f64);
  AttentionMask mask;
  mask.key_lengths = {4, 1};
  require_ok([&](const Vars& v) { return cross.forward(v[0], v[1], mask); },
             {randn({2, 3, 6}, rng), randn({2, 4, 6}, rng)}, cross);
}

TEST_CASE("multi-head attention: padded keys never reach unpadded outputs") {
  Rng rng(6);
  MultiHeadAttentionOptions o;
  o.d_model = 8;
  o.heads = 2;
  MultiHeadAttention mha(o, false, rng);
  Tensor x = randn({2, 5, 8}, rng, DType::f32);
  AttentionMask mask;
  mask.key_lengths = {5, 3};
  Tensor y1 = mha.forward(Variable(x), Variable(), mask).data();
  Tensor x2 = x.clone();
  Tensor pad = x2.select(0, 1).slice(0, 3, 5);
  fill_normal(pad, rng, 5.0, 3.0);
  Tensor y2 = mha.forward(Variable(x2), Variable(), mask).data();
  CHECK(max_abs_diff(y1.select(0, 1).slice(0, 0, 3), y2.select(0, 1).slice(0, 0, 3)) == 0.0);
  CHECK(max_abs_diff(y1.select(0, 0), y2.select(0, 0)) == 0.0);
}

TEST_CASE("multi-head attention: bad input names the layer and sizes") {
  Rng rng(7);
  MultiHeadAttentionOptions o;
  o.d_model = 8;
  o.heads = 3;
  CHECK_THROWS_WITH_AS(MultiHeadAttention(o, false, rng), doctest::Contains("d_model 8 is not divisible by heads 3"),
                       LayerError);
  o.heads = 2;
  MultiHeadAttention mha(o, false, rng);
  AttentionMask mask;
  mask.key_lengths = {3};
  CHECK_THROWS_AS(mha.forward(Variable(Tensor::zeros({2, 3, 8})), Variable(), mask), Error);
  mask.key_lengths = {3, 4};
  CHECK_THROWS_AS(mha.forward(Variable(Tensor::zeros({2, 3, 8})), Variable(), mask), Error);
  CHECK_THROWS_WITH_AS(mha.forward(Variable(Tensor::zeros({2, 3, 7})), Variable(), AttentionMask{}),
                       doctest::Contains("(batch, length, 8)"), LayerError);
}

TEST_CASE("dropout layer: two halves of a batch with their first rows drop what the whole batch drops") {
  Rng rng(3);
  Dropout whole(0.3, rng);
  Rng rng2(3);
  Dropout half(0.3, rng2);
  const Variable x(Tensor::ones({6, 4, 8}, DType::f32));
  const Tensor full = whole.forward(x).data();
  const Variable top(Tensor::ones({3, 4, 8}, DType::f32));
  // The second half, drawn with the generator state the first call starts from.
  Rng rng3(3);
  Dropout second(0.3, rng3);
  set_dropout_first_row(second, 3);
  CHECK(second.first_row() == 3);
  CHECK(max_abs_diff(half.forward(top).data(), full.slice(0, 0, 3).contiguous()) == 0.0);
  CHECK(max_abs_diff(second.forward(top).data(), full.slice(0, 3, 6).contiguous()) == 0.0);
  CHECK_THROWS_AS(second.set_first_row(-2), Error);
}
