// The declaration table of experiment files: every key once, with its default, help and range.
#include <fmt/format.h>

#include "layers/attention/registry.h"
#include "layers/feed_forward.h"
#include "train/config/experiment_config.h"

namespace kat {
namespace {

// The accessor of a nested member: member(&Experiment::optim, &OptimConfig::lr) reaches e.optim.lr.
template <typename... Members>
auto member(Members... path) {
  return [=](Experiment & e) -> auto& { return (e.*....*path); };
}

// When a key has an effect: each rule returns "" when the key applies, else why it does not (giving
// the key then is an error, and the resolved config leaves it out).
namespace rule {

std::string synthetic(const Experiment& e) {
  return e.data.kind == DataKind::synthetic ? "" : "it applies to data.kind: synthetic only";
}
std::string corpus(const Experiment& e) {
  return e.data.kind == DataKind::corpus ? "" : "it applies to data.kind: corpus only";
}
std::string sequence_task(const Experiment& e) {
  if (auto why = synthetic(e); !why.empty()) return why;
  const auto& t = e.data.synthetic.task;
  return t != SyntheticTask::markov ? "" : "it applies to the copy, reverse and duplicate tasks only";
}
std::string markov_task(const Experiment& e) {
  if (auto why = synthetic(e); !why.empty()) return why;
  return e.data.synthetic.task == SyntheticTask::markov ? "" : "it applies to the markov task only";
}
std::string lm_corpus(const Experiment& e) {
  return e.data.kind == DataKind::corpus && e.task == Task::lm ? "" : "it applies to language-model corpora only";
}
std::string translation_corpus(const Experiment& e) {
  return e.data.kind == DataKind::corpus && e.task == Task::translation ? "" : "it applies to translation corpora only";
}
std::string lm_windows(const Experiment& e) {
  if (auto why = lm_corpus(e); !why.empty()) return why;
  return e.data.sentence_level ? "it applies to windows of running text, not to data.sentence_level" : "";
}
std::string rows_of_seq_len(const Experiment& e) {
  return e.data.kind == DataKind::synthetic && e.data.synthetic.task != SyntheticTask::markov
             ? "synthetic sequence lengths come from data.synthetic.min_len and max_len"
             : "";
}
std::string without_max_tokens(const Experiment& e) {
  return e.data.max_tokens > 0 ? "data.max_tokens sizes the batches" : "";
}
std::string lm(const Experiment& e) { return e.task == Task::lm ? "" : "it applies to task: lm only"; }
std::string translation(const Experiment& e) {
  return e.task == Task::translation ? "" : "it applies to task: translation only";
}
std::string sgd(const Experiment& e) { return e.optim.type == "sgd" ? "" : "it applies to optim.type: sgd only"; }
std::string adam(const Experiment& e) {
  return e.optim.type != "sgd" ? "" : "it applies to optim.type: adam and adamw only";
}
std::string decaying_schedule(const Experiment& e) {
  return e.schedule.type == "cosine" || e.schedule.type == "linear"
             ? ""
             : "it applies to the cosine and linear schedules only";
}

std::string distilling(const Experiment& e) {
  return e.train.distill_attention.steps > 0 ? "" : "it applies when train.distill_attention.steps > 0";
}

}  // namespace rule

void add_top_level(Schema& s) {
  s.strings("plugins", member(&Experiment::plugins), {},
            "Plugins to load before the rest of the file is read: shared libraries that register attention "
            "types and feature maps (built against an installed kat; docs/attention.md). Relative paths are "
            "taken from the folder kat runs in; a run folder records each with a fingerprint of its bytes.");
  s.choice("task", member(&Experiment::task), Task::lm,
           "What is trained: a decoder-only language model (lm) or an encoder-decoder (translation).");
}

// data.kind and the synthetic tasks.
void add_data(Schema& s) {
  s.choice("data.kind", member(&Experiment::data, &DataConfig::kind), DataKind::synthetic,
           "Where batches come from: generated sequences (synthetic) or a prepared HDF5 corpus (corpus).");
  s.choice("data.synthetic.task", member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::task),
           SyntheticTask::markov,
           "Synthetic data: copy or reverse a random sequence (translation, Katharopoulos et al. 2020 Sec. 4.1); "
           "a fixed random Markov chain (lm; the best loss is its entropy rate) or a sequence followed by its "
           "duplicate (lm, the paper's duplication task; only the copy is scored).")
      .applies_when(rule::synthetic);
  s.integer("data.synthetic.symbols", member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::symbols),
            10, "Distinct symbols in the synthetic sequences (the vocabulary adds pad, bos, eos and sep).")
      .at_least(2)
      .at_most(1000000)
      .applies_when(rule::synthetic);
  s.integer("data.synthetic.min_len", member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::min_len),
            4, "copy, reverse, duplicate: shortest random sequence.")
      .at_least(1)
      .applies_when(rule::sequence_task);
  s.integer("data.synthetic.max_len", member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::max_len),
            16, "copy, reverse, duplicate: longest random sequence.")
      .at_least(1)
      .applies_when(rule::sequence_task);
  s.integer("data.synthetic.branching",
            member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::branching), 3,
            "markov: successors each symbol may have (random probabilities); lower is easier. At most 2^22 "
            "transitions in all (symbols x branching).")
      .at_least(1)
      .at_most(1000000)
      .applies_when(rule::markov_task);
  s.integer("data.synthetic.seed", member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::seed), 1234,
            "Seed of the task itself (the Markov chain, the validation set); train.seed drives the training stream.")
      .at_least(0)
      .applies_when(rule::synthetic);
  s.integer("data.synthetic.valid_sentences",
            member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::valid_sentences), 256,
            "Sentences in the fixed validation set.")
      .at_least(1)
      .applies_when(rule::synthetic);
  s.integer("data.synthetic.epoch_sentences",
            member(&Experiment::data, &DataConfig::synthetic, &SyntheticDataConfig::epoch_sentences), 10000,
            "Sentences that count as one epoch of the endless synthetic stream.")
      .at_least(1)
      .applies_when(rule::synthetic);
}

