// Transformer models: causality, incremental decoding equal to the full forward, and small
// models that must learn (memorize a sequence; copy and reverse, as in Katharopoulos et al. 2020,
// Section 4.1).
#include <doctest/doctest.h>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/reduce.h"
#include "layers/decoding/search.h"
#include "layers/linear.h"
#include "layers/models/language_model.h"
#include "layers/models/seq2seq.h"
#include "optim/adam.h"
#include "tests/test_util.h"

using namespace kat;

namespace {

TransformerLayerOptions tiny_layer(double dropout = 0.0) {
  TransformerLayerOptions l;
  l.d_model = 16;
  l.heads = 2;
  l.d_ff = 32;
  l.dropout = dropout;
  return l;
}

// The three attentions under test, by name; performer with a few random features.
AttentionOptions attention_named(const std::string& type) {
  AttentionOptions a;
  a.type = type;
  if (type == "performer") a.features = 24;
  return a;
}

const std::vector<std::string> kAttentions = {"softmax", "linear", "performer"};

// A small encoder-decoder's options (source vocabulary 17, target 19, padding 0) with `attention`
// in every sublayer.
Seq2SeqOptions tiny_seq2seq(const AttentionOptions& attention, double dropout = 0.0) {
  Seq2SeqOptions o;
  o.src_vocab = 17;
  o.tgt_vocab = 19;
  o.layer = tiny_layer(dropout);
  o.layer.attention = attention;
  o.padding_idx = 0;
  return o;
}

// The attention kernels of a model, in module order, as "kernel kind/feature map kind" (the
// feature map only for linear attention): which attention each sublayer really runs.
void collect_kernels(const Module& m, std::vector<std::string>& out) {
  for (const auto& [name, child] : m.named_children()) {
    if (name == "attention") {
      std::string k = child->kind();
      for (const auto& [n2, c2] : child->named_children()) {
        if (n2 == "feature_map") k += "/" + c2->kind();
      }
      out.push_back(k);
    } else {
      collect_kernels(*child, out);
    }
  }
}

std::vector<std::string> kernels_of(const Module& m) {
  std::vector<std::string> out;
  collect_kernels(m, out);
  return out;
}

Tensor random_ids(Rng& rng, std::int64_t b, std::int64_t n, std::int64_t lo, std::int64_t hi) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(b * n));
  for (auto& x : v) x = lo + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(hi - lo)));
  return Tensor::from_vector(v, {b, n});
}

// An encoder-decoder (source vocabulary 17, target 19) decoded step by step, source padded: each
// step's logits equal the full forward's; and a beam-style reorder of the states (every
// sublayer's: KV caches, recurrent sums, projected memory) swaps the next logits with the batch.
void check_decoding(Seq2Seq& model, Rng& rng) {
  model.eval();
  Tensor src = random_ids(rng, 2, 7, 1, 17);
  Tensor tgt = random_ids(rng, 2, 6, 1, 19);
  const std::vector<std::int64_t> src_len = {7, 4};
  Tensor full = model.forward(src, src_len, tgt).data();
  Tensor memory = model.encode(src, src_len).data();
  DecodeState state = model.start(memory, src_len);
  for (std::int64_t t = 0; t < 6; ++t) {
    Tensor logits = model.step(tgt.slice(1, t, t + 1).reshape({2}).contiguous(), state);
    CHECK(allclose(logits, full.select(1, t), 1e-5, 1e-5));
  }
  DecodeState s2 = model.start(memory, src_len);
  model.step(tgt.slice(1, 0, 1).reshape({2}).contiguous(), s2);
  s2.reorder(Tensor::from_vector<std::int64_t>({1, 0}));
  Tensor swapped =
      model.step(Tensor::from_vector<std::int64_t>({tgt.data<std::int64_t>()[7], tgt.data<std::int64_t>()[1]}), s2);
  CHECK(allclose(swapped.select(0, 0), full.select(0, 1).select(0, 1), 1e-5, 1e-5));
  CHECK(allclose(swapped.select(0, 1), full.select(0, 0).select(0, 1), 1e-5, 1e-5));
}

}  // namespace

