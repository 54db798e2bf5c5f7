#include "train/trainer.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "autograd/ops.h"
#include "core/os/files.h"
#include "core/parallel.h"
#include "data/batch_builder.h"
#include "layers/dropout.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "train/checkpoint_store.h"
#include "train/distributed.h"
#include "train/experiment_config.h"
#include "train/grad_reducer.h"
#include "train/metrics/bleu.h"
#include "train/run_data.h"
#include "train/run_log.h"
#include "train/stop_signal.h"
#include "train/task_model.h"
#include "train/training_data.h"

namespace kat {

namespace fs = std::filesystem;

std::unique_ptr<Optimizer> make_optimizer(const Experiment& e, Module& model) {
  const OptimConfig& o = e.optim;
  NamedParameters params = decay_groups(model.named_parameters(), o.decay_all);
  if (o.type == "sgd") {
    return std::make_unique<Sgd>(std::move(params), SgdOptions{o.lr, o.momentum, o.nesterov, o.weight_decay});
  }
  AdamOptions a{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, false};
  if (o.type == "adamw") return std::make_unique<AdamW>(std::move(params), a);
  return std::make_unique<Adam>(std::move(params), a);
}

const char* outcome_name(TrainOutcome outcome) {
  switch (outcome) {
    case TrainOutcome::finished: return "finished";
    case TrainOutcome::interrupted: return "interrupted";
    case TrainOutcome::early_stopped: return "early_stopped";
    case TrainOutcome::diverged: return "diverged";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

// Keys a resumed run may change: how long and how often, not what is trained.
const std::set<std::string> kResumableKeys = {"train.steps",
                                              "train.epochs",
                                              "train.valid_interval",
                                              "train.checkpoint_interval",
                                              "train.keep_last",
                                              "train.patience",
                                              "train.max_bad_steps",
                                              "train.log_interval",
                                              "train.threads",
                                              "train.bucket_mb",
                                              "output.dir"};

ScheduleOptions schedule_options(const Experiment& e) {
  ScheduleOptions s;
  s.kind = e.schedule.type;
  s.lr = e.optim.lr;
  s.warmup = e.schedule.warmup;
  s.total_steps = e.schedule.total_steps > 0 ? e.schedule.total_steps : e.train.steps;
  s.min_lr = e.schedule.min_lr;
  return s;
}

// A 64-bit checksum of every parameter, buffer and generator state of the model, in the state
// dict's (sorted) order: equal on every rank of a data-parallel run unless their models differ.
std::uint64_t state_checksum(Module& model) {
  std::uint64_t h = 0x6b61742d73746174ULL;
  auto mix = [&h](std::uint64_t w) {
    h ^= w + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ULL;
  };
  for (const auto& [name, t] : model.state_dict()) {
    for (char c : name) mix(static_cast<unsigned char>(c));
    const Tensor c = t.contiguous();
    const auto* bytes = static_cast<const unsigned char*>(c.raw_data());
    const std::size_t n = static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype());
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, bytes + i, 8);
      mix(w);
    }
    for (; i < n; ++i) mix(bytes[i]);
  }
  return h;
}

// A progress line rewritten in place on a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(bool terminal) : terminal_(terminal) {}
  bool terminal() const { return terminal_; }
  void show(const std::string& text) {
    if (!terminal_) return;
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (!terminal_ || !shown_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }

 private:
  bool terminal_;
  bool shown_ = false;
};

}  // namespace

struct Trainer::State {
  Experiment exp;
  TrainerOptions options;
  std::shared_ptr<Communicator> comm;
  bool lead = true;       // rank 0 (or the only process): writes the run folder
  bool parallel = false;  // more than one rank
  std::unique_ptr<GradientReducer> reducer;
  std::string dir;
  std::string last_path;  // checkpoints/last.h5
  std::shared_ptr<spdlog::logger> log;
  std::optional<ProgressLine> progress_line;
  TrainingData data;
  std::unique_ptr<TaskModel> model;
  std::vector<AttentionKernel*> kernels;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<Schedule> schedule;
  std::unique_ptr<CheckpointStore> store;
  std::unique_ptr<MetricsLog> metrics;
  std::optional<Dir> run_folder;         // the lead's handle on output.dir
  std::optional<FolderLock> lock;        // held from construction until run() returns
  std::optional<StopSignal> signals;     // from the start: a signal while building is kept for run()
  std::shared_ptr<RunLogSink> log_file;  // train.log
  bool append_warned = false;
  TrainerProgress progress;
  std::int64_t last_checkpoint_step = -1;
  std::int64_t last_valid_step = -1;
  double last_valid_loss = std::nan("");