// data.kind corpus and what both kinds share.
void add_corpus_data(Schema& s) {
  s.string("data.train", member(&Experiment::data, &DataConfig::train), "",
           "corpus: the prepared HDF5 dataset to train on (kat prepare dataset); it holds its tokenizer.")
      .applies_when(rule::corpus);
  s.string("data.valid", member(&Experiment::data, &DataConfig::valid), "",
           "corpus: the prepared HDF5 dataset to validate on (kat prepare dataset).")
      .applies_when(rule::corpus);
  s.string("data.side", member(&Experiment::data, &DataConfig::side), "",
           "lm corpus: which side (language) of the dataset to read; empty for its first.")
      .applies_when(rule::lm_corpus);
  s.boolean("data.sentence_level", member(&Experiment::data, &DataConfig::sentence_level), false,
            "lm corpus: one sentence a row (bos + sentence, padded) instead of windows of data.seq_len tokens cut "
            "from the running text.")
      .applies_when(rule::lm_corpus);
  s.string("data.src_side", member(&Experiment::data, &DataConfig::src_side), "",
           "translation corpus: the source side; empty for the dataset's first.")
      .applies_when(rule::translation_corpus);
  s.string("data.tgt_side", member(&Experiment::data, &DataConfig::tgt_side), "",
           "translation corpus: the target side; empty for the dataset's second.")
      .applies_when(rule::translation_corpus);
  s.integer("data.bucket_size", member(&Experiment::data, &DataConfig::bucket_size), 4096,
            "translation corpus: pairs pooled and sorted by length before batching (less padding).")
      .at_least(1)
      .applies_when(rule::translation_corpus);
  s.integer("data.prefetch", member(&Experiment::data, &DataConfig::prefetch), 2,
            "corpus: batches a background thread prepares ahead (0: none); resuming stays exact.")
      .at_least(0)
      .at_most(1024)
      .applies_when(rule::corpus);
  s.integer("data.seq_len", member(&Experiment::data, &DataConfig::seq_len), 64,
            "lm (markov and corpus): tokens per training row; translation corpus: longest source or target kept "
            "for training (longer pairs are skipped).")
      .at_least(1)
      .applies_when(rule::rows_of_seq_len);
  s.integer("data.batch_size", member(&Experiment::data, &DataConfig::batch_size), 32,
            "Sentences (rows) per batch, unless data.max_tokens is set.")
      .at_least(1)
      .alias("batch")
      .applies_when(rule::without_max_tokens);
  s.integer("data.max_tokens", member(&Experiment::data, &DataConfig::max_tokens), 0,
            "When > 0: batches of up to this many (padded) tokens instead of data.batch_size sentences. A "
            "translation corpus without it gets a budget of data.batch_size * data.seq_len.")
      .at_least(0);
  s.integer("data.seq_len_warmup.start", member(&Experiment::data, &DataConfig::seq_len_warmup, &SeqLenWarmup::start),
            0,
            "lm corpus: train on windows of this many tokens first, doubling in equal phases of "
            "data.seq_len_warmup.steps steps up to data.seq_len (data.seq_len / start a power of two); each "
            "batch's windows are cut into shorter ones, so a step reads the same tokens. At the start a query "
            "spreads its attention over all the keys before it: short windows first teach local attention "
            "sooner (sequence length warmup, Li et al. 2022). Validation always uses data.seq_len. 0: off.")
      .at_least(0)
      .applies_when(rule::lm_windows);
  s.integer("data.seq_len_warmup.steps", member(&Experiment::data, &DataConfig::seq_len_warmup, &SeqLenWarmup::steps),
            0, "lm corpus: the steps over which data.seq_len_warmup.start grows to data.seq_len.")
      .at_least(0)
      .applies_when(rule::lm_windows);
}

