// A trainer's construction, piece by piece (train/trainer_state.h).

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/kernels/blas_kernels.h"
#include "core/parallel.h"
#include "optim/optimizers.h"
#include "train/config/config_error.h"
#include "train/run_folder/run_data.h"
#include "train/trainer_state.h"

namespace kat {
namespace {

namespace fs = std::filesystem;

// Keys a resumed run may change: how long and how often, not what is trained.
const std::set<std::string> kResumableKeys = {
    "train.steps",     "train.epochs",    "train.valid_interval", "train.checkpoint_interval",
    "train.keep_last", "train.patience",  "train.max_bad_steps",  "train.log_interval",
    "train.threads",   "train.bucket_mb", "train.time_budget",    "output.dir"};

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

}  // namespace

ScheduleOptions schedule_options(const Experiment& e) {
  ScheduleOptions s = e.schedule;
  if (s.total_steps <= 0) s.total_steps = e.train.steps - e.train.distill_attention.steps;
  return s;
}

// The folder exists and holds a run exactly when resuming; the lead locks it for this trainer.
void Trainer::State::open_run_folder() {
  dir = exp.output.dir;
  const std::string checkpoints = dir + "/checkpoints";
  last_path = checkpoints + "/last.h5";
  const bool has_run = fs::exists(last_path);
  if (options.resume && !has_run) {
    throw Error(fmt::format("--resume {}: no checkpoint to resume from ({}/last.h5 does not exist)", dir, checkpoints));
  }
  if (!options.resume && has_run) {
    throw Error(
        fmt::format("output.dir {} already holds a run ({}/last.h5); continue it with --resume {} or choose "
                    "another output.dir",
                    dir, checkpoints, dir));
  }
  if (!lead) return;
  // One trainer per run folder: a second `kat train` or `--resume` on it stops here, naming the
  // process that holds it.
  run_folder.emplace(Dir::open(dir, true));
  lock.emplace(*run_folder, "output.dir: the run folder");
  if (!options.resume && run_folder->exists("checkpoints/last.h5")) {
    throw Error(fmt::format("output.dir {} already holds a run ({}/last.h5); continue it with --resume {}", dir,
                            checkpoints, dir));
  }
}

// train.log always; the console unless turned off. The other ranks of a data-parallel run write
// nothing into the run folder and print only errors, marked with their rank (rank 0 logs
// everything the ranks share).
void Trainer::State::start_logging() {
  std::vector<spdlog::sink_ptr> sinks;
  if (lead) {
    log_file = std::make_shared<RunLogSink>(*run_folder, "train.log");
    sinks.push_back(log_file);
  }
  // A progress line rewritten in place needs a terminal that moves the cursor (not TERM=dumb).
  const char* term = std::getenv("TERM");
  const bool terminal =
      lead && options.console && ::isatty(STDERR_FILENO) && !(term != nullptr && std::string(term) == "dumb");
  if (options.console) {
    const char* no_color = std::getenv("NO_COLOR");  // https://no-color.org
    const bool plain = no_color != nullptr && *no_color != '\0';
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>(plain ? spdlog::color_mode::never
                                                                                : spdlog::color_mode::automatic));
  }
  log = std::make_shared<spdlog::logger>("train", sinks.begin(), sinks.end());
  log->set_pattern(lead ? "[%Y-%m-%d %H:%M:%S] [%^%l%$] %v"
                        : fmt::format("[%Y-%m-%d %H:%M:%S] [rank {}] [%^%l%$] %v", comm->rank()));
  if (!lead) log->set_level(spdlog::level::err);
  log->flush_on(spdlog::level::info);
  progress_line.emplace(terminal);
}

