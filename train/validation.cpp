// Validation during training (train/trainer_state.h): the plain cross-entropy per target token
// over the whole validation set and, for translation (train.bleu_beam > 0), the BLEU of its
// decoded translations. Data-parallel runs share the batches out among the ranks and sum the loss,
// the token counts and BLEU's counts (exact integers in a double), so every rank gets the result
// of one process.

#include <fmt/format.h>

#include "autograd/ops.h"
#include "train/metrics/bleu.h"
#include "train/trainer_state.h"

namespace kat {
namespace {

// Decodes the sources of `b` (each up to twice its length plus 10 tokens) and appends the
// detokenized translations and references.
void translate_for_bleu(TaskModel& model, const TrainingData& data, const Batch& b, std::int64_t beam,
                        std::vector<std::string>& hypotheses, std::vector<std::string>& references) {
  std::vector<std::int64_t> max_len;
  for (std::int64_t i = 0; i < b.sentences; ++i) {
    const std::int64_t n = b.src_lengths.empty() ? b.src.size(1) : b.src_lengths[static_cast<std::size_t>(i)];
    max_len.push_back(2 * n + 10);
  }
  SearchOptions search;
  search.bos = data.bos_id;
  search.eos = data.eos_id;
  search.beam = beam;
  for (const auto& h : model.translate(b, search, max_len)) hypotheses.push_back(data.detokenize(h[0].tokens));
  const std::int64_t* t = b.target.data<std::int64_t>();
  for (std::int64_t i = 0; i < b.sentences; ++i) {
    std::vector<std::int64_t> ref;
    for (std::int64_t j = 0; j < b.target.size(1); ++j) {
      const std::int64_t id = t[i * b.target.size(1) + j];
      if (id != data.pad_id && id != data.eos_id) ref.push_back(id);
    }
    references.push_back(data.detokenize(ref));
  }
}

}  // namespace

Trainer::State::Validation Trainer::State::validate() {
  NoGradGuard no_grad;
  model->module().eval();
  double sum = 0.0;
  std::int64_t tokens = 0;
  CrossEntropyOptions ce;
  ce.ignore_index = data.pad_id;
  std::vector<std::string> hypotheses, references;
  const bool bleu = model->translates() && exp.train.bleu_beam > 0 && data.detokenize;
  for (std::size_t i = static_cast<std::size_t>(comm->rank()); i < data.valid.size();
       i += static_cast<std::size_t>(comm->size())) {
    const Batch& b = data.valid[i];
    const Variable loss = cross_entropy(model->logits(b), b.target, ce);
    sum += loss.data().item() * static_cast<double>(b.tokens);
    tokens += b.tokens;
    if (bleu) translate_for_bleu(*model, data, b, exp.train.bleu_beam, hypotheses, references);
  }
  model->module().train();
  const BleuScore counts = bleu ? corpus_bleu(hypotheses, references) : BleuScore{};
  std::vector<double> totals = {sum, static_cast<double>(tokens), static_cast<double>(counts.sys_len),
                                static_cast<double>(counts.ref_len)};
  for (std::size_t n = 0; n < 4; ++n) {
    totals.push_back(static_cast<double>(counts.correct[n]));
    totals.push_back(static_cast<double>(counts.total[n]));
  }
  comm->sum(totals);
  Validation v;
  v.loss = totals[1] > 0 ? totals[0] / totals[1] : std::nan("");
  if (bleu) {
    BleuScore all;
    all.sys_len = static_cast<std::int64_t>(totals[2]);
    all.ref_len = static_cast<std::int64_t>(totals[3]);
    for (std::size_t n = 0; n < 4; ++n) {
      all.correct[n] = static_cast<std::int64_t>(totals[4 + 2 * n]);
      all.total[n] = static_cast<std::int64_t>(totals[5 + 2 * n]);
    }
    v.bleu = bleu_from_counts(all).score;
  }
  return v;
}

// Validates at the current step, records and logs the result, and tells whether it is the best so
// far. `counts` makes a validation without improvement count towards train.patience.
bool Trainer::State::validate_and_record(std::int64_t step, double wall_time, bool counts) {
  const Validation v = validate();
  last_valid_loss = v.loss;
  last_valid_step = step;
  const bool best = v.loss < progress.best_valid_loss;
  if (best) {
    progress.best_valid_loss = v.loss;
    progress.best_step = step;
    progress.validations_since_best = 0;
  } else if (counts) {
    ++progress.validations_since_best;
  }
  MetricsRecord record = {{"step", static_cast<double>(step)}, {"val_loss", v.loss}, {"val_ppl", std::exp(v.loss)}};
  if (!std::isnan(v.bleu)) record.emplace_back("bleu", v.bleu);
  record.emplace_back("wall_time", wall_time);
  record.emplace_back("train_time", progress.train_seconds);
  record.emplace_back("peak_rss_mb", peak_rss_mb());
  if (metrics) metrics->append(record);
  info("step {}: validation loss {:.4f}, ppl {:.3f}{}{}{}", step, v.loss, std::exp(v.loss),
       std::isnan(v.bleu) ? "" : fmt::format(", BLEU {:.2f}", v.bleu),
       best ? " (best)" : fmt::format(" (best {:.4f} at step {})", progress.best_valid_loss, progress.best_step),
       data.best_loss ? fmt::format("; the data's best is {:.4f}", *data.best_loss) : "");
  return best;
}

}  // namespace kat
