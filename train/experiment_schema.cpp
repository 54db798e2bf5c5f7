// The declaration table of experiment files: every key once, with its default, help and range.
#include "train/experiment_config.h"

namespace kat {
namespace {

Schema build_schema() {
  Schema s;
  s.string(
       "task", [](Experiment & e) -> auto& { return e.task; }, "lm",
       "What is trained: a decoder-only language model (lm) or an encoder-decoder (translation).")
      .one_of({"lm", "translation"});

  // data
  s.string(
       "data.kind", [](Experiment & e) -> auto& { return e.data.kind; }, "synthetic",
       "Where batches come from: generated sequences (synthetic) or a prepared HDF5 corpus (corpus).")
      .one_of({"synthetic", "corpus"});
  s.string(
       "data.synthetic.task", [](Experiment & e) -> auto& { return e.data.synthetic.task; }, "markov",
       "Synthetic data: copy or reverse a random sequence (translation, Katharopoulos et al. 2020 Sec. 4.1); "
       "a fixed random Markov chain (lm; the best loss is its entropy rate) or a sequence followed by its "
       "duplicate (lm, the paper's duplication task; only the copy is scored).")
      .one_of({"copy", "reverse", "markov", "duplicate"});
  s.integer(
       "data.synthetic.symbols", [](Experiment & e) -> auto& { return e.data.synthetic.symbols; }, 10,
       "Distinct symbols in the synthetic sequences (the vocabulary adds pad, bos, eos and sep).")
      .at_least(2)
      .at_most(1000000);
  s.integer(
       "data.synthetic.min_len", [](Experiment & e) -> auto& { return e.data.synthetic.min_len; }, 4,
       "copy, reverse, duplicate: shortest random sequence.")
      .at_least(1);
  s.integer(
       "data.synthetic.max_len", [](Experiment & e) -> auto& { return e.data.synthetic.max_len; }, 16,
       "copy, reverse, duplicate: longest random sequence.")
      .at_least(1);
  s.integer(
       "data.synthetic.branching", [](Experiment & e) -> auto& { return e.data.synthetic.branching; }, 3,
       "markov: successors each symbol may have (random probabilities); lower is easier.")
      .at_least(1);
  s.integer(
       "data.synthetic.seed", [](Experiment & e) -> auto& { return e.data.synthetic.seed; }, 1234,
       "Seed of the task itself (the Markov chain, the validation set); train.seed drives the training stream.")
      .at_least(0);
  s.integer(
       "data.synthetic.valid_sentences", [](Experiment & e) -> auto& { return e.data.synthetic.valid_sentences; }, 256,
       "Sentences in the fixed validation set.")
      .at_least(1);
  s.integer(
       "data.synthetic.epoch_sentences", [](Experiment & e) -> auto& { return e.data.synthetic.epoch_sentences; },
       10000, "Sentences that count as one epoch of the endless synthetic stream.")
      .at_least(1);
  s.string(
      "data.train", [](Experiment & e) -> auto& { return e.data.train; }, "",
      "corpus: the prepared HDF5 dataset to train on.");
  s.string(
      "data.valid", [](Experiment & e) -> auto& { return e.data.valid; }, "",
      "corpus: the prepared HDF5 dataset to validate on.");
  s.string(
      "data.tokenizer", [](Experiment & e) -> auto& { return e.data.tokenizer; }, "",
      "corpus: the tokenizer model the datasets were prepared with.");
  s.integer(
       "data.seq_len", [](Experiment & e) -> auto& { return e.data.seq_len; }, 64,
       "Tokens per training sequence (lm: markov and corpus; translation corpus: longest sentence kept).")
      .at_least(1);
  s.integer(
       "data.batch_size", [](Experiment & e) -> auto& { return e.data.batch_size; }, 32,
       "Sentences per batch (ignored when data.max_tokens is set).")
      .at_least(1);
  s.integer(
       "data.max_tokens", [](Experiment & e) -> auto& { return e.data.max_tokens; }, 0,
       "When > 0: batches of up to this many target tokens instead of data.batch_size sentences.")
      .at_least(0);

  // model
  s.integer(
       "model.layers", [](Experiment & e) -> auto& { return e.model.layers; }, 2,
       "Transformer layers (lm), and the default for both stacks of a translation model.")
      .at_least(1)
      .at_most(256);
  s.integer(
       "model.encoder_layers", [](Experiment & e) -> auto& { return e.model.encoder_layers; }, 0,
       "translation: encoder layers (0: model.layers).")
      .at_least(0)
      .at_most(256);
  s.integer(
       "model.decoder_layers", [](Experiment & e) -> auto& { return e.model.decoder_layers; }, 0,
       "translation: decoder layers (0: model.layers).")
      .at_least(0)
      .at_most(256);
  s.integer(
       "model.d_model", [](Experiment & e) -> auto& { return e.model.d_model; }, 128,
       "Width of the residual stream; must be divisible by model.heads.")
      .at_least(1);
  s.integer(
       "model.heads", [](Experiment & e) -> auto& { return e.model.heads; }, 4, "Attention heads.")
      .at_least(1);
  s.integer(
       "model.d_ff", [](Experiment & e) -> auto& { return e.model.d_ff; }, 512,
       "Inner width of the feed-forward blocks.")
      .at_least(1);
  s.number(
       "model.dropout", [](Experiment & e) -> auto& { return e.model.dropout; }, 0.1,
       "Dropout on embeddings, sublayer outputs and inside the feed-forward blocks.")
      .at_least(0.0)
      .below(1.0);
  s.string(
       "model.activation", [](Experiment & e) -> auto& { return e.model.activation; }, "relu",
       "Feed-forward activation.")
      .one_of({"relu", "gelu"});
  s.string(
       "model.norm", [](Experiment & e) -> auto& { return e.model.norm; }, "pre",
       "Layer norm before each sublayer (pre) or after each residual sum (post, the original Transformer).")
      .one_of({"pre", "post"});
  s.string(
       "model.positional", [](Experiment & e) -> auto& { return e.model.positional; }, "sinusoidal",
       "Positional encoding added to the embeddings.")
      .one_of({"sinusoidal", "learned", "none"});
  s.integer(
       "model.max_len", [](Experiment & e) -> auto& { return e.model.max_len; }, 1024,
       "Longest sequence the model accepts (the size of a learned position table).")
      .at_least(1);
  s.boolean(
      "model.tie_embeddings", [](Experiment & e) -> auto& { return e.model.tie_embeddings; }, true,
      "Output projection tied to the (target) embedding.");
  s.boolean(
      "model.share_embeddings", [](Experiment & e) -> auto& { return e.model.share_embeddings; }, false,
      "translation: one embedding table for source and target (needs a shared vocabulary).");
  s.string(
       "model.attention.type", [](Experiment & e) -> auto& { return e.model.attention.type; }, "softmax",
       "Attention kernel: softmax (Vaswani et al. 2017), linear (Katharopoulos et al. 2020) or performer "
       "(Choromanski et al. 2021).")
      .one_of({"softmax", "linear", "performer"});
  s.string(
      "model.attention.feature_map", [](Experiment & e) -> auto& { return e.model.attention.feature_map; }, "elu",
      "linear: the feature map by its registered name (elu: elu(x) + 1).");
  s.integer(
       "model.attention.features", [](Experiment & e) -> auto& { return e.model.attention.features; }, 0,
       "performer: random features m (required).")
      .at_least(0);
  s.integer(
       "model.attention.redraw_interval", [](Experiment & e) -> auto& { return e.model.attention.redraw_interval; }, 0,
       "performer: redraw the random features every this many steps (0: never).")
      .at_least(0);
  s.boolean(
      "model.attention.orthogonal", [](Experiment & e) -> auto& { return e.model.attention.orthogonal; }, true,
      "performer: orthogonal random projections (true) or i.i.d. ones.");

  // optim
  s.string(
       "optim.type", [](Experiment & e) -> auto& { return e.optim.type; }, "adamw",
       "Optimizer: sgd, adam (L2 decay inside the moments) or adamw (decoupled decay).")
      .one_of({"sgd", "adam", "adamw"});
  s.number(
       "optim.lr", [](Experiment & e) -> auto& { return e.optim.lr; }, 1e-3,
       "Peak learning rate; the schedule scales it.")
      .above(0.0);
  s.number(
       "optim.momentum", [](Experiment & e) -> auto& { return e.optim.momentum; }, 0.0, "sgd: momentum.")
      .at_least(0.0)
      .below(1.0);
  s.boolean(
      "optim.nesterov", [](Experiment & e) -> auto& { return e.optim.nesterov; }, false,
      "sgd: Nesterov momentum (needs optim.momentum > 0).");
  s.number(
       "optim.beta1", [](Experiment & e) -> auto& { return e.optim.beta1; }, 0.9, "adam, adamw: beta1.")
      .at_least(0.0)
      .below(1.0);
  s.number(
       "optim.beta2", [](Experiment & e) -> auto& { return e.optim.beta2; }, 0.98, "adam, adamw: beta2.")
      .at_least(0.0)
      .below(1.0);
  s.number(
       "optim.eps", [](Experiment & e) -> auto& { return e.optim.eps; }, 1e-9, "adam, adamw: epsilon.")
      .above(0.0);
  s.number(
       "optim.weight_decay", [](Experiment & e) -> auto& { return e.optim.weight_decay; }, 0.01,
       "Weight decay (L2 for sgd and adam, decoupled for adamw).")
      .at_least(0.0);
  s.boolean(
      "optim.decay_all", [](Experiment & e) -> auto& { return e.optim.decay_all; }, false,
      "Decay every parameter; by default biases and normalization gains are not decayed.");

  // schedule
  s.string(
       "schedule.type", [](Experiment & e) -> auto& { return e.schedule.type; }, "inverse_sqrt",
       "Learning-rate schedule: constant, inverse_sqrt (the Transformer's), cosine or linear decay; all "
       "start with schedule.warmup steps of linear warmup.")
      .one_of({"constant", "inverse_sqrt", "cosine", "linear"});
  s.integer(
       "schedule.warmup", [](Experiment & e) -> auto& { return e.schedule.warmup; }, 100,
       "Steps of linear warmup to optim.lr.")
      .at_least(0);
  s.integer(
       "schedule.total_steps", [](Experiment & e) -> auto& { return e.schedule.total_steps; }, 0,
       "cosine, linear: step at which the rate reaches schedule.min_lr (0: train.steps).")
      .at_least(0);
  s.number(
       "schedule.min_lr", [](Experiment & e) -> auto& { return e.schedule.min_lr; }, 0.0,
       "cosine, linear: the final learning rate.")
      .at_least(0.0);

  // train
  s.integer(
       "train.steps", [](Experiment & e) -> auto& { return e.train.steps; }, 1000,
       "Optimizer updates to train for (0 when training by train.epochs).")
      .at_least(0);
  s.integer(
       "train.epochs", [](Experiment & e) -> auto& { return e.train.epochs; }, 0,
       "Epochs to train for instead of train.steps (0: count steps).")
      .at_least(0);
  s.integer(
       "train.accumulate", [](Experiment & e) -> auto& { return e.train.accumulate; }, 1,
       "Batches whose gradients are summed into one update (the same update as one batch this many times "
       "larger).")
      .at_least(1);
  s.number(
       "train.clip_norm", [](Experiment & e) -> auto& { return e.train.clip_norm; }, 1.0,
       "Clip the global gradient norm to this value (0: no clipping).")
      .at_least(0.0);
  s.number(
       "train.label_smoothing", [](Experiment & e) -> auto& { return e.train.label_smoothing; }, 0.0,
       "Label smoothing of the training loss (validation reports the plain cross-entropy).")
      .at_least(0.0)
      .below(1.0);
  s.integer(
       "train.valid_interval", [](Experiment & e) -> auto& { return e.train.valid_interval; }, 100,
       "Validate every this many steps (0: only at the end).")
      .at_least(0);
  s.integer(
       "train.checkpoint_interval", [](Experiment & e) -> auto& { return e.train.checkpoint_interval; }, 500,
       "Write a checkpoint every this many steps (and always at the end).")
      .at_least(1);
  s.integer(
       "train.keep_last", [](Experiment & e) -> auto& { return e.train.keep_last; }, 3,
       "Step checkpoints kept on disk (last.h5 and best.h5 are kept besides).")
      .at_least(1);
  s.integer(
       "train.patience", [](Experiment & e) -> auto& { return e.train.patience; }, 0,
       "Stop after this many validations without a better validation loss (0: never).")
      .at_least(0);
  s.integer(
       "train.max_bad_steps", [](Experiment & e) -> auto& { return e.train.max_bad_steps; }, 5,
       "Stop after this many steps in a row with a non-finite loss or gradient (each is skipped).")
      .at_least(1);
  s.integer(
       "train.log_interval", [](Experiment & e) -> auto& { return e.train.log_interval; }, 10,
       "Log a line and a metrics.jsonl record every this many steps.")
      .at_least(1);
  s.integer(
       "train.seed", [](Experiment & e) -> auto& { return e.train.seed; }, 1,
       "Seed of the model's initialization, dropout and the training data stream.")
      .at_least(0);
  s.integer(
       "train.threads", [](Experiment & e) -> auto& { return e.train.threads; }, 0,
       "Threads for oneTBB and OpenBLAS (0: kat --threads, KAT_NUM_THREADS or all cores).")
      .at_least(0)
      .at_most(1024);

  // output
  s.string(
      "output.dir", [](Experiment & e) -> auto& { return e.output.dir; }, "runs/default",
      "The run folder: resolved config, train.log, metrics.jsonl and checkpoints/.");
  return s;
}

}  // namespace

const Schema& experiment_schema() {
  static const Schema schema = build_schema();
  return schema;
}

Experiment default_experiment() { return experiment_schema().defaults(); }

}  // namespace kat