TEST_CASE("language model: changing token t+1 never changes the output at t") {
  Rng rng(1);
  for (const std::string& attention : kAttentions) {
    for (NormPlacement norm : {NormPlacement::pre, NormPlacement::post}) {
      CAPTURE(attention);
      StackOptions o;
      o.vocab = 20;
      o.layers = 2;
      o.layer = tiny_layer();
      o.layer.norm = norm;
      o.layer.attention = attention_named(attention);
      TransformerLM lm(o, rng);
      Tensor ids = random_ids(rng, 2, 9, 0, 20);
      Tensor base = lm.forward(ids).data();
      for (std::int64_t t = 0; t + 1 < 9; ++t) {
        Tensor changed = ids.clone();
        changed.data<std::int64_t>()[t + 1] = (ids.at({0, t + 1}) == 5) ? 6 : 5;
        Tensor out = lm.forward(changed).data();
        CHECK(max_abs_diff(out.select(0, 0).slice(0, 0, t + 1), base.select(0, 0).slice(0, 0, t + 1)) == 0.0);
        CHECK(max_abs_diff(out.select(0, 0).slice(0, t + 1, t + 2), base.select(0, 0).slice(0, t + 1, t + 2)) > 0.0);
      }
    }
  }
}

TEST_CASE("language model: step-by-step decoding equals the full forward") {
  Rng rng(2);
  for (const std::string& attention : kAttentions) {
    for (PositionalKind pos : {PositionalKind::sinusoidal, PositionalKind::learned}) {
      CAPTURE(attention);
      StackOptions o;
      o.vocab = 23;
      o.layers = 3;
      o.layer = tiny_layer(0.1);
      o.layer.attention = attention_named(attention);
      o.positional = pos;
      o.max_len = 64;
      TransformerLM lm(o, rng);
      lm.eval();
      Tensor ids = random_ids(rng, 3, 40, 0, 23);
      Tensor full = lm.forward(ids).data();  // (3, 40, 23)
      DecodeState state = lm.start(3);
      for (std::int64_t t = 0; t < 40; ++t) {
        Tensor logits = lm.step(ids.slice(1, t, t + 1).reshape({3}).contiguous(), state);
        REQUIRE(logits.shape() == Shape{3, 23});
        CHECK(allclose(logits, full.select(1, t), 1e-5, 1e-5));
      }
    }
  }
}

// Decoding runs each layer on (rows, d_model) buffers without autograd (DecoderLayer::step): its
// arithmetic must stay that of the forward for either norm placement and activation, on one row
// (matrix-vector products) and on several (matrix products), and after the model trained a step.
TEST_CASE("language model: decoding equals the forward for pre- and post-norm, relu and gelu, one row or three") {
  Rng rng(5);
  for (NormPlacement norm : {NormPlacement::pre, NormPlacement::post}) {
    for (Activation act : {Activation::relu, Activation::gelu}) {
      for (const std::string attention : {"softmax", "linear"}) {
        for (std::int64_t rows : {1, 3}) {
          CAPTURE(attention);
          CAPTURE(rows);
          CAPTURE(static_cast<int>(norm));
          CAPTURE(static_cast<int>(act));
          StackOptions o;
          o.vocab = 19;
          o.layers = 2;
          o.layer = tiny_layer(0.1);
          o.layer.norm = norm;
          o.layer.activation = act;
          o.layer.attention = attention_named(attention);
          o.max_len = 32;
          TransformerLM lm(o, rng);
          // Move every weight off its initial value (biases start at zero, norms at one).
          for (const Variable& p : lm.parameters()) {
            Tensor noise = Tensor::empty(p.shape());
            fill_normal(noise, rng, 0.0, 0.1);
            Tensor d = p.data();
            add_scaled_(d, noise);
          }
          lm.eval();
          const Tensor ids = random_ids(rng, rows, 12, 0, 19);
          const Tensor full = lm.forward(ids).data();
          DecodeState state = lm.start(rows);
          for (std::int64_t t = 0; t < 12; ++t) {
            const Tensor logits = lm.step(ids.slice(1, t, t + 1).reshape({rows}).contiguous(), state);
            CHECK(allclose(logits, full.select(1, t), 1e-5, 1e-5));
          }
        }
      }
    }
  }
}