// Data, model, optimizer, schedule, checkpoint folder; the run folder's description of its data.
void Trainer::State::build() {
  if (exp.train.threads > 0) set_num_threads(static_cast<int>(exp.train.threads));
  if (exp.train.precision != MatmulPrecision::float32) {
    try {
      precision.emplace(exp.train.precision);
    } catch (const Error& e) {
      throw Error(fmt::format("train.precision {}: {}", name(exp.train.precision), e.what()));
    }
    info("matrix products: bfloat16 operands, float32 accumulation (train.precision bf16)");
  }
  info("{} {}: reading the data and building the model", options.resume ? "resuming" : "starting", dir);
  // Generators: one root seed, split for the model (initialization and dropout) and the data.
  Rng root(static_cast<std::uint64_t>(exp.train.seed));
  Rng model_rng = root.split();
  Rng data_rng = root.split();
  data = make_training_data(exp, data_rng);
  if (lead) {
    save_run_data(*run_folder, exp, data);
    save_run_plugins(*run_folder, exp);
  }
  try {
    model = make_task_model(exp, data, model_rng);
  } catch (const SystemError& err) {
    const ModelConfig& m = exp.model;
    throw SystemError(
        fmt::format("building the model (model.d_model {}, model.d_ff {}, model.layers {}, a vocabulary "
                    "of {}): {}",
                    m.d_model, m.d_ff, m.layers, data.tgt_vocab, err.what()));
  }
  model->module().train();
  kernels = attention_kernels(model->module());
  optimizer = make_optimizer(exp.optim, decay_groups(model->module().named_parameters(), exp.optim.decay_all));
  schedule = make_schedule(schedule_options(exp));
  if (exp.train.distill_attention.steps > 0) setup_distillation();
  if (lead) store = std::make_unique<CheckpointStore>(dir + "/checkpoints", exp.train.keep_last);
  if (parallel) {
    const auto bytes = static_cast<std::size_t>(exp.train.bucket_mb * 1024.0 * 1024.0);
    reducer = std::make_unique<GradientReducer>(*comm, optimizer->variables(), bytes);
  }
}

// The linear-attention kernels with weights of their own (a learned feature map, a window's scale),
// and Adam over those weights alone.
void Trainer::State::setup_distillation() {
  if (parallel) {
    throw Error(
        "train.distill_attention: attention distillation runs in one process (not under mpirun); "
        "distil first, then continue the run data-parallel with --resume");
  }
  std::vector<std::pair<std::string, Variable>> weights;
  for (AttentionKernel* k : kernels) {
    auto* kernel = dynamic_cast<LinearAttention*>(k);
    if (kernel == nullptr) continue;
    const auto learned = kernel->distilled_parameters();
    if (learned.empty()) continue;
    students.push_back(kernel);
    weights.insert(weights.end(), learned.begin(), learned.end());
  }
  if (students.empty()) {
    throw Error(
        "train.distill_attention: the model has no linear attention with a learned feature map to distil (give "
        "model.attention.feature_map: t2r or hedgehog, or a plugin's map with weights)");
  }
  OptimizerOptions adam;
  adam.type = "adam";
  adam.lr = exp.train.distill_attention.lr;
  distill_optimizer = make_optimizer(adam, decay_groups(weights, true));
}

// The model, optimizer, data position and progress of checkpoints/last.h5, after checking that the
// experiment changes only what a resumed run may change. Every rank reads the same file (the run
// folder is shared, or copied to every host).
void Trainer::State::resume_from_checkpoint() {
  check_run_plugins(dir);  // the plugins it was trained with, byte for byte
  const std::string& path = last_path;
  Checkpoint c = read_checkpoint(path);
  Experiment saved;
  try {
    saved = with_absolute_paths(parse_experiment(c.config, path + " (config attribute)"));
  } catch (const ConfigError& err) {
    throw Error(fmt::format("checkpoint {}: its config does not validate: {}", path, err.what()));
  }
  std::vector<std::string> changed;
  for (const auto& key : differing_keys(saved, exp)) {
    if (!kResumableKeys.count(key)) {
      changed.push_back(fmt::format("{} ({} -> {})", key, key_value_text(saved, key), key_value_text(exp, key)));
    }
  }
  if (!changed.empty()) {
    throw Error(fmt::format("--resume {}: the experiment differs from the checkpoint's in {}; only {} may change", dir,
                            fmt::join(changed, ", "), fmt::join(kResumableKeys, ", ")));
  }
  if (c.data_kind != name(exp.data.kind)) {
    throw Error(
        fmt::format("checkpoint {}: data kind '{}', but the experiment has '{}'", path, c.data_kind, exp.data.kind));
  }
  try {
    model->module().load_state_dict(c.model);
    optimizer->load_state(c.optimizer);
    if (distill_optimizer && !c.distill_optimizer.kind.empty()) distill_optimizer->load_state(c.distill_optimizer);
    data.train->set_state(c.data_state);
  } catch (const Error& err) {
    throw Error(fmt::format("checkpoint {}: {}", path, err.what()));
  }
  progress = c.progress;
  const ScheduleOptions now = schedule_options(exp);
  if (now.total_steps != c.schedule.total_steps && (now.type == "cosine" || now.type == "linear")) {
    notes.push_back(
        fmt::format("resume: the {} schedule now decays over {} steps instead of {} (it follows "
                    "train.steps)",
                    now.type, now.total_steps, c.schedule.total_steps));
  }
  last_checkpoint_step = progress.step;
  const std::string kernels_now = blas_kernels().family;
  if (!c.blas_kernels.empty() && c.blas_kernels != kernels_now) {
    notes.push_back(
        fmt::format("resume: {} was written on OpenBLAS's {} kernels and this process runs {} (OPENBLAS_CORETYPE={} "
                    "would match): the run continues, but not bit for bit as it would have there",
                    path, c.blas_kernels, kernels_now, c.blas_kernels));
  }
}

