#include "train/evaluate.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "autograd/ops.h"
#include "data/dataset.h"
#include "data/loaders.h"
#include "data/utf8.h"
#include "train/metrics/bleu.h"
#include "train/run_folder/run_data.h"

namespace kat {
namespace fs = std::filesystem;
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

LmBatchOptions lm_options(const Experiment& e) {
  LmBatchOptions o;
  o.seq_len = e.data.seq_len;
  o.batch_size =
      e.data.max_tokens > 0 ? std::max<std::int64_t>(1, e.data.max_tokens / e.data.seq_len) : e.data.batch_size;
  o.sentence_level = e.data.sentence_level;
  o.side = e.data.side;
  return o;
}

TranslationBatchOptions translation_options(const Experiment& e) {
  TranslationBatchOptions o;
  o.max_tokens = e.data.max_tokens > 0 ? e.data.max_tokens : e.data.batch_size * e.data.seq_len;
  o.max_len = e.data.seq_len;
  o.bucket_size = e.data.bucket_size;
  o.src = e.data.src_side;
  o.tgt = e.data.tgt_side;
  return o;
}

struct LossTotals {
  double sum = 0.0;  // nats over the counted tokens
  std::int64_t tokens = 0;
  double tail_sum = 0.0;  // the same over target positions >= tail_from of each row
  std::int64_t tail_tokens = 0;
};

// Cross-entropy summed over every target token of the batches; with tail_from >= 0, also over the
// positions from tail_from on (the predictions with the longest context in a window).
LossTotals teacher_forced_totals(LoadedRun& run, const std::vector<Batch>& batches, std::int64_t tail_from = -1) {
  NoGradGuard no_grad;
  CrossEntropyOptions ce;
  ce.ignore_index = run.data.pad_id;
  LossTotals t;
  for (const Batch& b : batches) {
    const Variable logits = run.model->logits(b);
    t.sum += cross_entropy(logits, b.target, ce).data().item() * static_cast<double>(b.tokens);
    t.tokens += b.tokens;
    const std::int64_t T = b.target.size(1);
    if (tail_from < 0 || tail_from >= T) continue;
    const Tensor target = b.target.slice(1, tail_from, T).contiguous();
    std::int64_t counted = 0;
    const std::int64_t* id = target.data<std::int64_t>();
    for (std::int64_t i = 0; i < target.numel(); ++i) counted += id[i] != run.data.pad_id;
    if (counted == 0) continue;
    const Variable tail(logits.data().slice(1, tail_from, T).contiguous());
    t.tail_sum += cross_entropy(tail, target, ce).data().item() * static_cast<double>(counted);
    t.tail_tokens += counted;
  }
  return t;
}

// Mean cross-entropy per target token over batches, and the token count.
std::pair<double, std::int64_t> teacher_forced_loss(LoadedRun& run, const std::vector<Batch>& batches) {
  const LossTotals t = teacher_forced_totals(run, batches);
  return {t.tokens > 0 ? t.sum / static_cast<double>(t.tokens) : std::nan(""), t.tokens};
}

std::vector<std::int64_t> max_lengths(const Batch& b, const TranslationOptions& o, std::int64_t cap) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < b.sentences; ++i) {
    const std::int64_t n = b.src_lengths.empty() ? b.src.size(1) : b.src_lengths[static_cast<std::size_t>(i)];
    const auto limit = static_cast<std::int64_t>(o.max_len_ratio * static_cast<double>(n)) + o.max_len_extra;
    out.push_back(std::min(limit, cap));
  }
  return out;
}

// Target ids of row i without padding and eos.
std::vector<std::int64_t> reference_ids(const Batch& b, std::int64_t i, std::int64_t pad, std::int64_t eos) {
  std::vector<std::int64_t> ref;
  const std::int64_t T = b.target.size(1);
  const std::int64_t* t = b.target.data<std::int64_t>() + i * T;
  for (std::int64_t j = 0; j < T; ++j) {
    if (t[j] != pad && t[j] != eos) ref.push_back(t[j]);
  }
  return ref;
}

}  // namespace