TEST_CASE("hybrid language model: each layer runs its own attention, and decoding equals the full forward") {
  Rng rng(12);
  StackOptions o;
  o.vocab = 21;
  o.layers = 3;
  o.layer = tiny_layer(0.1);
  o.layer_attention = {attention_named("linear"), attention_named("softmax"), attention_named("performer")};
  o.max_len = 64;
  TransformerLM lm(o, rng);
  const std::vector<std::string> kernels = kernels_of(lm);
  REQUIRE(kernels.size() == 3);
  CHECK(kernels[0] == "linear_attention/elu_feature_map");
  CHECK(kernels[1] == "softmax_attention");
  CHECK(kernels[2].rfind("linear_attention/", 0) == 0);
  CHECK(kernels[2] != kernels[0]);  // the Performer's random features, not elu
  lm.eval();
  Tensor ids = random_ids(rng, 2, 30, 0, 21);
  Tensor full = lm.forward(ids).data();
  DecodeState state = lm.start(2);
  for (std::int64_t t = 0; t < 30; ++t) {
    Tensor logits = lm.step(ids.slice(1, t, t + 1).reshape({2}).contiguous(), state);
    CHECK(allclose(logits, full.select(1, t), 1e-5, 1e-5));
  }
  // One attention per layer, or none.
  o.layer_attention.pop_back();
  CHECK_THROWS_WITH_AS(TransformerLM(o, rng), doctest::Contains("2 attention options for 3 layers"), LayerError);
}

TEST_CASE("language model: decoding with float16 weights stays within float16's rounding of float32") {
  Rng rng(5);
  for (const std::string& attention : kAttentions) {
    CAPTURE(attention);
    StackOptions o;
    o.vocab = 23;
    o.layers = 2;
    o.layer = tiny_layer();
    o.layer.attention = attention_named(attention);
    o.max_len = 64;
    TransformerLM lm(o, rng);
    lm.eval();
    Tensor ids = random_ids(rng, 2, 12, 0, 23);
    NoGradGuard no_grad;
    std::vector<Tensor> want;
    DecodeState a = lm.start(2);
    for (std::int64_t t = 0; t < 12; ++t) want.push_back(lm.step(ids.slice(1, t, t + 1).reshape({2}).contiguous(), a));
    CHECK(use_half_weights(lm, true) == 2 * 6 + 1);  // q, k, v, o, fc1, fc2 per layer, and the tied output
    DecodeState b = lm.start(2);
    double worst = 0;
    for (std::int64_t t = 0; t < 12; ++t) {
      const Tensor got = lm.step(ids.slice(1, t, t + 1).reshape({2}).contiguous(), b);
      worst = std::max(worst, max_abs_diff(got, want[static_cast<std::size_t>(t)]));
    }
    CHECK(worst > 0.0);   // the rounded weights were used
    CHECK(worst < 5e-3);  // logits of size about 1 move by a few units of float16's 2^-11
    use_half_weights(lm, false);
    DecodeState c = lm.start(2);
    CHECK(max_abs_diff(lm.step(ids.slice(1, 0, 1).reshape({2}).contiguous(), c), want[0]) == 0.0);
  }
}

TEST_CASE("language model: the tied output projection decodes through a float16 copy of the embedding") {
  Rng rng(6);
  StackOptions o;
  o.vocab = 29;
  o.layers = 1;
  o.layer = tiny_layer();
  o.max_len = 16;
  TransformerLM lm(o, rng);
  lm.eval();
  const Tensor ids = random_ids(rng, 3, 6, 0, 29);
  NoGradGuard no_grad;
  std::vector<Tensor> want;
  DecodeState a = lm.start(3);
  for (std::int64_t t = 0; t < 6; ++t) want.push_back(lm.step(ids.slice(1, t, t + 1).reshape({3}).contiguous(), a));
  // Only the output's copy: every other layer still reads float32.
  REQUIRE(lm.decoder().set_half_output(true));
  DecodeState b = lm.start(3);
  double worst = 0;
  for (std::int64_t t = 0; t < 6; ++t) {
    const Tensor got = lm.step(ids.slice(1, t, t + 1).reshape({3}).contiguous(), b);
    REQUIRE(got.shape() == want[0].shape());
    worst = std::max(worst, max_abs_diff(got, want[static_cast<std::size_t>(t)]));
  }
  CHECK(worst > 0.0);
  CHECK(worst < 5e-3);
  // The full forward (more than four rows) keeps float32.
  const Variable full = lm.forward(ids, {6, 6, 6});
  CHECK(max_abs_diff(full.data().slice(1, 5, 6).reshape({3, 29}), want[5]) < 1e-5);
  CHECK(lm.decoder().set_half_output(false));

  StackOptions untied = o;
  untied.tie_output = false;
  TransformerLM separate(untied, rng);
  CHECK_FALSE(separate.decoder().set_half_output(true));  // its output is a Linear layer with a copy of its own
}