// metrics.jsonl continues from the step the run continues from; whether that step was validated.
void Trainer::State::prepare_logs() {
  // Records after the checkpoint the run continues from (or all, starting afresh in the folder of
  // a run killed before its first checkpoint) are of steps that will run again.
  if (lead) {
    const std::string note = truncate_metrics(*run_folder, "metrics.jsonl", progress.step);
    if (!note.empty()) notes.push_back(note);
  }
  if (lead && options.resume) {
    // The checkpoint's step was validated already when the log says so (a run resumed after it
    // finished): the end of the run does not validate it again or log it twice.
    try {
      for (const auto& r : read_metrics(dir + "/metrics.jsonl")) {
        if (r.count("val_loss") && r.at("step") == static_cast<double>(progress.step)) {
          last_valid_step = progress.step;
          last_valid_loss = r.at("val_loss");
        }
      }
    } catch (const Error&) {
      // An unreadable metrics file only means validating again.
    }
  }
  if (parallel) {
    // Rank 0 alone reads the log; the others must make the same decision at the end of the run.
    std::uint64_t loss_bits = 0;
    std::memcpy(&loss_bits, &last_valid_loss, sizeof loss_bits);
    std::vector<std::uint64_t> seen = {static_cast<std::uint64_t>(last_valid_step), loss_bits};
    comm->broadcast(seen, 0);
    last_valid_step = static_cast<std::int64_t>(seen[0]);
    std::memcpy(&last_valid_loss, &seen[1], sizeof loss_bits);
  }
  if (lead) metrics = std::make_unique<MetricsLog>(*run_folder);
}

// config.yaml (whole or not at all: `kat train --resume` reads it, and a kill while it is written
// must not leave a run that cannot resume), and the log's account of the run.
void Trainer::State::write_config_and_announce() {
  const std::string yaml = to_yaml(exp);
  if (lead) {
    run_folder->write_atomic("config.yaml",
                             "# The resolved experiment of this run (every key; see kat config --explain).\n" + yaml);
  }
  info("run folder {}{}", dir, options.resume ? fmt::format(", resuming at step {}", progress.step) : "");
  info("experiment:\n{}", yaml);
  for (const auto& note : notes) warn("{}", note);
  info("data: {}", data.description);
  info("matrix products: {}", describe_blas_kernels());
  info("model: {} parameters, {} attention, {} attention kernels", model->module().parameter_count(),
       describe_attention(exp), kernels.size());
  if (parallel) {
    info(
        "data-parallel: {}, {} thread{} each; each rank computes its share of the rows of every batch; "
        "gradients summed in {} buckets of up to {} MB",
        comm->describe(), num_threads(), num_threads() == 1 ? "" : "s", reducer->buckets(), exp.train.bucket_mb);
  }
}

// Data-parallel runs: every rank's model must equal rank 0's (same start, same summed gradients,
// same feature redraws). A difference means the ranks did not start from the same checkpoint or
// run different builds; training on would average the gradients of different models.
void Trainer::State::check_same_state(const char* when) {
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

}  // namespace kat