LoadedRun load_run(const std::string& dir, const std::string& which) {
  RunSnapshot snapshot = open_run(dir, which);
  LoadedRun run;
  run.dir = dir;
  run.checkpoint = snapshot.checkpoint;
  run.experiment = std::move(snapshot.experiment);
  const Checkpoint& ckpt = snapshot.state;
  run.progress = ckpt.progress;
  Rng rng(static_cast<std::uint64_t>(run.experiment.train.seed));
  // The run folder's own description of its data (data.json and the tokenizers), so the corpus
  // is not needed; runs without one (synthetic data, older runs) rebuild it from the config.
  if (auto described = load_run_data(dir, run.experiment)) {
    run.data = std::move(*described);
  } else {
    run.data = make_training_data(run.experiment, rng);
  }
  run.model = make_task_model(run.experiment, run.data, rng);
  try {
    run.model->module().load_state_dict(ckpt.model);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: the checkpoint does not fit the run's model: {}", run.checkpoint, e.what()));
  }
  run.model->module().eval();
  run.src_tokenizer = run.data.src_tokenizer;
  run.tgt_tokenizer = run.data.tgt_tokenizer;
  return run;
}

std::string split_path(const Experiment& e, const std::string& split) {
  if (e.data.kind != DataKind::corpus) return "";
  if (split == "valid") return e.data.valid;
  if (split == "train") return e.data.train;
  const std::string& valid = e.data.valid;
  const std::size_t at = valid.rfind("valid");
  if (at == std::string::npos) {
    throw Error(
        fmt::format("--split {}: data.valid {} has no 'valid' in its name to replace; give the dataset with "
                    "--data",
                    split, valid));
  }
  std::string path = valid;
  path.replace(at, 5, split);
  if (!fs::exists(path)) {
    throw Error(fmt::format("--split {}: {} does not exist (made from data.valid {}); give the dataset with --data",
                            split, path, valid));
  }
  return path;
}

LmEvaluation evaluate_lm(LoadedRun& run, const std::string& path) {
  if (run.experiment.task != Task::lm) throw Error(fmt::format("{}: evaluate_lm needs a language model run", run.dir));
  const auto t0 = std::chrono::steady_clock::now();
  LmEvaluation r;
  if (path.empty()) {  // synthetic: the validation set, one symbol a character
    auto [loss, tokens] = teacher_forced_loss(run, run.data.valid);
    r.loss = loss;
    r.tokens = tokens;
    r.characters = tokens;
  } else {
    const LmBatchOptions o = lm_options(run.experiment);
    // Windows: the last quarter of each is also scored apart, the predictions with the most context.
    if (!o.sentence_level) r.tail_from = o.seq_len - o.seq_len / 4;
    const LossTotals t = teacher_forced_totals(run, lm_eval_batches(path, o), r.tail_from);
    r.tokens = t.tokens;
    r.loss = t.tokens > 0 ? t.sum / static_cast<double>(t.tokens) : std::nan("");
    r.tail_tokens = t.tail_tokens;
    r.tail_loss = t.tail_tokens > 0 ? t.tail_sum / static_cast<double>(t.tail_tokens) : std::nan("");
    // Characters the predicted tokens spell: each sentence's text and its line end.
    const TokenDataset ds = read_token_dataset(path);
    const TokenizedSide& side = ds.side(run.experiment.data.side);
    const auto tok = parse_tokenizer(side.tokenizer, path + ":/" + side.name + "/tokenizer");
    for (std::int64_t k = 0; k < side.sentences(); ++k) {
      const auto ids = side.sentence(k);
      r.characters += count_code_points(tok->decode(std::vector<std::int64_t>(ids.begin(), ids.end()))) + 1;
    }
    // Windows predict every token of the stream but the first, which is only context.
    if (!o.sentence_level) r.characters -= 1;
  }
  r.perplexity = std::exp(r.loss);
  r.bits_per_token = r.loss / std::log(2.0);
  const double tokens_per_char =
      static_cast<double>(r.tokens) / static_cast<double>(std::max<std::int64_t>(1, r.characters));
  r.bits_per_char = r.bits_per_token * tokens_per_char;
  r.tail_bits_per_char = r.tail_loss / std::log(2.0) * tokens_per_char;
  r.seconds = seconds_since(t0);
  return r;
}