  // The running means of the current log interval.
  double interval_loss_sum = 0.0;
  std::int64_t interval_tokens = 0;
  std::int64_t interval_steps = 0;
  double interval_norm = 0.0;
  Clock::time_point interval_start;
  double last_interval_loss = std::nan("");
  double tokens_per_second = 0.0;

  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    progress_line->clear();
    log->info(f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    progress_line->clear();
    log->warn(f, std::forward<Args>(args)...);
  }

  // A line the disk refused waits in memory (AppendFile) and is written when there is room; the
  // console hears of it once. The next checkpoint needs every line written (save).
  void check_appends() {
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

  bool done() const {
    if (exp.train.steps > 0) return progress.step >= exp.train.steps;
    return progress.epoch >= exp.train.epochs;
  }

  Checkpoint snapshot() {
    Checkpoint c;
    c.progress = progress;
    for (auto& [name, t] : model->module().state_dict()) c.model[name] = t.clone();
    c.optimizer = optimizer->state();
    const ScheduleOptions so = schedule_options(exp);
    c.schedule = {so.kind, so.lr, so.warmup, so.total_steps, so.min_lr};
    c.data_kind = exp.data.kind;
    c.data_state = data.train->state();
    c.config = to_yaml(exp);
    return c;
  }

  // Data-parallel runs: every rank's model must equal rank 0's (same start, same summed gradients,
  // same feature redraws). A difference means the ranks did not start from the same checkpoint or
  // run different builds; training on would average the gradients of different models.
  void check_same_state(const char* when) {
    if (!parallel) return;
    std::vector<std::uint64_t> mine = {state_checksum(model->module())};
    std::vector<std::uint64_t> lead_sum = mine;
    comm->broadcast(lead_sum, 0);
    std::vector<double> differ = {mine[0] == lead_sum[0] ? 0.0 : 1.0};
    comm->sum(differ);
    if (differ[0] > 0) {
      throw Error(fmt::format(
          "data-parallel: {} at step {}, the models of {} of the {} ranks differ from rank 0's (this rank's checksum "
          "{:016x}, rank 0's {:016x}). Every rank must resume from the same checkpoint (a folder all hosts share) and "
          "run the same kat build",
          when, progress.step, differ[0], comm->size(), mine[0], lead_sum[0]));
    }
  }

  void save(bool best) {
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

  // The plain cross-entropy per target token over the whole validation set, and for translation
  // (train.bleu_beam > 0) the BLEU of its decoded translations.
  struct Validation {
    double loss = 0.0;
    double bleu = std::nan("");
  };
  Validation validate() {
    NoGradGuard no_grad;
    model->module().eval();
    double sum = 0.0;
    std::int64_t tokens = 0;
    CrossEntropyOptions ce;
    ce.ignore_index = data.pad_id;
    std::vector<std::string> hypotheses, references;
    const bool bleu = exp.task == "translation" && exp.train.bleu_beam > 0 && data.detokenize;
    // Data-parallel runs share the validation batches out among the ranks and sum their results.
    for (std::size_t i = static_cast<std::size_t>(comm->rank()); i < data.valid.size();
         i += static_cast<std::size_t>(comm->size())) {
      const Batch& b = data.valid[i];
      const Variable loss = cross_entropy(model->logits(b), b.target, ce);
      sum += loss.data().item() * static_cast<double>(b.tokens);
      tokens += b.tokens;
      if (!bleu) continue;
      // Decode each source up to twice its length plus 10 tokens.
      std::vector<std::int64_t> max_len;
      for (std::int64_t i = 0; i < b.sentences; ++i) {
        const std::int64_t n = b.src_lengths.empty() ? b.src.size(1) : b.src_lengths[static_cast<std::size_t>(i)];
        max_len.push_back(2 * n + 10);
      }
      SearchOptions search;
      search.bos = data.bos_id;
      search.eos = data.eos_id;
      search.beam = exp.train.bleu_beam;
      for (const auto& h : model->translate(b, search, max_len)) hypotheses.push_back(data.detokenize(h[0].tokens));
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
    model->module().train();
    // One sum over the ranks: loss, tokens and BLEU's counts (exact integers in a double).
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

  // Validates at the current step, records and logs the result, and tells whether it is the best
  // so far. `counts` makes a validation without improvement count towards train.patience.
  bool validate_and_record(std::int64_t step, double wall_time, bool counts) {
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
    record.emplace_back("peak_rss_mb", peak_rss_mb());
    if (metrics) metrics->append(record);
    info("step {}: validation loss {:.4f}, ppl {:.3f}{}{}{}", step, v.loss, std::exp(v.loss),
         std::isnan(v.bleu) ? "" : fmt::format(", BLEU {:.2f}", v.bleu),
         best ? " (best)" : fmt::format(" (best {:.4f} at step {})", progress.best_valid_loss, progress.best_step),
         data.best_loss ? fmt::format("; the data's best is {:.4f}", *data.best_loss) : "");
    return best;
  }
};

Trainer::Trainer(const Experiment& given, TrainerOptions options) : s_(std::make_unique<State>()) {
  State& s = *s_;
  // Data paths as absolute paths: the run folder's config.yaml then works from any folder.
  s.exp = with_absolute_paths(given);
  const Experiment& experiment = s.exp;
  s.options = std::move(options);
  s.comm = s.options.comm ? s.options.comm : std::shared_ptr<Communicator>(single_process());
  s.lead = s.comm->rank() == 0;
  s.parallel = s.comm->size() > 1;
  if (s.options.signals) s.signals.emplace();
  s.dir = experiment.output.dir;
  const std::string checkpoints = s.dir + "/checkpoints";
  s.last_path = checkpoints + "/last.h5";
  const std::string& last_path = s.last_path;
  const bool has_run = fs::exists(last_path);
  if (s.options.resume && !has_run) {
    throw Error(
        fmt::format("--resume {}: no checkpoint to resume from ({}/last.h5 does not exist)", s.dir, checkpoints));
  }
  if (!s.options.resume && has_run) {
    throw Error(
        fmt::format("output.dir {} already holds a run ({}/last.h5); continue it with --resume {} or choose "
                    "another output.dir",
                    s.dir, checkpoints, s.dir));
  }
  if (s.lead) {
    // One trainer per run folder: a second `kat train` or `--resume` on it stops here, naming the
    // process that holds it.
    s.run_folder.emplace(Dir::open(s.dir, true));
    s.lock.emplace(*s.run_folder, "output.dir: the run folder");
    if (!s.options.resume && s.run_folder->exists("checkpoints/last.h5")) {
      throw Error(fmt::format("output.dir {} already holds a run ({}/last.h5); continue it with --resume {}", s.dir,
                              checkpoints, s.dir));
    }
  }

  // Logging: the run folder's train.log always; the console unless turned off. The other ranks of
  // a data-parallel run write nothing into the run folder and print only errors, marked with
  // their rank (rank 0 logs everything the ranks share).
  std::vector<spdlog::sink_ptr> sinks;
  if (s.lead) {
    s.log_file = std::make_shared<RunLogSink>(*s.run_folder, "train.log");
    sinks.push_back(s.log_file);
  }
  // A progress line rewritten in place needs a terminal that moves the cursor (not TERM=dumb).
  const char* term = std::getenv("TERM");
  const bool terminal =
      s.lead && s.options.console && ::isatty(STDERR_FILENO) && !(term != nullptr && std::string(term) == "dumb");
  if (s.options.console) {
    const char* no_color = std::getenv("NO_COLOR");  // https://no-color.org
    const bool plain = no_color != nullptr && *no_color != '\0';
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>(plain ? spdlog::color_mode::never
                                                                                : spdlog::color_mode::automatic));
  }
  s.log = std::make_shared<spdlog::logger>("train", sinks.begin(), sinks.end());
  s.log->set_pattern(s.lead ? "[%Y-%m-%d %H:%M:%S] [%^%l%$] %v"
                            : fmt::format("[%Y-%m-%d %H:%M:%S] [rank {}] [%^%l%$] %v", s.comm->rank()));
  if (!s.lead) s.log->set_level(spdlog::level::err);
  s.log->flush_on(spdlog::level::info);
  s.progress_line.emplace(terminal);

  if (experiment.train.threads > 0) set_num_threads(static_cast<int>(experiment.train.threads));

  s.info("{} {}: reading the data and building the model", s.options.resume ? "resuming" : "starting", s.dir);
  // Generators: one root seed, split for the model (initialization and dropout) and the data.
  Rng root(static_cast<std::uint64_t>(experiment.train.seed));
  Rng model_rng = root.split();
  Rng data_rng = root.split();
  s.data = make_training_data(experiment, data_rng);
  if (s.lead) {
    save_run_data(*s.run_folder, experiment, s.data);
    save_run_plugins(*s.run_folder, experiment);
  }
  try {
    s.model = make_task_model(experiment, s.data, model_rng);
  } catch (const SystemError& err) {
    const ModelConfig& m = experiment.model;
    throw SystemError(
        fmt::format("building the model (model.d_model {}, model.d_ff {}, model.layers {}, a vocabulary "
                    "of {}): {}",
                    m.d_model, m.d_ff, m.layers, s.data.tgt_vocab, err.what()));
  }
  s.model->module().train();
  s.kernels = attention_kernels(s.model->module());
  s.optimizer = make_optimizer(experiment, s.model->module());
  s.schedule = make_schedule(schedule_options(experiment));
  if (s.lead) s.store = std::make_unique<CheckpointStore>(checkpoints, experiment.train.keep_last);
  if (s.parallel) {
    const auto bytes = static_cast<std::size_t>(experiment.train.bucket_mb * 1024.0 * 1024.0);
    s.reducer = std::make_unique<GradientReducer>(*s.comm, s.optimizer->variables(), bytes);
  }

  std::string resume_note;
  if (s.options.resume) {
    check_run_plugins(s.dir);  // the plugins it was trained with, byte for byte
    // Every rank reads the same last.h5 (the run folder is shared, or copied to every host).
    const std::string path = last_path;
    Checkpoint c = read_checkpoint(path);
    Experiment saved;
    try {
      saved = parse_experiment(c.config, path + " (config attribute)");
    } catch (const ConfigError& err) {
      throw Error(fmt::format("checkpoint {}: its config does not validate: {}", path, err.what()));
    }
    std::vector<std::string> changed;
    saved = with_absolute_paths(saved);  // checkpoints of older runs hold the paths as given
    for (const auto& key : differing_keys(saved, experiment)) {
      if (!kResumableKeys.count(key)) {
        changed.push_back(
            fmt::format("{} ({} -> {})", key, key_value_text(saved, key), key_value_text(experiment, key)));
      }
    }
    if (!changed.empty()) {
      throw Error(fmt::format("--resume {}: the experiment differs from the checkpoint's in {}; only {} may change",
                              s.dir, fmt::join(changed, ", "), fmt::join(kResumableKeys, ", ")));
    }
    if (c.data_kind != experiment.data.kind) {
      throw Error(fmt::format("checkpoint {}: data kind '{}', but the experiment has '{}'", path, c.data_kind,
                              experiment.data.kind));
    }
    try {
      s.model->module().load_state_dict(c.model);
      s.optimizer->load_state(c.optimizer);
      s.data.train->set_state(c.data_state);
    } catch (const Error& err) {
      throw Error(fmt::format("checkpoint {}: {}", path, err.what()));
    }
    s.progress = c.progress;
    const ScheduleOptions now = schedule_options(experiment);
    if (now.total_steps != c.schedule.total_steps && (now.kind == "cosine" || now.kind == "linear")) {
      resume_note = fmt::format("the {} schedule now decays over {} steps instead of {} (it follows train.steps)",
                                now.kind, now.total_steps, c.schedule.total_steps);
    }
    s.last_checkpoint_step = s.progress.step;
  }
  // Records after the checkpoint the run continues from (or all, starting afresh in the folder of
  // a run killed before its first checkpoint) are of steps that will run again.
  std::string metrics_note;
  if (s.lead) metrics_note = truncate_metrics(*s.run_folder, "metrics.jsonl", s.progress.step);
  if (s.lead && s.options.resume) {
    // The checkpoint's step was validated already when the log says so (a run resumed after it
    // finished): the end of the run does not validate it again or log it twice.
    try {
      for (const auto& r : read_metrics(s.dir + "/metrics.jsonl")) {
        if (r.count("val_loss") && r.at("step") == static_cast<double>(s.progress.step)) {
          s.last_valid_step = s.progress.step;
          s.last_valid_loss = r.at("val_loss");
        }
      }
    } catch (const Error&) {
      // An unreadable metrics file only means validating again.
    }
  }
  if (s.parallel) {
    // Rank 0 alone reads the log; the others must make the same decision at the end of the run.
    std::uint64_t loss_bits = 0;
    std::memcpy(&loss_bits, &s.last_valid_loss, sizeof loss_bits);
    std::vector<std::uint64_t> seen = {static_cast<std::uint64_t>(s.last_valid_step), loss_bits};
    s.comm->broadcast(seen, 0);
    s.last_valid_step = static_cast<std::int64_t>(seen[0]);
    std::memcpy(&s.last_valid_loss, &seen[1], sizeof loss_bits);
  }
  if (s.lead) s.metrics = std::make_unique<MetricsLog>(*s.run_folder);

  const std::string yaml = to_yaml(experiment);
  if (s.lead) {
    // Whole or not at all: `kat train --resume` reads this file, and a kill while it is written
    // must not leave a run that cannot resume.
    s.run_folder->write_atomic("config.yaml",
                               "# The resolved experiment of this run (every key; see kat config --explain).\n" + yaml);
  }
  s.info("run folder {}{}", s.dir, s.options.resume ? fmt::format(", resuming at step {}", s.progress.step) : "");
  s.info("experiment:\n{}", yaml);
  if (!resume_note.empty()) s.warn("resume: {}", resume_note);
  if (!metrics_note.empty()) s.warn("{}", metrics_note);
  s.info("data: {}", s.data.description);
  s.info("model: {} parameters, {} attention, {} attention kernels", s.model->module().parameter_count(),
         experiment.model.attention.type, s.kernels.size());
  if (s.parallel) {
    s.info(
        "data-parallel: {}, {} thread{} each; each rank computes its share of the rows of every batch; "
        "gradients summed in {} buckets of up to {} MB",
        s.comm->describe(), num_threads(), num_threads() == 1 ? "" : "s", s.reducer->buckets(),
        experiment.train.bucket_mb);
  }
  // The ranks start from the same model: the same seed, or the same checkpoint.
  s.check_same_state(s.options.resume ? "after resuming" : "after initialization");
}

Trainer::~Trainer() = default;

Module& Trainer::model() { return s_->model->module(); }
const TrainerProgress& Trainer::progress() const { return s_->progress; }
const std::string& Trainer::run_dir() const { return s_->dir; }
spdlog::logger& Trainer::logger() { return *s_->log; }

TrainResult Trainer::run() {
  State& s = *s_;
  const Experiment& e = s.exp;
  // A data-parallel run stops when any rank is asked to, all before the same step.
  auto stop_wanted = [&] {
    const bool mine = stop_requested_ || (s.signals && s.signals->requested());
    if (!s.parallel) return mine;
    std::vector<double> any = {mine ? 1.0 : 0.0};
    s.comm->sum(any);
    return any[0] > 0;
  };

  if (s.lead && !s.lock) s.lock.emplace(*s.run_folder, "output.dir: the run folder");  // run() again
  const std::vector<Variable> params = s.optimizer->variables();
  CrossEntropyOptions ce;
  ce.ignore_index = s.data.pad_id;
  ce.label_smoothing = e.train.label_smoothing;

  TrainResult result;
  result.outcome = TrainOutcome::finished;
  const auto run_start = Clock::now();
  const double wall_before = s.progress.wall_seconds;
  auto wall = [&] { return wall_before + std::chrono::duration<double>(Clock::now() - run_start).count(); };
  s.interval_start = Clock::now();
  auto last_progress_draw = Clock::now() - std::chrono::seconds(1);
  const std::int64_t first_step = s.progress.step;

  while (!s.done()) {
    if (stop_wanted()) {
      result.outcome = TrainOutcome::interrupted;
      break;
    }
    const std::int64_t step = s.progress.step + 1;
    for (AttentionKernel* k : s.kernels) k->on_train_step(step);

    // Forward and backward over train.accumulate batches. Each batch's mean loss is back-propagated
    // weighted by its token count and the sum divided by all tokens afterwards, so the update is the
    // one a single batch holding every token would give.
    // Data-parallel: every rank reads the whole batch (the same stream everywhere, so the data
    // position stays one global position) and computes on its rows; the token-weighted gradients
    // summed over the ranks and divided by the whole batch's tokens are the gradient of one process.
    s.optimizer->zero_grad();
    double loss_sum = 0.0;
    std::int64_t tokens = 0;
    for (std::int64_t k = 0; k < e.train.accumulate; ++k) {
      Batch batch = s.data.train->next();
      tokens += batch.tokens;
      if (s.parallel) {
        if (k == e.train.accumulate - 1) s.reducer->arm();  // this backward starts the sums
        const std::int64_t rows = batch.sentences, ranks = s.comm->size(), r = s.comm->rank();
        const std::int64_t begin = rows * r / ranks, end = rows * (r + 1) / ranks;
        batch = batch_rows(batch, begin, end, s.data.pad_id);
        set_dropout_first_row(s.model->module(), begin);
      }
      if (batch.tokens == 0) continue;
      const Variable loss = cross_entropy(s.model->logits(batch), batch.target, ce);
      loss.backward(Tensor::scalar(static_cast<double>(batch.tokens), loss.dtype()));
      loss_sum += loss.data().item() * static_cast<double>(batch.tokens);
    }
    if (s.parallel) {
      s.reducer->finish();
      std::vector<double> total = {loss_sum};
      s.comm->sum(total);
      loss_sum = total[0];
      if (step == first_step + 1) {
        s.info("data-parallel: {} of the {} gradient buckets started during the backward pass of step {}",
               s.reducer->started_in_backward(), s.reducer->buckets(), step);
      }
    }
    if (tokens > 0) scale_grads(params, 1.0 / static_cast<double>(tokens));
    const double loss = tokens > 0 ? loss_sum / static_cast<double>(tokens) : std::nan("");
    const double norm = grad_norm(params);
    s.progress.step = step;
    s.progress.epoch = s.data.train->epoch();
    s.progress.tokens += tokens;

    if (!std::isfinite(loss) || !std::isfinite(norm)) {
      ++s.progress.bad_steps_in_row;
      s.optimizer->zero_grad();
      s.warn("step {}: non-finite {} ({}); step skipped ({} of {} in a row allowed)", step,
             std::isfinite(loss) ? "gradient norm" : "loss", std::isfinite(loss) ? norm : loss,
             s.progress.bad_steps_in_row, e.train.max_bad_steps);
      if (s.progress.bad_steps_in_row >= e.train.max_bad_steps) {
        result.outcome = TrainOutcome::diverged;
        result.message = fmt::format(
            "training diverged: {} steps in a row with a non-finite loss or gradient (up to step {}); {}. "
            "Lower optim.lr, raise schedule.warmup or set train.clip_norm.",
            s.progress.bad_steps_in_row, step,
            s.last_checkpoint_step >= 0
                ? fmt::format("the last good checkpoint is {} (step {})", s.last_path, s.last_checkpoint_step)
                : std::string("there is no checkpoint yet (it diverged before the first one)"));
        break;
      }
    } else {
      s.progress.bad_steps_in_row = 0;
      if (e.train.clip_norm > 0 && norm > e.train.clip_norm) scale_grads(params, e.train.clip_norm / norm);
      s.optimizer->set_lr(s.schedule->lr(step));
      s.optimizer->step();
      s.interval_loss_sum += loss * static_cast<double>(tokens);
      s.interval_tokens += tokens;
      s.interval_norm += norm;
      ++s.interval_steps;
    }

    // Progress and metrics.
    // Progress: a line (and a metrics record) every train.log_interval steps; on a terminal, also
    // a line rewritten in place after every step (at most ten times a second).
    const bool log_now = step % e.train.log_interval == 0 && s.interval_steps > 0;
    const bool draw = s.progress_line->terminal() && Clock::now() - last_progress_draw > std::chrono::milliseconds(100);
    if (log_now || draw) {
      const double seconds = std::chrono::duration<double>(Clock::now() - s.interval_start).count();
      const double interval_loss =
          s.interval_tokens > 0 ? s.interval_loss_sum / static_cast<double>(s.interval_tokens) : s.last_interval_loss;
      const double tokens_per_second =
          seconds > 0 && s.interval_tokens > 0 ? static_cast<double>(s.interval_tokens) / seconds : s.tokens_per_second;
      const double mean_norm = s.interval_steps > 0 ? s.interval_norm / static_cast<double>(s.interval_steps) : norm;
      const double done_steps = static_cast<double>(step - first_step);
      const double eta = e.train.steps > 0 && done_steps > 0
                             ? std::chrono::duration<double>(Clock::now() - run_start).count() / done_steps *
                                   static_cast<double>(e.train.steps - step)
                             : std::nan("");
      const std::string line =
          fmt::format("step {}{}  loss {:.4f}  lr {:.3g}  |g| {:.3g}  {:.0f} tok/s  epoch {}  ETA {}", step,
                      e.train.steps > 0 ? fmt::format("/{}", e.train.steps) : "", interval_loss, s.optimizer->lr(),
                      mean_norm, tokens_per_second, s.progress.epoch, format_duration(eta));
      if (log_now) {
        s.last_interval_loss = interval_loss;
        s.tokens_per_second = tokens_per_second;
        if (s.metrics)
          s.metrics->append({{"step", static_cast<double>(step)},
                             {"epoch", static_cast<double>(s.progress.epoch)},
                             {"train_loss", interval_loss},
                             {"lr", s.optimizer->lr()},
                             {"grad_norm", mean_norm},
                             {"tokens_per_s", tokens_per_second},
                             {"wall_time", wall()},
                             {"peak_rss_mb", peak_rss_mb()}});
        if (s.progress_line->terminal()) {
          // The file gets the line; the console keeps the progress line instead.
          s.log->sinks().front()->log(spdlog::details::log_msg("train", spdlog::level::info, line));
        } else {
          s.info("{}", line);
        }
        s.interval_loss_sum = 0.0;
        s.interval_tokens = 0;
        s.interval_steps = 0;
        s.interval_norm = 0.0;
        s.interval_start = Clock::now();
      }
      if (s.progress_line->terminal()) {
        s.progress_line->show(line);
        last_progress_draw = Clock::now();
      }
    }

    // Validation, best checkpoint, early stopping.
    bool best = false;
    if (e.train.valid_interval > 0 && step % e.train.valid_interval == 0) {
      best = s.validate_and_record(step, wall(), true);
    }
    s.progress.wall_seconds = wall();
    // While steps are non-finite the state is suspect: the last good checkpoint stays the last.
    if ((best || step % e.train.checkpoint_interval == 0) && s.progress.bad_steps_in_row == 0) s.save(best);
    s.check_appends();
    if (s.options.after_step) s.options.after_step(*this, step);
    if (e.train.patience > 0 && s.progress.validations_since_best >= e.train.patience) {
      result.outcome = TrainOutcome::early_stopped;
      result.message = fmt::format("early stop at step {}: {} validations without improving on {:.4f} (step {})", step,
                                   s.progress.validations_since_best, s.progress.best_valid_loss, s.progress.best_step);
      break;
    }
  }

  s.progress_line->clear();
  if (result.outcome == TrainOutcome::finished && s.last_valid_step != s.progress.step && !s.data.valid.empty()) {
    const bool best = s.validate_and_record(s.progress.step, wall(), false);
    s.progress.wall_seconds = wall();
    s.save(best);
  } else if (result.outcome != TrainOutcome::diverged && s.last_checkpoint_step != s.progress.step) {
    if (s.progress.bad_steps_in_row == 0) {
      s.progress.wall_seconds = wall();
      s.save(false);
    } else {
      s.warn("no checkpoint of step {}: its last {} steps were non-finite; the last checkpoint is step {}",
             s.progress.step, s.progress.bad_steps_in_row, s.last_checkpoint_step);
    }
  }

  switch (result.outcome) {
    case TrainOutcome::finished: result.message = fmt::format("finished at step {}", s.progress.step); break;
    case TrainOutcome::interrupted:
      result.message =
          fmt::format("stopped at step {} on request; continue with: kat train --resume {}", s.progress.step, s.dir);
      break;
    default: break;
  }
  if (result.outcome == TrainOutcome::diverged) {
    s.log->error("{}", result.message);
  } else {
    s.info("{}", result.message);
  }
  // A run that ran its course says so (kat compare reuses it instead of training again).
  if (!s.lead) {
    // Rank 0 writes the outcome.
  } else if (result.outcome == TrainOutcome::finished || result.outcome == TrainOutcome::early_stopped) {
    s.run_folder->write_atomic("outcome", fmt::format("{} {}\n", outcome_name(result.outcome), s.progress.step));
  } else {
    s.run_folder->remove("outcome");
  }
  if (s.lead) {
    s.metrics->file().flush();
    s.log_file->flush_pending();
  }
  s.lock.reset();  // the folder is complete: another trainer may take it
  result.step = s.progress.step;
  result.train_loss = s.last_interval_loss;
  result.valid_loss = s.last_valid_loss;
  result.best_valid_loss = s.progress.best_valid_loss;
  s.log->flush();
  return result;
}

}  // namespace kat
