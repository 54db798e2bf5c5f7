// `kat convert RUN --attention linear --feature-map hedgehog -o NEW [--steps N] [--distill N]`: a new
// run folder whose model is RUN's with its attention replaced (all of it, or the sublayers
// --sublayers or --layers names), every other weight copied bit for bit, a checkpoint at step 0, and an
// experiment that fine-tunes it (after attention distillation with --distill): continue it with
// `kat train --resume NEW`. RUN is only read. docs/convert.md.

#include <fmt/format.h>

#include <cstdio>

#include "apps/commands.h"
#include "train/config/config_error.h"
#include "train/config/experiment_config.h"
#include "train/convert.h"

namespace kat::cli {
namespace {

struct ConvertArgs {
  std::string run;
  std::vector<std::string> sublayers;
  ConvertOptions options;
};

int run_convert(ConvertArgs& a) {
  ConvertOptions& o = a.options;
  o.sublayers.clear();
  for (const std::string& s : a.sublayers) {
    o.sublayers.push_back(s == "encoder"   ? Sublayers::encoder
                          : s == "decoder" ? Sublayers::decoder
                          : s == "cross"   ? Sublayers::cross
                                           : Sublayers::all);
  }
  if (o.sublayers.empty()) o.sublayers.push_back(Sublayers::all);
  ConversionReport r;
  try {
    r = convert_run(a.run, o);
  } catch (const ConfigError& err) {
    print_config_errors(err);
    return kExitBadInput;
  }
  const TrainConfig& t = r.experiment.train;
  std::fprintf(
      stderr, "kat convert: %s (step %lld) -> %s: %s attention; %lld tensors copied, %zu new (%s), %zu dropped\n",
      r.source_checkpoint.c_str(), static_cast<long long>(r.source_step), o.output.c_str(),
      describe_attention(r.experiment).c_str(), static_cast<long long>(r.weights.copied), r.weights.initialized.size(),
      r.weights.initialized.empty()             ? "none"
      : r.experiment.model.attention.window > 0 ? "feature maps, window scales"
                                                : "feature maps",
      r.weights.dropped.size());
  if (t.distill_attention.steps > 0) {
    std::fprintf(stderr, "kat convert: %lld steps of attention distillation, then %lld of fine-tuning\n",
                 static_cast<long long>(t.distill_attention.steps),
                 static_cast<long long>(t.steps - t.distill_attention.steps));
  } else {
    std::fprintf(stderr, "kat convert: %lld steps of fine-tuning\n", static_cast<long long>(t.steps));
  }
  std::fprintf(stderr, "kat convert: continue with: kat train --resume %s\n", o.output.c_str());
  return 0;
}

}  // namespace

Runner add_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  ConvertOptions& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "convert", "Turn a trained run into one with another attention (e.g. softmax -> linear with a learned map)");
  cmd->add_option("run", args->run, "The source run folder (only read)")->required();
  cmd->add_option("-o,--output", o.output, "The new run folder")->required();
  cmd->add_option("--attention", o.attention, "The new attention type: linear, performer, or a registered one")
      ->capture_default_str();
  cmd->add_option("--feature-map", o.feature_map,
                  "Its feature map: t2r, hedgehog, elu, favor+, ... (default: the type's own)");
  cmd->add_option("--features", o.features, "Feature width M (default: the map's own)")->check(CLI::Range(1, 65536));
  cmd->add_option("--decay", o.decay,
                  "Per-head decay of the new self-attention (not cross-attention), one number or one per head in "
                  "(0, 1], comma-separated (model.attention.decay)")
      ->delimiter(',');
  cmd->add_option("--window", o.window,
                  "Softmax over the last this many keys of the new self-attention, its kernel over the older ones "
                  "(model.attention.window)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--sublayers", args->sublayers,
                  "Translation: which attentions to replace (repeatable): encoder, decoder, cross; default all")
      ->check(CLI::IsMember({"all", "encoder", "decoder", "cross"}));
  cmd->add_option("--layers", o.layers,
                  "Language model: which layers' attention to replace, comma-separated from 0 (model.layer_attention); "
                  "default all")
      ->delimiter(',')
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--checkpoint", o.checkpoint, "The source's checkpoint: best, last, or a file")
      ->capture_default_str();
  cmd->add_option("--steps", o.steps, "Fine-tuning steps (default: a fifth of the source's train.steps)")
      ->check(CLI::Range(1, 100000000));
  cmd->add_option("--distill", o.distill_steps,
                  "Steps of attention distillation before fine-tuning (only the feature maps train)")
      ->check(CLI::Range(0, 100000000));
  cmd->add_option("--distill-lr", o.distill_lr, "Learning rate of the distillation (default 0.01)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--lr", o.lr, "Peak fine-tuning learning rate (default: the source's optim.lr)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", o.warmup, "Fine-tuning warmup steps (default: the source's, at most a tenth of --steps)")
      ->check(CLI::Range(0, 100000000));
  return [args] { return run_convert(*args); };
}

}  // namespace kat::cli