TEST_CASE("encoder-decoder: step-by-step decoding equals the full forward, with source padding") {
  Rng rng(3);
  for (const std::string& attention : kAttentions) {
    CAPTURE(attention);
    Seq2Seq model(tiny_seq2seq(attention_named(attention), 0.1), rng);
    check_decoding(model, rng);
  }
}

TEST_CASE("hybrid encoder-decoder: encoder, decoder and cross-attention each their own, decoding equal to forward") {
  Rng rng(13);
  Seq2SeqOptions o;
  o.src_vocab = 17;
  o.tgt_vocab = 19;
  o.layer = tiny_layer(0.1);
  o.layer.attention = attention_named("softmax");
  o.encoder_attention = attention_named("performer");
  o.decoder_attention = attention_named("linear");
  o.padding_idx = 0;
  {
    Seq2Seq model(o, rng);
    const std::vector<std::string> k = kernels_of(model);
    // Encoder layers (self), then decoder layers (self, cross).
    REQUIRE(k.size() == 6);
    CHECK(k[0].rfind("linear_attention/", 0) == 0);
    CHECK(k[0] != "linear_attention/elu_feature_map");
    CHECK(k[2] == "linear_attention/elu_feature_map");
    CHECK(k[3] == "softmax_attention");  // cross-attention keeps model.attention
  }
  o.layer.attention = attention_named("performer");
  o.decoder_attention = attention_named("linear");
  o.encoder_attention.reset();
  o.cross_attention = attention_named("softmax");
  Seq2Seq model(o, rng);
  const std::vector<std::string> k = kernels_of(model);
  REQUIRE(k.size() == 6);
  CHECK(k[0] == k[1]);
  CHECK(k[0].rfind("linear_attention/", 0) == 0);
  CHECK(k[2] == "linear_attention/elu_feature_map");
  CHECK(k[3] == "softmax_attention");
  CHECK(k[5] == "softmax_attention");
  check_decoding(model, rng);
}

// Beam search over a batch of sources of different lengths and length limits decodes each item as
// it would alone: an item's beams share its cross-attention entry and items leave the batch as
// they finish, without disturbing the others' states.
TEST_CASE("encoder-decoder: beam search over a batch gives each item what it gets alone") {
  Rng rng(21);
  std::vector<AttentionOptions> decoders = {attention_named("softmax"), attention_named("linear"),
                                            attention_named("performer")};
  decoders.push_back(attention_named("linear"));
  decoders.back().feature_map = "hedgehog";
  for (const AttentionOptions& attention : decoders) {
    CAPTURE(attention.type);
    CAPTURE(attention.feature_map);
    Seq2SeqOptions o = tiny_seq2seq(attention_named("softmax"));
    o.decoder_attention = attention;
    Seq2Seq model(o, rng);
    model.eval();
    const std::vector<std::int64_t> lengths = {7, 3, 5, 7, 2, 6}, limits = {6, 9, 2, 8, 5, 9};
    const std::int64_t B = 6, N = 7;
    Tensor src = random_ids(rng, B, N, 3, 17);
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t t = lengths[static_cast<std::size_t>(b)]; t < N; ++t) src.data<std::int64_t>()[b * N + t] = 0;
    }
    SearchOptions search;
    search.bos = 1;
    search.eos = 2;
    search.beam = 3;
    search.nbest = 3;
    const StepFn step = [&](const Tensor& ids, DecodeState& s) { return model.step(ids, s); };
    DecodeState state = model.start(model.encode(src, lengths).data(), lengths);
    const auto together = beam_search_nbest(step, state, limits, search);
    REQUIRE(together.size() == static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) {
      CAPTURE(b);
      const std::int64_t len = lengths[static_cast<std::size_t>(b)];
      const Tensor one = src.slice(0, b, b + 1).slice(1, 0, len).contiguous();
      DecodeState alone_state = model.start(model.encode(one, {len}).data(), {len});
      const auto alone = beam_search_nbest(step, alone_state, {limits[static_cast<std::size_t>(b)]}, search);
      const auto& a = alone[0];
      const auto& t = together[static_cast<std::size_t>(b)];
      REQUIRE(a.size() == t.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].tokens == t[i].tokens);
        CHECK(a[i].score == doctest::Approx(t[i].score).epsilon(1e-5));
      }
    }
  }
}

