#pragma once
// Trained runs, loaded back for evaluation, translation and generation (kat eval, kat translate,
// kat generate, kat compare).
//
//   LoadedRun run = load_run("runs/lm/softmax");            // config.yaml + checkpoints/best.h5
//   LmEvaluation e = evaluate_lm(run, "corpora/bible/en.test.h5");
//   std::printf("%.3f bits per character\n", e.bits_per_char);

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "layers/decoding/search.h"
#include "train/config/experiment.h"
#include "train/run_folder/checkpoint.h"
#include "train/task_model.h"
#include "train/training_data.h"

namespace kat {

struct LoadedRun {
  std::string dir;
  std::string checkpoint;  // the file the weights came from
  Experiment experiment;   // the run's resolved config.yaml
  TrainerProgress progress;
  TrainingData data;                 // vocabularies, special ids, validation set, detokenizer
  std::unique_ptr<TaskModel> model;  // in eval mode
  std::shared_ptr<const Tokenizer> src_tokenizer, tgt_tokenizer;  // corpus runs; null for synthetic data
};

// Loads a run folder: its config.yaml and a checkpoint, `which` = "best", "last", or a file path.
// Throws kat::Error naming the folder or file when something is missing or does not fit.
LoadedRun load_run(const std::string& dir, const std::string& which = "best");

// The dataset of another split next to the run's validation set: data.valid with "valid"
// replaced by `split` (corpora/bible/en.valid.h5 -> en.test.h5). Throws when it does not exist.
std::string split_path(const Experiment& e, const std::string& split);

struct LmEvaluation {
  std::int64_t tokens = 0;      // predicted target tokens (sentence ends included)
  std::int64_t characters = 0;  // characters of the text they spell, a line end per sentence
  double loss = 0.0;            // mean negative log-likelihood per token (nats)
  double perplexity = 0.0;      // exp(loss)
  double bits_per_token = 0.0;
  double bits_per_char = 0.0;  // total bits / characters: the same as per token for a character model
  // Window runs: the targets at positions >= tail_from of each window (its last quarter, the
  // predictions with the most context: the last 1,024 of a 4,096 window), scored apart. Their
  // bits per character are the bits per token times the set's tokens per character (exact for a
  // character model). NaN and -1 for sentence-level and synthetic runs.
  std::int64_t tail_from = -1;
  std::int64_t tail_tokens = 0;
  double tail_loss = std::nan("");
  double tail_bits_per_char = std::nan("");
  double seconds = 0.0;
};

// Every target token of the dataset at `path` predicted once (windows or sentences as the run
// trained). A synthetic run evaluates on its validation set (path empty).
LmEvaluation evaluate_lm(LoadedRun& run, const std::string& path);

struct TranslationOptions {
  SearchOptions search;        // beam, length penalty (bos and eos are set from the data)
  double max_len_ratio = 2.0;  // a translation may be at most ratio * source length + max_len_extra tokens
  std::int64_t max_len_extra = 10;
};

struct TranslationEvaluation {
  std::int64_t sentences = 0;
  std::vector<std::string> hypotheses, references;
  double loss = 0.0;  // teacher-forced cross-entropy per target token
  double bleu = 0.0, chrf = 0.0;
  std::string bleu_line;        // sacreBLEU's printed form
  double seconds = 0.0;         // the whole evaluation
  double decode_seconds = 0.0;  // beam search alone (encoder included), over generated_tokens
  std::int64_t generated_tokens = 0;
};

// Translates every source sentence of the dataset (beam search through the decoding states) and
// scores the detokenized output against the references with BLEU and chrF. A synthetic run
// evaluates on its validation set (path empty).
TranslationEvaluation evaluate_translation(LoadedRun& run, const std::string& path, const TranslationOptions& options);

// Translates raw text lines: tokenized with the run's source tokenizer, decoded in batches of
// similar length, detokenized; the output is in input order. An empty line gives an empty line; a
// line longer than the model accepts is cut to fit (its index goes into *truncated).
std::vector<std::string> translate_lines(LoadedRun& run, const std::vector<std::string>& lines,
                                         const TranslationOptions& options,
                                         std::vector<std::size_t>* truncated = nullptr);

struct Translation {
  std::string text;
  double score = 0.0;  // the hypothesis's log-probability over its length penalty
};
// The same with the options.search.nbest best translations of each line, best first.
std::vector<std::vector<Translation>> translate_lines_nbest(LoadedRun& run, const std::vector<std::string>& lines,
                                                            const TranslationOptions& options,
                                                            std::vector<std::size_t>* truncated = nullptr);

}  // namespace kat