void add_model(Schema& s) {
  s.integer("model.layers", member(&Experiment::model, &ModelConfig::layers), 2,
            "Transformer layers (lm), and the default for both stacks of a translation model.")
      .at_least(1)
      .at_most(256)
      .alias("num_layers")
      .alias("n_layers");
  s.integer("model.encoder_layers", member(&Experiment::model, &ModelConfig::encoder_layers), 0,
            "translation: encoder layers (0: model.layers).")
      .at_least(0)
      .at_most(256)
      .applies_when(rule::translation);
  s.integer("model.decoder_layers", member(&Experiment::model, &ModelConfig::decoder_layers), 0,
            "translation: decoder layers (0: model.layers).")
      .at_least(0)
      .at_most(256)
      .applies_when(rule::translation);
  s.integer("model.d_model", member(&Experiment::model, &ModelConfig::d_model), 128,
            "Width of the residual stream; must be divisible by model.heads.")
      .at_least(1);
  s.integer("model.heads", member(&Experiment::model, &ModelConfig::heads), 4, "Attention heads.")
      .at_least(1)
      .alias("num_heads")
      .alias("n_heads");
  s.integer("model.d_ff", member(&Experiment::model, &ModelConfig::d_ff), 512,
            "Inner width of the feed-forward blocks.")
      .at_least(1);
  s.number("model.dropout", member(&Experiment::model, &ModelConfig::dropout), 0.1,
           "Dropout on embeddings, sublayer outputs and inside the feed-forward blocks.")
      .at_least(0.0)
      .below(1.0);
  s.choice("model.activation", member(&Experiment::model, &ModelConfig::activation), Activation::relu,
           "Feed-forward activation.");
  s.choice("model.norm", member(&Experiment::model, &ModelConfig::norm), NormPlacement::pre,
           "Layer norm before each sublayer (pre) or after each residual sum (post, the original Transformer).");
  s.choice("model.positional", member(&Experiment::model, &ModelConfig::positional), PositionalKind::sinusoidal,
           "Positional encoding added to the embeddings.");
  s.integer("model.max_len", member(&Experiment::model, &ModelConfig::max_len), 1024,
            "Longest sequence the model accepts (the size of a learned position table).")
      .at_least(1);
  s.boolean("model.tie_embeddings", member(&Experiment::model, &ModelConfig::tie_embeddings), true,
            "Output projection tied to the (target) embedding.");
  s.boolean("model.share_embeddings", member(&Experiment::model, &ModelConfig::share_embeddings), false,
            "translation: one embedding table for source and target (needs a shared vocabulary).")
      .applies_when(rule::translation);
}