// A reorder that splits no item evenly (one item's row twice, another's once) gives each row its
// own copy of its cross-attention entry; decoding goes on as the full forward says.
TEST_CASE("encoder-decoder: a reorder that repeats rows unevenly keeps each row on its own source") {
  Rng rng(22);
  for (const std::string& attention : kAttentions) {
    CAPTURE(attention);
    Seq2Seq model(tiny_seq2seq(attention_named(attention)), rng);
    model.eval();
    Tensor src = random_ids(rng, 2, 5, 3, 17);
    Tensor tgt = random_ids(rng, 2, 3, 3, 19);
    const std::vector<std::int64_t> src_len = {5, 3};
    const Tensor full = model.forward(src, src_len, tgt).data();  // (2, 3, V)
    DecodeState state = model.start(model.encode(src, src_len).data(), src_len);
    model.step(tgt.slice(1, 0, 1).reshape({2}).contiguous(), state);
    state.reorder(Tensor::from_vector<std::int64_t>({1, 1, 0}));
    CHECK(state.rows_per_item == 1);
    CHECK(state.cross_entries == 3);
    const std::int64_t* t = tgt.data<std::int64_t>();
    const Tensor logits = model.step(Tensor::from_vector<std::int64_t>({t[4], t[4], t[1]}), state);
    CHECK(allclose(logits.select(0, 0), full.select(0, 1).select(0, 1), 1e-5, 1e-5));
    CHECK(allclose(logits.select(0, 1), full.select(0, 1).select(0, 1), 1e-5, 1e-5));
    CHECK(allclose(logits.select(0, 2), full.select(0, 0).select(0, 1), 1e-5, 1e-5));
  }
}

TEST_CASE("encoder-decoder: vocabularies shared or separate, embeddings tied or not") {
  Rng rng(4);
  Seq2SeqOptions o;
  o.src_vocab = 10;
  o.tgt_vocab = 10;
  o.layer = tiny_layer();
  o.shared_vocab = true;
  Seq2Seq shared(o, rng);
  std::int64_t tables = 0;
  for (const auto& [name, p] : shared.named_parameters()) tables += name.find("embedding.weight") != std::string::npos;
  CHECK(tables == 1);  // all three tied
  o.shared_vocab = false;
  o.tie_output = false;
  o.tgt_vocab = 12;
  Seq2Seq separate(o, rng);
  tables = 0;
  for (const auto& [name, p] : separate.named_parameters())
    tables += name.find("embedding.weight") != std::string::npos;
  CHECK(tables == 2);
  CHECK(separate.decoder().named_parameters().back().first == "decoder.out_proj.weight");
  o.shared_vocab = true;
  CHECK_THROWS_WITH_AS(Seq2Seq(o, rng), doctest::Contains("src_vocab == tgt_vocab"), LayerError);
}

TEST_CASE("models refuse bad input with the layer's name and the sizes") {
  Rng rng(5);
  StackOptions o;
  o.vocab = 9;
  o.layer = tiny_layer();
  o.positional = PositionalKind::learned;
  o.max_len = 8;
  TransformerLM lm(o, rng);
  CHECK_THROWS_WITH_AS(lm.forward(Tensor::from_vector<std::int64_t>({1, 9}, {1, 2})),
                       doctest::Contains("decoder.input.embedding: token id 9"), LayerError);
  CHECK_THROWS_WITH_AS(lm.forward(Tensor::zeros({1, 9}, DType::i64)), doctest::Contains("learned table has 8"),
                       LayerError);
  CHECK_THROWS_WITH_AS(lm.forward(Tensor::zeros({2, 4}, DType::i64), {4}),
                       doctest::Contains("1 lengths for a batch of 2"), LayerError);
  CHECK_THROWS_AS(lm.forward(Tensor::zeros({2, 4}, DType::i64), {4, 5}), Error);
  CHECK_THROWS_AS(lm.forward(Tensor::zeros({2, 4}, DType::f32)), LayerError);
}

