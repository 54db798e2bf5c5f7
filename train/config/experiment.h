#pragma once
// An experiment: everything one training run needs, as typed structs. The values come from a YAML
// file read through the declaration table in train/experiment_schema.cpp, which gives every field
// its default, its help text and its range; default_experiment() is the table's defaults.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/kernels/bfloat16.h"
#include "core/names.h"
#include "data/synthetic.h"
#include "layers/attention/registry.h"
#include "layers/feed_forward.h"
#include "layers/positional.h"
#include "layers/transformer_layer.h"
#include "optim/optimizers.h"
#include "optim/schedule.h"

namespace kat {

// train.precision: fp32, or bf16 (the large matrix products with bfloat16 operands and float32
// accumulation; core/kernels/bfloat16.h).
template <>
struct EnumNames<MatmulPrecision> {
  static constexpr const char* names[] = {"fp32", "bf16"};
};

enum class Task { lm, translation };
template <>
struct EnumNames<Task> {
  static constexpr const char* names[] = {"lm", "translation"};
};

enum class DataKind { synthetic, corpus };
template <>
struct EnumNames<DataKind> {
  static constexpr const char* names[] = {"synthetic", "corpus"};
};

struct SyntheticDataConfig {
  SyntheticTask task = SyntheticTask::markov;
  std::int64_t symbols = 0;
  std::int64_t min_len = 0;
  std::int64_t max_len = 0;
  std::int64_t branching = 0;
  std::int64_t seed = 0;
  std::int64_t valid_sentences = 0;
  std::int64_t epoch_sentences = 0;
};

// Sequence-length warmup of a language model on running text: training windows of `start` tokens
// at first, doubling in equal phases of the first `steps` steps up to data.seq_len (each batch's
// long windows cut into short ones: the same tokens per step). 0: off.
struct SeqLenWarmup {
  std::int64_t start = 0;
  std::int64_t steps = 0;
};

struct DataConfig {
  DataKind kind = DataKind::synthetic;
  SyntheticDataConfig synthetic;
  std::string train;             // corpus: prepared HDF5 dataset for training
  std::string valid;             // corpus: prepared HDF5 dataset for validation
  std::string side;              // lm corpus
  bool sentence_level = false;   // lm corpus
  std::string src_side;          // translation corpus
  std::string tgt_side;          // translation corpus
  std::int64_t bucket_size = 0;  // translation corpus
  std::int64_t prefetch = 0;     // corpus
  std::int64_t seq_len = 0;
  std::int64_t batch_size = 0;  // sentences per batch
  std::int64_t max_tokens = 0;  // > 0: batches of up to this many target tokens instead
  SeqLenWarmup seq_len_warmup;
};

// The `model.attention` section is the attention kernel's own options (layers/attention/registry.h).
using AttentionConfig = AttentionOptions;

struct ModelConfig {
  std::int64_t layers = 0;
  std::int64_t encoder_layers = 0;  // translation; 0: layers
  std::int64_t decoder_layers = 0;  // translation; 0: layers
  std::int64_t d_model = 0;
  std::int64_t heads = 0;
  std::int64_t d_ff = 0;
  double dropout = 0.0;
  Activation activation = Activation::relu;
  NormPlacement norm = NormPlacement::pre;
  PositionalKind positional = PositionalKind::sinusoidal;
  std::int64_t max_len = 0;
  bool tie_embeddings = false;
  bool share_embeddings = false;
  AttentionConfig attention;  // every attention sublayer, unless one of the keys below says otherwise
  // A hybrid language model: the attention type of each layer, in order (the other keys of
  // model.attention apply to all); empty: model.attention.type everywhere.
  std::vector<std::string> layer_attention;
  // A hybrid translation model: the encoder's self-attention, the decoder's self-attention, the
  // decoder's cross-attention; each used when its type is given (a whole mapping like
  // model.attention, with the same defaults), else model.attention.
  AttentionConfig encoder_attention, decoder_attention, cross_attention;
};

// The `optim` section is the optimizer's own options (optim/optimizers.h).
using OptimConfig = OptimizerOptions;

// The `schedule` section is the schedule's own options (optim/schedule.h); total_steps 0 means
// train.steps.
using ScheduleConfig = ScheduleOptions;

// train.distill_attention: the first `steps` steps train only the weights of the learned feature maps,
// to reproduce softmax attention weights layer by layer (LinearAttention::set_distillation), with
// Adam at a constant rate `lr`; the steps after them train the whole model as usual.
struct DistillConfig {
  std::int64_t steps = 0;
  double lr = 0.0;
};

struct TrainConfig {
  std::int64_t steps = 0;
  std::int64_t epochs = 0;
  std::int64_t accumulate = 0;
  double clip_norm = 0.0;
  double label_smoothing = 0.0;
  std::int64_t valid_interval = 0;
  std::int64_t bleu_beam = 0;
  std::int64_t checkpoint_interval = 0;
  std::int64_t keep_last = 0;
  std::int64_t patience = 0;
  std::int64_t max_bad_steps = 0;
  std::int64_t log_interval = 0;
  std::int64_t seed = 0;
  std::int64_t threads = 0;
  double bucket_mb = 0.0;   // data-parallel gradient buckets
  std::string time_budget;  // "25m", "1h30m", "90s": stop after this much training time; "" for none
  DistillConfig distill_attention;
  MatmulPrecision precision = MatmulPrecision::float32;
};

struct OutputConfig {
  std::string dir;
};

struct Experiment {
  // Shared libraries loaded before the rest is read (layers/plugin.h); absolute in a run's config.
  std::vector<std::string> plugins;
  Task task = Task::lm;
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  ScheduleConfig schedule;
  TrainConfig train;
  OutputConfig output;
};

}  // namespace kat