TranslationEvaluation evaluate_translation(LoadedRun& run, const std::string& path, const TranslationOptions& options) {
  if (run.experiment.task != Task::translation) {
    throw Error(fmt::format("{}: evaluate_translation needs a translation run", run.dir));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Batch> batches =
      path.empty() ? run.data.valid : translation_eval_batches(path, translation_options(run.experiment));
  TranslationEvaluation r;
  r.loss = teacher_forced_loss(run, batches).first;
  SearchOptions search = options.search;
  search.bos = run.data.bos_id;
  search.eos = run.data.eos_id;
  for (const Batch& b : batches) {
    const auto t_decode = std::chrono::steady_clock::now();
    const auto hyps = run.model->translate(b, search, max_lengths(b, options, run.experiment.model.max_len));
    r.decode_seconds += seconds_since(t_decode);
    for (std::int64_t i = 0; i < b.sentences; ++i) {
      const auto& h = hyps[static_cast<std::size_t>(i)].front().tokens;
      r.generated_tokens += static_cast<std::int64_t>(h.size()) + 1;
      r.hypotheses.push_back(run.data.detokenize(h));
      r.references.push_back(run.data.detokenize(reference_ids(b, i, run.data.pad_id, run.data.eos_id)));
    }
    r.sentences += b.sentences;
  }
  const BleuScore bleu = corpus_bleu(r.hypotheses, r.references);
  r.bleu = bleu.score;
  r.bleu_line = bleu.format();
  r.chrf = corpus_chrf(r.hypotheses, r.references).score;
  r.seconds = seconds_since(t0);
  return r;
}

std::vector<std::string> translate_lines(LoadedRun& run, const std::vector<std::string>& lines,
                                         const TranslationOptions& options, std::vector<std::size_t>* truncated) {
  TranslationOptions one = options;
  one.search.nbest = 1;
  std::vector<std::string> out;
  for (auto& list : translate_lines_nbest(run, lines, one, truncated)) out.push_back(std::move(list.front().text));
  return out;
}

std::vector<std::vector<Translation>> translate_lines_nbest(LoadedRun& run, const std::vector<std::string>& lines,
                                                            const TranslationOptions& options,
                                                            std::vector<std::size_t>* truncated) {
  if (run.experiment.task != Task::translation) throw Error(fmt::format("{}: not a translation run", run.dir));
  if (!run.src_tokenizer) {
    throw Error(fmt::format("{}: a run on synthetic data has no tokenizer to read text with", run.dir));
  }
  const std::int64_t limit = run.experiment.model.max_len - 1;  // the longest input the model takes, and eos
  std::vector<std::vector<std::int64_t>> ids(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    try {
      ids[i] = run.src_tokenizer->encode(lines[i]);
    } catch (const Error& e) {
      throw Error(fmt::format("input line {}: {}", i + 1, e.what()));
    }
    if (static_cast<std::int64_t>(ids[i].size()) > limit) {
      ids[i].resize(static_cast<std::size_t>(limit));
      if (truncated != nullptr) truncated->push_back(i);
    }
  }
  // Longest first, in batches of similar length; empty lines are answered without the model.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!ids[i].empty()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ids[a].size() > ids[b].size(); });
  // An empty line translates to an empty line (scored 0).
  std::vector<std::vector<Translation>> out(lines.size(), std::vector<Translation>{Translation{}});
  SearchOptions search = options.search;
  search.bos = run.data.bos_id;
  search.eos = run.data.eos_id;
  const std::int64_t budget = translation_options(run.experiment).max_tokens;
  for (std::size_t start = 0; start < order.size();) {
    const std::int64_t width = static_cast<std::int64_t>(ids[order[start]].size()) + 1;
    const std::size_t rows = std::max<std::size_t>(1, static_cast<std::size_t>(budget / width));
    const std::size_t end = std::min(order.size(), start + rows);
    Batch b;
    b.sentences = static_cast<std::int64_t>(end - start);
    b.src = Tensor::full({b.sentences, width}, static_cast<double>(run.data.pad_id), DType::i64);
    std::int64_t* p = b.src.data<std::int64_t>();
    bool padded = false;
    for (std::size_t r = start; r < end; ++r) {
      const auto& v = ids[order[r]];
      const std::int64_t row = static_cast<std::int64_t>(r - start);
      std::copy(v.begin(), v.end(), p + row * width);
      p[row * width + static_cast<std::int64_t>(v.size())] = run.data.eos_id;
      b.src_lengths.push_back(static_cast<std::int64_t>(v.size()) + 1);
      padded = padded || static_cast<std::int64_t>(v.size()) + 1 < width;
    }
    if (!padded) b.src_lengths.clear();
    const auto hyps = run.model->translate(b, search, max_lengths(b, options, run.experiment.model.max_len));
    for (std::size_t r = start; r < end; ++r) {
      auto& list = out[order[r]];
      list.clear();
      for (const Hypothesis& h : hyps[r - start]) list.push_back({run.tgt_tokenizer->decode(h.tokens), h.score});
    }
    start = end;
  }
  return out;
}

}  // namespace kat
