#include "train/convert.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/text_io.h"
#include "layers/attention/registry.h"
#include "layers/module.h"
#include "train/config/experiment_config.h"
#include "train/run_folder/checkpoint.h"
#include "train/run_folder/run_data.h"
#include "train/trainer.h"

namespace kat {
namespace {

// A weight of the attention kernel itself rather than of the layers around it: its feature map's, or
// the scale of a window's kernel part (linear_attention.h).
bool in_feature_map(const std::string& name) {
  return name.ends_with("attention.window_scale") || name.rfind("feature_map.", 0) == 0 ||
         name.find(".feature_map.") != std::string::npos;
}

bool has(const std::vector<Sublayers>& v, Sublayers s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// The layer index N of a parameter under "layers.N." (at the start or after a dot), or -1.
std::int64_t layer_of(const std::string& name) {
  const bool at_start = name.rfind("layers.", 0) == 0;
  const std::string::size_type at = at_start ? 0 : name.find(".layers.");
  if (at == std::string::npos) return -1;
  std::string::size_type i = at + (at_start ? 7 : 8);
  std::int64_t n = -1;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i)
    n = std::max<std::int64_t>(n, 0) * 10 + (name[i] - '0');
  return i < name.size() && name[i] == '.' ? n : -1;
}

// Whether `name` lies in the feature map of an attention sublayer the conversion replaces:
// encoder.layers.N.self_attn, decoder.layers.N.self_attn, decoder.layers.N.cross_attn, or with
// `layers` given, the self-attention of a language model's layer N for each N listed.
bool replaced_map(const std::string& name, const std::vector<Sublayers>& replaced,
                  const std::vector<std::int64_t>& layers) {
  if (!in_feature_map(name)) return false;
  if (!layers.empty()) return std::find(layers.begin(), layers.end(), layer_of(name)) != layers.end();
  if (replaced.empty() || has(replaced, Sublayers::all)) return true;
  const bool encoder = name.rfind("encoder.", 0) == 0, decoder = name.rfind("decoder.", 0) == 0;
  const bool cross = name.find(".cross_attn.") != std::string::npos;
  return (encoder && has(replaced, Sublayers::encoder)) || (decoder && !cross && has(replaced, Sublayers::decoder)) ||
         (decoder && cross && has(replaced, Sublayers::cross));
}

}  // namespace

Experiment converted_experiment(const Experiment& source, const ConvertOptions& o) {
  const Experiment defaults = default_experiment();
  Experiment e = source;
  AttentionConfig a = defaults.model.attention;
  a.type = o.attention;
  a.feature_map = o.feature_map;
  a.features = o.features;
  a.decay = o.decay;
  a.window = o.window;
  ModelConfig& m = e.model;
  const bool all_sublayers = o.sublayers.empty() || has(o.sublayers, Sublayers::all);
  if (!o.layers.empty()) {
    if (source.task != Task::lm) {
      throw Error("kat convert: --layers names layers of a language model; a translation model takes --sublayers");
    }
    if (!all_sublayers) throw Error("kat convert: give --layers or --sublayers, not both");
    std::vector<std::string> types = m.layer_attention;
    if (types.empty()) types.assign(static_cast<std::size_t>(m.layers), m.attention.type);
    std::vector<bool> chosen(types.size(), false);
    for (const std::int64_t layer : o.layers) {
      if (layer < 0 || layer >= m.layers) {
        throw Error(fmt::format("kat convert: --layers {}: the source model's layers are 0 to {} (model.layers = {})",
                                layer, m.layers - 1, m.layers));
      }
      chosen[static_cast<std::size_t>(layer)] = true;
    }
    // The layers kept read their options from model.attention, which becomes the new attention's:
    // only a kept type that reads none of them (softmax) keeps its meaning.
    for (std::size_t i = 0; i < types.size(); ++i) {
      if (chosen[i]) {
        types[i] = a.type;
      } else if (!attention_info(types[i]).uses.empty()) {
        throw Error(fmt::format(
            "kat convert: layer {} keeps its '{}' attention, whose options (model.attention) would become the new "
            "attention's; convert it too, or every layer",
            i, types[i]));
      }
    }
    m.attention = a;
    m.layer_attention = types;
  } else if (all_sublayers) {
    m.attention = a;
    m.layer_attention.clear();
    m.encoder_attention = defaults.model.encoder_attention;
    m.decoder_attention = defaults.model.decoder_attention;
    m.cross_attention = defaults.model.cross_attention;
  } else {
    if (source.task != Task::translation) {
      throw Error(
          "kat convert: --sublayers encoder, decoder and cross name the attentions of a translation model; "
          "a language model converts all its layers");
    }
    // A sublayer not named keeps what it had: its override, or model.attention.
    for (const AttentionSection& section : attention_sections()) {
      if (!section.is_override) continue;
      AttentionConfig& target = m.*section.field;
      if (target.type.empty()) target = m.attention;
    }
    if (has(o.sublayers, Sublayers::encoder)) m.encoder_attention = a;
    if (has(o.sublayers, Sublayers::decoder)) m.decoder_attention = a;
    if (has(o.sublayers, Sublayers::cross)) m.cross_attention = a;
  }
  if (source.train.steps <= 0 && o.steps <= 0) {
    throw Error("kat convert: the source run trained by epochs; give the fine-tuning length with --steps");
  }
  const std::int64_t steps = o.steps > 0 ? o.steps : std::max<std::int64_t>(1, source.train.steps / 5);
  TrainConfig& t = e.train;
  t.steps = o.distill_steps + steps;
  t.epochs = 0;
  t.time_budget.clear();
  t.distill_attention.steps = o.distill_steps;
  t.distill_attention.lr = o.distill_lr > 0 ? o.distill_lr : defaults.train.distill_attention.lr;
  t.valid_interval = std::min(t.valid_interval, steps);
  t.checkpoint_interval = std::min(t.checkpoint_interval, steps);
  if (o.lr > 0) e.optim.lr = o.lr;
  e.schedule.warmup =
      o.warmup >= 0 ? o.warmup : std::max<std::int64_t>(1, std::min(source.schedule.warmup, steps / 10));
  e.schedule.total_steps = 0;
  e.data.seq_len_warmup = defaults.data.seq_len_warmup;  // the source trained on whole windows already
  e.output.dir = o.output;
  // Through the experiment file's validation: defaults of the new map's options, cross-checks.
  return parse_experiment(to_yaml(e), fmt::format("the converted experiment ({}/config.yaml)", o.output));
}

WeightCopy copy_converted_weights(const std::map<std::string, Tensor>& source, Module& target,
                                  const std::vector<Sublayers>& replaced, const std::vector<std::int64_t>& layers) {
  WeightCopy report;
  const std::map<std::string, Tensor> state = target.state_dict();
  std::map<std::string, Tensor> merged;  // the source's tensors where they carry over, else the target's own
  for (const auto& [name, t] : state) {
    merged[name] = t;
    const auto it = source.find(name);
    if (replaced_map(name, replaced, layers) || (it == source.end() && in_feature_map(name))) {
      report.initialized.push_back(name);
      continue;
    }
    if (it == source.end()) {
      throw Error(
          fmt::format("the converted model has '{}' {}, which the source model lacks", name, to_string(t.shape())));
    }
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype()) {
      throw Error(fmt::format("'{}' is {} in the source model and {} in the converted one", name,
                              to_string(it->second.shape()), to_string(t.shape())));
    }
    merged[name] = it->second;
    ++report.copied;
  }
  for (const auto& [name, t] : source) {
    if (state.count(name) && !replaced_map(name, replaced, layers)) continue;
    if (!in_feature_map(name)) {
      throw Error(
          fmt::format("the source model's '{}' {} has no place in the converted model", name, to_string(t.shape())));
    }
    report.dropped.push_back(name);
  }
  target.load_state_dict(merged);  // parameters, buffers and generator states
  return report;
}

