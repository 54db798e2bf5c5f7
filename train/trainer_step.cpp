// One training step and the end of a run, piece by piece (train/trainer_state.h).

#include <fmt/format.h>

#include <cstdio>

#include "autograd/ops.h"
#include "core/kernels/blas_kernels.h"
#include "data/batch_builder.h"
#include "layers/dropout.h"
#include "optim/clip.h"
#include "train/trainer_state.h"

namespace kat {

void ProgressLine::show(const std::string& text) {
  if (!terminal_) return;
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!terminal_ || !shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

void Trainer::State::start_run() {
  if (lead && !lock) lock.emplace(*run_folder, "output.dir: the run folder");  // run() again
  run_start = Clock::now();
  wall_before = progress.wall_seconds;
  interval_start = Clock::now();
  last_progress_draw = Clock::now() - std::chrono::seconds(1);
  first_step = progress.step;
}

double Trainer::State::wall() const {
  return wall_before + std::chrono::duration<double>(Clock::now() - run_start).count();
}

bool Trainer::State::done() const {
  if (budget_spent()) return true;
  if (exp.train.steps > 0) return progress.step >= exp.train.steps;
  return progress.epoch >= exp.train.epochs;
}

// Data-parallel runs count rank 0's training time, so that all stop before the same step.
void Trainer::State::agree_on_train_seconds() {
  if (time_budget_seconds(exp) <= 0) return;
  std::vector<double> t = {lead ? progress.train_seconds : 0.0};
  comm->sum(t);
  progress.train_seconds = t[0];
}

bool Trainer::State::budget_spent() const {
  const double budget = time_budget_seconds(exp);
  return budget > 0 && progress.train_seconds >= budget;
}

// A data-parallel run stops when any rank is asked to, all before the same step.
bool Trainer::State::stop_wanted(bool requested) {
  const bool mine = requested || (signals && signals->requested());
  if (!parallel) return mine;
  std::vector<double> any = {mine ? 1.0 : 0.0};
  comm->sum(any);
  return any[0] > 0;
}

// The next training batch, its windows cut to the length of data.seq_len_warmup at this step.
Batch Trainer::State::next_batch(std::int64_t step) {
  Batch batch = data.train->next();
  if (const std::int64_t length = window_length(exp.data, step); length < batch.input.size(1)) {
    batch = split_windows(batch, length);
  }
  return batch;
}

// The gradients of the token-weighted sum divided by the tokens, the step's mean loss and gradient
// norm, and the progress counters.
StepTotals Trainer::State::finish_step(std::int64_t step, const std::vector<Variable>& params, double loss_sum,
                                       StepTotals t) {
  if (t.tokens > 0) scale_grads(params, 1.0 / static_cast<double>(t.tokens));
  t.loss = t.tokens > 0 ? loss_sum / static_cast<double>(t.tokens) : std::nan("");
  t.norm = grad_norm(params);
  progress.step = step;
  progress.epoch = data.train->epoch();
  progress.tokens += t.tokens;
  return t;
}

// Forward and backward over train.accumulate batches. Each batch's mean loss is back-propagated
// weighted by its token count and the sum divided by all tokens afterwards, so the update is the
// one a single batch holding every token would give.
// Data-parallel: every rank reads the whole batch (the same stream everywhere, so the data position
// stays one global position) and computes on its rows; the token-weighted gradients summed over the
// ranks and divided by the whole batch's tokens are the gradient of one process.
StepTotals Trainer::State::forward_backward(std::int64_t step) {
  if (distilling(step)) return distill_forward_backward(step);
  CrossEntropyOptions ce;
  ce.ignore_index = data.pad_id;
  ce.label_smoothing = exp.train.label_smoothing;
  optimizer->zero_grad();
  double loss_sum = 0.0;
  StepTotals t;
  for (std::int64_t k = 0; k < exp.train.accumulate; ++k) {
    Batch batch = next_batch(step);
    t.tokens += batch.tokens;
    if (parallel) {
      if (k == exp.train.accumulate - 1) reducer->arm();  // this backward starts the sums
      const std::int64_t rows = batch.sentences, ranks = comm->size(), r = comm->rank();
      const std::int64_t begin = rows * r / ranks, end = rows * (r + 1) / ranks;
      batch = batch_rows(batch, begin, end, data.pad_id);
      set_dropout_first_row(model->module(), begin);
    }
    if (batch.tokens == 0) continue;
    const Variable loss = cross_entropy(model->logits(batch), batch.target, ce);
    loss.backward(Tensor::scalar(static_cast<double>(batch.tokens), loss.dtype()));
    loss_sum += loss.data().item() * static_cast<double>(batch.tokens);
  }
  if (parallel) {
    reducer->finish();
    std::vector<double> total = {loss_sum};
    comm->sum(total);
    loss_sum = total[0];
    if (step == first_step + 1) {
      info("data-parallel: {} of the {} gradient buckets started during the backward pass of step {}",
           reducer->started_in_backward(), reducer->buckets(), step);
    }
  }
  return finish_step(step, optimizer->variables(), loss_sum, t);
}

// A step of attention distillation: the model runs as the softmax model it came from, and the loss
// is the mean over the learned kernels of each one's KL divergence from softmax attention
// (LinearAttention::set_distillation), token-weighted over the batches like the training loss.
StepTotals Trainer::State::distill_forward_backward(std::int64_t step) {
  struct Distilling {
    std::vector<LinearAttention*>& kernels;
    explicit Distilling(std::vector<LinearAttention*>& k) : kernels(k) {
      for (LinearAttention* s : kernels) s->set_distillation(true);
    }
    ~Distilling() {
      for (LinearAttention* s : kernels) s->set_distillation(false);
    }
  } on(students);
  distill_optimizer->zero_grad();
  double loss_sum = 0.0;
  StepTotals t;
  for (std::int64_t k = 0; k < exp.train.accumulate; ++k) {
    const Batch batch = next_batch(step);
    t.tokens += batch.tokens;
    if (batch.tokens == 0) continue;
    model->logits(batch);  // each student keeps its loss
    Variable loss = students.front()->distillation_loss();
    for (std::size_t i = 1; i < students.size(); ++i) loss = loss + students[i]->distillation_loss();
    loss = loss * (1.0 / static_cast<double>(students.size()));
    loss.backward(Tensor::scalar(static_cast<double>(batch.tokens), loss.dtype()));
    loss_sum += loss.data().item() * static_cast<double>(batch.tokens);
  }
  return finish_step(step, distill_optimizer->variables(), loss_sum, t);
}

// The update, or the step skipped when its loss or gradient is not finite; false when too many in
// a row end the run (diverged).
bool Trainer::State::update(std::int64_t step, const StepTotals& t, TrainResult& result) {
  if (std::isfinite(t.loss) && std::isfinite(t.norm)) {
    progress.bad_steps_in_row = 0;
    Optimizer& opt = optimizer_of(step);
    if (exp.train.clip_norm > 0 && t.norm > exp.train.clip_norm) {
      scale_grads(opt.variables(), exp.train.clip_norm / t.norm);
    }
    // The schedule starts after attention distillation, which runs at a constant rate.
    const std::int64_t distill = exp.train.distill_attention.steps;
    if (!distilling(step)) opt.set_lr(schedule->lr(step - distill, opt.base_lr()));
    opt.step();
    interval_loss_sum += t.loss * static_cast<double>(t.tokens);
    interval_tokens += t.tokens;
    interval_norm += t.norm;
    ++interval_steps;
    return true;
  }
  ++progress.bad_steps_in_row;
  optimizer_of(step).zero_grad();
  warn("step {}: non-finite {} ({}); step skipped ({} of {} in a row allowed)", step,
       std::isfinite(t.loss) ? "gradient norm" : "loss", std::isfinite(t.loss) ? t.norm : t.loss,
       progress.bad_steps_in_row, exp.train.max_bad_steps);
  if (progress.bad_steps_in_row < exp.train.max_bad_steps) return true;
  result.outcome = TrainOutcome::diverged;
  result.message = fmt::format(
      "training diverged: {} steps in a row with a non-finite loss or gradient (up to step {}); {}. "
      "Lower optim.lr, raise schedule.warmup or set train.clip_norm.",
      progress.bad_steps_in_row, step,
      last_checkpoint_step >= 0
          ? fmt::format("the last good checkpoint is {} (step {})", last_path, last_checkpoint_step)
          : std::string("there is no checkpoint yet (it diverged before the first one)"));
  return false;
}

// A line (and a metrics record) every train.log_interval steps; on a terminal, also a line
// rewritten in place after every step (at most ten times a second).
void Trainer::State::report_progress(std::int64_t step, const StepTotals& t) {
  // The last distillation step closes its interval, so no logged mean mixes the two losses.
  const bool distill = distilling(step);
  const bool log_now =
      (step % exp.train.log_interval == 0 || step == exp.train.distill_attention.steps) && interval_steps > 0;
  const bool draw = progress_line->terminal() && Clock::now() - last_progress_draw > std::chrono::milliseconds(100);
  if (!log_now && !draw) return;
  const double seconds = std::chrono::duration<double>(Clock::now() - interval_start).count();
  const double interval_loss =
      interval_tokens > 0 ? interval_loss_sum / static_cast<double>(interval_tokens) : last_interval_loss;
  const double rate =
      seconds > 0 && interval_tokens > 0 ? static_cast<double>(interval_tokens) / seconds : tokens_per_second;
  const double mean_norm = interval_steps > 0 ? interval_norm / static_cast<double>(interval_steps) : t.norm;
  const double done_steps = static_cast<double>(step - first_step);
  double eta = exp.train.steps > 0 && done_steps > 0 ? std::chrono::duration<double>(Clock::now() - run_start).count() /
                                                           done_steps * static_cast<double>(exp.train.steps - step)
                                                     : std::nan("");
  if (const double budget = time_budget_seconds(exp); budget > 0) {
    eta = std::fmin(eta, std::max(0.0, budget - progress.train_seconds));  // fmin ignores a NaN
  }
  const std::string line = fmt::format("step {}{}  {} {:.4f}  lr {:.3g}  |g| {:.3g}  {:.0f} tok/s  epoch {}  ETA {}",
                                       step, exp.train.steps > 0 ? fmt::format("/{}", exp.train.steps) : "",
                                       distill ? "attention distillation loss" : "loss", interval_loss,
                                       optimizer_of(step).lr(), mean_norm, rate, progress.epoch, format_duration(eta));
  if (log_now) {
    last_interval_loss = interval_loss;
    tokens_per_second = rate;
    if (metrics) {
      metrics->append({{"step", static_cast<double>(step)},
                       {"epoch", static_cast<double>(progress.epoch)},
                       {distill ? "distill_loss" : "train_loss", interval_loss},
                       {"lr", optimizer_of(step).lr()},
                       {"grad_norm", mean_norm},
                       {"tokens_per_s", rate},
                       {"wall_time", wall()},
                       {"train_time", progress.train_seconds},
                       {"tokens", static_cast<double>(progress.tokens)},
                       {"peak_rss_mb", peak_rss_mb()}});
    }
    if (progress_line->terminal()) {
      // The file gets the line; the console keeps the progress line instead.
      log->sinks().front()->log(spdlog::details::log_msg("train", spdlog::level::info, line));
    } else {
      info("{}", line);
    }
    interval_loss_sum = 0.0;
    interval_tokens = 0;
    interval_steps = 0;
    interval_norm = 0.0;
    interval_start = Clock::now();
  }
  if (progress_line->terminal()) {
    progress_line->show(line);
    last_progress_draw = Clock::now();
  }
}

// Validation every train.valid_interval steps; a checkpoint when it is the best so far and every
// train.checkpoint_interval steps. While steps are non-finite the state is suspect: the last good
// checkpoint stays the last.
void Trainer::State::validate_and_checkpoint(std::int64_t step) {
  bool best = false;
  if (exp.train.valid_interval > 0 && step % exp.train.valid_interval == 0)
    best = validate_and_record(step, wall(), true);
  progress.wall_seconds = wall();
  if ((best || step % exp.train.checkpoint_interval == 0) && progress.bad_steps_in_row == 0) save(best);
  check_appends();
}

bool Trainer::State::patience_exhausted(std::int64_t step, TrainResult& result) const {
  if (exp.train.patience <= 0 || progress.validations_since_best < exp.train.patience) return false;
  result.outcome = TrainOutcome::early_stopped;
  result.message = fmt::format("early stop at step {}: {} validations without improving on {:.4f} (step {})", step,
                               progress.validations_since_best, progress.best_valid_loss, progress.best_step);
  return true;
}

// The last validation and checkpoint, the outcome (in the log and, for a run that ran its course,
// in the run folder, where kat compare finds it), the logs flushed and the folder unlocked.
void Trainer::State::end_run(TrainResult& result) {
  progress_line->clear();
  if (result.outcome == TrainOutcome::finished && last_valid_step != progress.step && !data.valid.empty()) {
    const bool best = validate_and_record(progress.step, wall(), false);
    progress.wall_seconds = wall();
    save(best);
  } else if (result.outcome != TrainOutcome::diverged && last_checkpoint_step != progress.step) {
    if (progress.bad_steps_in_row == 0) {
      progress.wall_seconds = wall();
      save(false);
    } else {
      warn("no checkpoint of step {}: its last {} steps were non-finite; the last checkpoint is step {}", progress.step,
           progress.bad_steps_in_row, last_checkpoint_step);
    }
  }
  if (result.outcome == TrainOutcome::finished) {
    result.message = fmt::format("finished at step {}", progress.step);
    if (budget_spent()) {
      result.message += fmt::format(": the time budget of {} is spent ({} of training steps)", exp.train.time_budget,
                                    format_duration(progress.train_seconds));
    }
  }
  if (result.outcome == TrainOutcome::interrupted) {
    result.message =
        fmt::format("stopped at step {} on request; continue with: kat train --resume {}", progress.step, dir);
  }
  if (result.outcome == TrainOutcome::diverged) {
    log->error("{}", result.message);
  } else {
    info("{}", result.message);
  }
  if (lead) {
    if (result.outcome == TrainOutcome::finished || result.outcome == TrainOutcome::early_stopped) {
      run_folder->write_atomic("outcome", fmt::format("{} {}\n", outcome_name(result.outcome), progress.step));
    } else {
      run_folder->remove("outcome");
    }
    metrics->file().flush();
    log_file->flush_pending();
  }
  lock.reset();  // the folder is complete: another trainer may take it
  result.step = progress.step;
  result.train_loss = last_interval_loss;
  result.valid_loss = last_valid_loss;
  result.best_valid_loss = progress.best_valid_loss;
  log->flush();
}

void Trainer::State::save(bool best) {
  check_same_state("before a checkpoint");
  if (!lead) {
    last_checkpoint_step = progress.step;
    return;
  }
  std::string path;
  try {
    // The logs reach the disk before the checkpoint does: a run resumed from it finds every line
    // of the steps before it.
    metrics->file().flush();
    log_file->flush_pending();
    path = store->save(snapshot(), best);
  } catch (const SystemError& e) {
    // A checkpoint that cannot be written (a full disk) stops the run; the ones written stay.
    const std::string message =
        fmt::format("{}; the run stops at step {}, {}", e.what(), progress.step,
                    last_checkpoint_step >= 0
                        ? fmt::format("its last checkpoint is {} (step {})", store->last_path(), last_checkpoint_step)
                        : std::string("before its first checkpoint"));
    // train.log records it; the console hears it from whoever catches the error.
    log->sinks().front()->log(spdlog::details::log_msg("train", spdlog::level::err, message));
    log->flush();
    throw SystemError(message);
  }
  last_checkpoint_step = progress.step;
  info("checkpoint {}{}", path, best ? " (best so far)" : "");
}

Checkpoint Trainer::State::snapshot() {
  Checkpoint c;
  c.progress = progress;
  for (auto& [name, t] : model->module().state_dict()) c.model[name] = t.clone();
  c.optimizer = optimizer->state();
  if (distill_optimizer) c.distill_optimizer = distill_optimizer->state();
  const ScheduleOptions so = schedule_options(exp);
  c.schedule = {so.type, optimizer->base_lr(), so.warmup, so.total_steps, so.min_lr};
  c.data_kind = name(exp.data.kind);
  c.blas_kernels = blas_kernels().family;
  c.data_state = data.train->state();
  c.config = to_yaml(exp);
  return c;
}

// A line the disk refused waits in memory (AppendFile) and is written when there is room; the
// console hears of it once. The next checkpoint needs every line written (save).
void Trainer::State::check_appends() {
  if (!lead || append_warned) return;
  std::string which;
  if (metrics->file().pending()) {
    which = fmt::format("{} ({})", metrics->file().path(), metrics->file().last_error());
  } else if (log_file->pending()) {
    which = dir + "/train.log";
  }
  if (which.empty()) return;
  append_warned = true;
  if (!options.console) return;
  progress_line->clear();
  std::fprintf(stderr,
               "kat train: cannot append to %s; the lines wait in memory and are written when there is room, and "
               "the run stops at its next checkpoint if there is none by then\n",
               which.c_str());
}

}  // namespace kat
