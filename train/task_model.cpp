#include "train/task_model.h"

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "layers/models/language_model.h"
#include "layers/models/seq2seq.h"

namespace kat {
namespace {

TransformerLayerOptions layer_options(const ModelConfig& m) {
  TransformerLayerOptions l;
  l.d_model = m.d_model;
  l.heads = m.heads;
  l.d_ff = m.d_ff;
  l.dropout = m.dropout;
  l.activation = m.activation;
  l.norm = m.norm;
  l.attention = m.attention;
  return l;
}

// An override section of model (encoder_attention, ...): its options when its type is given.
std::optional<AttentionOptions> override_of(const AttentionOptions& a) {
  return a.type.empty() ? std::nullopt : std::optional<AttentionOptions>(a);
}

class LanguageModelTask final : public TaskModel {
 public:
  LanguageModelTask(const StackOptions& o, Rng& rng) : model_(o, rng) {}
  Module& module() override { return model_; }
  Variable logits(const Batch& b) override { return model_.forward(b.input, b.lengths); }
  std::vector<std::vector<Hypothesis>> translate(const Batch&, const SearchOptions&,
                                                 const std::vector<std::int64_t>&) override {
    throw Error("translate: a language model does not translate");
  }
  DecodeState start_generation(std::int64_t batch) override { return model_.start(batch); }
  bool translates() const override { return false; }
  Tensor generation_step(const Tensor& ids, DecodeState& state) override {
    NoGradGuard no_grad;
    return model_.step(ids, state);
  }

 private:
  TransformerLM model_;
};

class TranslationTask final : public TaskModel {
 public:
  TranslationTask(const Seq2SeqOptions& o, Rng& rng) : model_(o, rng) {}
  Module& module() override { return model_; }
  Variable logits(const Batch& b) override { return model_.forward(b.src, b.src_lengths, b.input, b.lengths); }
  std::vector<std::vector<Hypothesis>> translate(const Batch& b, const SearchOptions& options,
                                                 const std::vector<std::int64_t>& max_len) override {
    NoGradGuard no_grad;
    const Tensor memory = model_.encode(b.src, b.src_lengths).data();
    DecodeState state = model_.start(memory, b.src_lengths);
    const StepFn step = [this](const Tensor& ids, DecodeState& s) { return model_.step(ids, s); };
    return beam_search_nbest(step, state, max_len, options);
  }
  DecodeState start_generation(std::int64_t) override {
    throw Error("generate: a translation model generates through translate (kat translate)");
  }
  bool translates() const override { return true; }
  Tensor generation_step(const Tensor&, DecodeState&) override {
    throw Error("generate: a translation model generates through translate (kat translate)");
  }

 private:
  Seq2Seq model_;
};

}  // namespace

std::unique_ptr<TaskModel> make_task_model(const Experiment& e, const TrainingData& data, Rng& rng) {
  const ModelConfig& m = e.model;
  try {
    if (e.task == Task::lm) {
      StackOptions o;
      o.vocab = data.tgt_vocab;
      o.layers = m.layers;
      o.layer = layer_options(m);
      for (const std::string& type : m.layer_attention) {
        AttentionOptions a = m.attention;
        a.type = type;
        o.layer_attention.push_back(a);
      }
      o.positional = m.positional;
      o.max_len = m.max_len;
      o.padding_idx = data.pad_id;
      o.tie_output = m.tie_embeddings;
      return std::make_unique<LanguageModelTask>(o, rng);
    }
    Seq2SeqOptions o;
    o.src_vocab = data.src_vocab;
    o.tgt_vocab = data.tgt_vocab;
    o.shared_vocab = m.share_embeddings;
    o.encoder_layers = m.encoder_layers > 0 ? m.encoder_layers : m.layers;
    o.decoder_layers = m.decoder_layers > 0 ? m.decoder_layers : m.layers;
    o.layer = layer_options(m);
    o.encoder_attention = override_of(m.encoder_attention);
    o.decoder_attention = override_of(m.decoder_attention);
    o.cross_attention = override_of(m.cross_attention);
    o.positional = m.positional;
    o.max_len = m.max_len;
    o.padding_idx = data.pad_id;
    o.tie_output = m.tie_embeddings;
    return std::make_unique<TranslationTask>(o, rng);
  } catch (const Error& err) {
    throw Error(fmt::format("model: {}", err.what()));
  }
}

std::vector<AttentionKernel*> attention_kernels(Module& root) {
  std::vector<AttentionKernel*> out;
  root.visit([&](Module& m) {
    if (auto* k = dynamic_cast<AttentionKernel*>(&m)) out.push_back(k);
  });
  return out;
}

}  // namespace kat