// The keys of one attention section (model.attention, or an override of a hybrid translation
// model), each applying when the section's type or feature map reads it.
void add_attention_section(Schema& s, const AttentionSection& section) {
  const std::string p = std::string(section.name) + ".";
  const auto field = section.field;
  const auto key_rule = [&section](const char* name) -> FieldBase::Rule {
    if (!section.is_override) {
      return [name](const Experiment& e) { return attention_key_unread_in_stack(name, e.model); };
    }
    return [name, &section](const Experiment& e) {
      const AttentionConfig& a = e.model.*section.field;
      if (a.type.empty()) return fmt::format("{}.type is not given", section.name);
      return attention_key_unread(name, a);
    };
  };
  if (section.is_override) {
    s.string(p + "type", member(&Experiment::model, field, &AttentionConfig::type), "",
             fmt::format("translation: the attention type of {} when it differs from model.attention (a hybrid); the "
                         "other keys of this section then describe it, with model.attention's defaults. Empty: "
                         "model.attention.",
                         section.role))
        .applies_when(rule::translation);
  } else {
    s.string(p + "type", member(&Experiment::model, field, &AttentionConfig::type), "softmax",
             "Attention kernel by its registered name (the list below the keys): softmax (Vaswani et al. 2017), "
             "linear (Katharopoulos et al. 2020), performer (Choromanski et al. 2021), or one a plugin registers.")
        .one_of(attention_names);
  }
  s.string(p + "feature_map", member(&Experiment::model, field, &AttentionConfig::feature_map), "",
           "Attention with a feature map (linear, performer): the map by its registered name (the list below the "
           "keys), or one a plugin registers; empty for the type's own (linear: elu, performer: favor+).")
      .applies_when(key_rule("feature_map"));
  s.integer(p + "features", member(&Experiment::model, field, &AttentionConfig::features), 0,
            "Random feature maps (favor+, favor-trig): the number of random features m (required).")
      .at_least(0)
      .applies_when(key_rule("features"));
  s.integer(p + "redraw_interval", member(&Experiment::model, field, &AttentionConfig::redraw_interval), 0,
            "Random feature maps: redraw the random projections every this many training steps (0: never).")
      .at_least(0)
      .applies_when(key_rule("redraw_interval"));
  s.boolean(p + "orthogonal", member(&Experiment::model, field, &AttentionConfig::orthogonal), true,
            "Random feature maps: blocks of orthogonal projections (true) or i.i.d. Gaussian ones.")
      .applies_when(key_rule("orthogonal"));
  s.string(p + "norms", member(&Experiment::model, field, &AttentionConfig::norms), "chi",
           "Random feature maps: norms of the orthogonal rows, chi-distributed (chi) or all sqrt(d) (sqrt_d).")
      .one_of({"chi", "sqrt_d"})
      .applies_when(key_rule("norms"));
  s.number(p + "feature_eps", member(&Experiment::model, field, &AttentionConfig::feature_eps), 1e-6,
           "relu: added to every feature.")
      .at_least(0.0)
      .applies_when(key_rule("feature_eps"));
  s.number(p + "eps", member(&Experiment::model, field, &AttentionConfig::eps), -1,
           "linear, performer: added to every attention normalizer; negative: the feature map's own, 1e-6, or "
           "1e-30 for favor+ and favor-trig, whose stabilized features have no fixed scale (a larger value would "
           "bias their attention).")
      .at_least(-1.0)
      .applies_when(key_rule("eps"));
  s.numbers(p + "decay", member(&Experiment::model, field, &AttentionConfig::decay), {},
            "linear, performer, causal self-attention (lm, or model.decoder_attention): per-head decay gamma, one "
            "number for every head or one per head; key j's weight for query i is multiplied by gamma^(i - j), so a "
            "head attends over about the last 1 / (1 - gamma) positions, 1 keeping the whole prefix (retention's "
            "fixed decays, Sun et al. 2023). Empty: none.")
      .above(0.0)
      .at_most(1.0)
      .applies_when(key_rule("decay"));
  s.integer(p + "window", member(&Experiment::model, field, &AttentionConfig::window), 0,
            "linear, performer, causal self-attention: the last this many keys (the query's own among them) get "
            "softmax weights exp(q.k / sqrt(d)), the older ones the kernel's, times a learned factor per head, under "
            "one normalizer (a sliding window beside linear attention, LoLCATs, Zhang et al. 2024); decoding keeps "
            "the window's keys and values beside the recurrent state. Not with feature maps that stabilize their "
            "keys (favor+, favor-trig). 0: none.")
      .at_least(0)
      .applies_when(key_rule("window"));
}

void add_attention(Schema& s) {
  for (const AttentionSection& section : attention_sections()) {
    add_attention_section(s, section);
    if (section.is_override) continue;
    s.strings("model.layer_attention", member(&Experiment::model, &ModelConfig::layer_attention), {},
              "lm: a hybrid stack, the attention type of each layer in order (one per model.layers); the other "
              "keys of model.attention apply to every layer that reads them. Empty: model.attention.type.")
        .one_of(attention_names)
        .applies_when(rule::lm);
  }
}