TEST_CASE("a 2-layer language model memorizes a 64-token sequence") {
  Rng rng(6);
  StackOptions o;
  o.vocab = 16;
  o.layers = 2;
  o.layer = tiny_layer();
  o.layer.d_model = 32;
  o.layer.heads = 4;
  o.layer.d_ff = 64;
  TransformerLM lm(o, rng);
  Tensor seq = random_ids(rng, 1, 65, 0, 16);
  Tensor input = seq.slice(1, 0, 64).contiguous();
  Tensor target = seq.slice(1, 1, 65).contiguous();
  AdamOptions ao;
  ao.lr = 3e-3;
  Adam opt(lm.parameters(), ao);
  double loss = 1e9;
  int steps = 0;
  for (; steps < 400 && loss >= 0.05; ++steps) {
    opt.zero_grad();
    Variable l = cross_entropy(lm.forward(input), target);
    l.backward();
    opt.step();
    loss = l.data().item();
  }
  INFO("steps: " << steps);
  CHECK(loss < 0.05);
}

namespace {

constexpr std::int64_t kPad = 0, kBos = 1, kEos = 2;

// Trains an encoder-decoder on random sequences mapped by `task` and returns the token accuracy
// of greedy decoding (through the incremental states) on fresh sequences.
template <typename Task>
double learn_sequence_task(Task task, std::uint64_t seed) {
  Rng rng(seed);
  const std::int64_t vocab = 13, len = 8, batch = 32;
  Seq2SeqOptions o;
  o.src_vocab = o.tgt_vocab = vocab;
  o.shared_vocab = true;
  o.padding_idx = kPad;
  o.layer = tiny_layer();
  o.layer.d_model = 32;
  o.layer.heads = 4;
  o.layer.d_ff = 64;
  Seq2Seq model(o, rng);
  AdamOptions ao;
  ao.lr = 3e-3;
  Adam opt(model.parameters(), ao);
  auto make_batch = [&](Rng& r) {
    Tensor src = random_ids(r, batch, len, 3, vocab);
    Tensor out = Tensor::empty({batch, len + 1}, DType::i64);   // decoder input: BOS y
    Tensor gold = Tensor::empty({batch, len + 1}, DType::i64);  // decoder target: y EOS
    for (std::int64_t b = 0; b < batch; ++b) {
      std::vector<std::int64_t> s(src.data<std::int64_t>() + b * len, src.data<std::int64_t>() + (b + 1) * len);
      const std::vector<std::int64_t> y = task(s);
      out.data<std::int64_t>()[b * (len + 1)] = kBos;
      for (std::int64_t t = 0; t < len; ++t) {
        out.data<std::int64_t>()[b * (len + 1) + t + 1] = y[t];
        gold.data<std::int64_t>()[b * (len + 1) + t] = y[t];
      }
      gold.data<std::int64_t>()[b * (len + 1) + len] = kEos;
    }
    return std::tuple{src, out, gold};
  };
  Rng data(seed + 1);
  for (int step = 0; step < 600; ++step) {
    auto [src, in, gold] = make_batch(data);
    opt.zero_grad();
    Variable l = cross_entropy(model.forward(src, {}, in), gold);
    l.backward();
    opt.step();
  }
  model.eval();
  auto [src, in, gold] = make_batch(data);
  Tensor memory = model.encode(src, {}).data();
  DecodeState state = model.start(memory, {});
  Tensor tok = Tensor::full({batch}, static_cast<double>(kBos), DType::i64);
  std::int64_t hits = 0;
  for (std::int64_t t = 0; t <= len; ++t) {
    tok = argmax(model.step(tok, state), -1);
    for (std::int64_t b = 0; b < batch; ++b) hits += tok.data<std::int64_t>()[b] == gold.at({b, t});
  }
  return static_cast<double>(hits) / static_cast<double>(batch * (len + 1));
}

}  // namespace

TEST_CASE("an encoder-decoder learns to copy") {
  const double acc = learn_sequence_task([](std::vector<std::int64_t> s) { return s; }, 7);
  INFO("greedy token accuracy " << acc);
  CHECK(acc > 0.99);
}

TEST_CASE("an encoder-decoder learns to reverse") {
  const double acc = learn_sequence_task(
      [](std::vector<std::int64_t> s) {
        std::reverse(s.begin(), s.end());
        return s;
      },
      8);
  INFO("greedy token accuracy " << acc);
  CHECK(acc > 0.99);
}