ConversionReport convert_run(const std::string& source_dir, const ConvertOptions& o) {
  namespace fs = std::filesystem;
  if (o.output.empty()) throw Error("kat convert: give the new run folder with -o");
  if (fs::exists(o.output) && fs::exists(source_dir) && fs::equivalent(o.output, source_dir)) {
    throw Error(fmt::format("kat convert: -o {} is the source run; the source is never modified", o.output));
  }
  const RunSnapshot source = open_run(source_dir, o.checkpoint);
  const Checkpoint& checkpoint = source.state;
  ConversionReport report;
  report.source_checkpoint = source.checkpoint;
  report.source_step = checkpoint.progress.step;
  report.experiment = converted_experiment(source.experiment, o);
  TrainerOptions options;
  options.console = false;
  options.signals = false;
  options.initialize = [&](Module& model) {
    try {
      report.weights = copy_converted_weights(checkpoint.model, model, o.sublayers, o.layers);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", report.source_checkpoint, e.what()));
    }
  };
  Trainer trainer(report.experiment, options);
  trainer.save_checkpoint();
  // Where the run came from, for kat compare's tables and for the user.
  nlohmann::ordered_json j;
  j["source_run"] = fs::absolute(source_dir).lexically_normal().string();
  j["source_checkpoint"] = fs::absolute(report.source_checkpoint).lexically_normal().string();
  j["source_step"] = report.source_step;
  j["source_attention"] = describe_attention(source.experiment);
  j["attention"] = describe_attention(report.experiment);
  if (!o.layers.empty()) j["layers"] = o.layers;
  j["distill_steps"] = report.experiment.train.distill_attention.steps;
  j["finetune_steps"] = report.experiment.train.steps - report.experiment.train.distill_attention.steps;
  j["tensors_copied"] = report.weights.copied;
  j["tensors_initialized"] = report.weights.initialized;
  j["tensors_dropped"] = report.weights.dropped;
  write_file_atomic(o.output + "/conversion.json", j.dump(2) + "\n");
  return report;
}

}  // namespace kat