void add_optim(Schema& s) {
  s.string("optim.type", member(&Experiment::optim, &OptimConfig::type), "adamw",
           "Optimizer by its registered name: sgd, adam (L2 decay inside the moments) or adamw (decoupled decay).")
      .one_of(optimizer_names);
  s.number("optim.lr", member(&Experiment::optim, &OptimConfig::lr), 1e-3,
           "Peak learning rate; the schedule scales it.")
      .above(0.0)
      .alias("learning_rate")
      .alias("lrate");
  s.number("optim.momentum", member(&Experiment::optim, &OptimConfig::momentum), 0.0, "sgd: momentum.")
      .at_least(0.0)
      .below(1.0)
      .applies_when(rule::sgd);
  s.boolean("optim.nesterov", member(&Experiment::optim, &OptimConfig::nesterov), false,
            "sgd: Nesterov momentum (needs optim.momentum > 0).")
      .applies_when(rule::sgd);
  s.number("optim.beta1", member(&Experiment::optim, &OptimConfig::beta1), 0.9, "adam, adamw: beta1.")
      .at_least(0.0)
      .below(1.0)
      .applies_when(rule::adam);
  s.number("optim.beta2", member(&Experiment::optim, &OptimConfig::beta2), 0.98, "adam, adamw: beta2.")
      .at_least(0.0)
      .below(1.0)
      .applies_when(rule::adam);
  s.number("optim.eps", member(&Experiment::optim, &OptimConfig::eps), 1e-9, "adam, adamw: epsilon.")
      .above(0.0)
      .applies_when(rule::adam);
  s.number("optim.weight_decay", member(&Experiment::optim, &OptimConfig::weight_decay), 0.01,
           "Weight decay (L2 for sgd and adam, decoupled for adamw).")
      .at_least(0.0);
  s.boolean("optim.decay_all", member(&Experiment::optim, &OptimConfig::decay_all), false,
            "Decay every parameter; by default biases and normalization gains are not decayed.");
}

void add_schedule(Schema& s) {
  s.string("schedule.type", member(&Experiment::schedule, &ScheduleConfig::type), "inverse_sqrt",
           "Learning-rate schedule: constant, inverse_sqrt (the Transformer's), cosine or linear decay; all "
           "start with schedule.warmup steps of linear warmup.")
      .one_of(schedule_names);
  s.integer("schedule.warmup", member(&Experiment::schedule, &ScheduleConfig::warmup), 100,
            "Steps of linear warmup to optim.lr.")
      .at_least(0);
  s.integer("schedule.total_steps", member(&Experiment::schedule, &ScheduleConfig::total_steps), 0,
            "cosine, linear: step at which the rate reaches schedule.min_lr (0: train.steps).")
      .at_least(0)
      .applies_when(rule::decaying_schedule);
  s.number("schedule.min_lr", member(&Experiment::schedule, &ScheduleConfig::min_lr), 0.0,
           "cosine, linear: the final learning rate.")
      .at_least(0.0)
      .applies_when(rule::decaying_schedule);
}

void add_train(Schema& s) {
  s.integer("train.steps", member(&Experiment::train, &TrainConfig::steps), 1000,
            "Optimizer updates to train for (0 when training by train.epochs).")
      .at_least(0)
      .alias("max_steps")
      .alias("after_batches");
  s.integer("train.epochs", member(&Experiment::train, &TrainConfig::epochs), 0,
            "Epochs to train for instead of train.steps (0: count steps).")
      .at_least(0);
  s.integer("train.accumulate", member(&Experiment::train, &TrainConfig::accumulate), 1,
            "Batches whose gradients are summed into one update (the same update as one batch this many times "
            "larger).")
      .at_least(1);
  s.number("train.clip_norm", member(&Experiment::train, &TrainConfig::clip_norm), 1.0,
           "Clip the global gradient norm to this value (0: no clipping).")
      .at_least(0.0);
  s.number("train.label_smoothing", member(&Experiment::train, &TrainConfig::label_smoothing), 0.0,
           "Label smoothing of the training loss (validation reports the plain cross-entropy).")
      .at_least(0.0)
      .below(1.0);
  s.integer("train.valid_interval", member(&Experiment::train, &TrainConfig::valid_interval), 100,
            "Validate every this many steps (0: only at the end).")
      .at_least(0);
  s.integer("train.bleu_beam", member(&Experiment::train, &TrainConfig::bleu_beam), 1,
            "translation: validation also decodes the validation set with this beam (1: greedy) and reports BLEU "
            "(sacreBLEU's 13a tokenization); 0 skips decoding.")
      .at_least(0)
      .at_most(64)
      .applies_when(rule::translation);
  s.integer("train.checkpoint_interval", member(&Experiment::train, &TrainConfig::checkpoint_interval), 500,
            "Write a checkpoint every this many steps (and always at the end).")
      .at_least(1);
  s.integer("train.keep_last", member(&Experiment::train, &TrainConfig::keep_last), 3,
            "Step checkpoints kept on disk (last.h5 and best.h5 are kept besides).")
      .at_least(1);
  s.integer("train.patience", member(&Experiment::train, &TrainConfig::patience), 0,
            "Stop after this many validations without a better validation loss (0: never).")
      .at_least(0);
  s.integer("train.max_bad_steps", member(&Experiment::train, &TrainConfig::max_bad_steps), 5,
            "Stop after this many steps in a row with a non-finite loss or gradient (each is skipped).")
      .at_least(1);
  s.integer("train.log_interval", member(&Experiment::train, &TrainConfig::log_interval), 10,
            "Log a line and a metrics.jsonl record every this many steps.")
      .at_least(1);
  s.string("train.time_budget", member(&Experiment::train, &TrainConfig::time_budget), "",
           "Stop once the training steps have taken this long, validation and checkpoints not counted (90s, 25m, "
           "1h30m), train.steps remaining a cap: runs compared at equal time. A resumed run continues the count. "
           "Empty: no budget.");
  s.choice("train.precision", member(&Experiment::train, &TrainConfig::precision), MatmulPrecision::float32,
           "fp32, or bf16: matrix products of at least 256^3 multiply-adds (the model's linear layers, forward and "
           "backward, and attention's products at long sequences) take bfloat16 operands and accumulate in float32; "
           "weights, gradients, "
           "optimizer state and every other op stay float32. Needs a CPU with AVX512_BF16 and oneDNN (Debian's "
           "libdnnl2); refused otherwise.");
  s.integer("train.distill_attention.steps",
            member(&Experiment::train, &TrainConfig::distill_attention, &DistillConfig::steps), 0,
            "The first this many of train.steps train only the learned feature maps (t2r, hedgehog) of linear "
            "attention, to reproduce the softmax attention weights of the same queries and keys layer by layer "
            "(attention distillation, Zhang et al. 2024; the loss in docs/convert.md); the schedule then starts "
            "for the rest. 0: off.")
      .at_least(0);
  s.number("train.distill_attention.lr",
           member(&Experiment::train, &TrainConfig::distill_attention, &DistillConfig::lr), 0.01,
           "The constant learning rate of attention distillation (Adam, the feature maps' weights only).")
      .above(0.0)
      .applies_when(rule::distilling);
  s.integer("train.seed", member(&Experiment::train, &TrainConfig::seed), 1,
            "Seed of the model's initialization, dropout and the training data stream.")
      .at_least(0);
  s.integer("train.threads", member(&Experiment::train, &TrainConfig::threads), 0,
            "Threads for oneTBB and OpenBLAS (0: kat --threads, KAT_NUM_THREADS or all cores; under mpirun, the "
            "cores of the host shared among its ranks).")
      .at_least(0)
      .at_most(1024);
  s.number("train.bucket_mb", member(&Experiment::train, &TrainConfig::bucket_mb), 4.0,
           "Data-parallel runs (mpirun): gradients are summed over the processes in buckets of about this many MB, "
           "each started as soon as backward has finished it.")
      .above(0.0)
      .at_most(1024.0);
}

void add_output(Schema& s) {
  s.string("output.dir", member(&Experiment::output, &OutputConfig::dir), "runs/default",
           "The run folder: resolved config, train.log, metrics.jsonl and checkpoints/.");
}

Schema build_schema() {
  Schema s;
  add_top_level(s);
  add_data(s);
  add_corpus_data(s);
  add_model(s);
  add_attention(s);
  add_optim(s);
  add_schedule(s);
  add_train(s);
  add_output(s);
  return s;
}

}  // namespace

const Schema& experiment_schema() {
  static const Schema schema = build_schema();
  return schema;
}

Experiment default_experiment() { return experiment_schema().defaults(); }

}  // namespace kat
