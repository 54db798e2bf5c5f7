#pragma once
// Turning a trained run into one whose attention is of another kind (`kat convert`, docs/convert.md):
// softmax attention replaced by linear attention with a learned feature map (T2R, Kasai et al.
// 2021; Hedgehog, Zhang et al. 2024), every other weight carried over, then fine-tuned briefly,
// optionally after attention distillation (train.distill_attention).
//
//   ConvertOptions o;
//   o.attention = "linear";
//   o.feature_map = "hedgehog";
//   o.output = "runs/convert/lm-hedgehog";
//   const ConversionReport r = convert_run("runs/lm/softmax", o);   // then: kat train --resume NEW

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "train/config/experiment.h"

namespace kat {

class Module;

// The attention sublayers a conversion replaces.
enum class Sublayers { all, encoder, decoder, cross };

struct ConvertOptions {
  std::string attention = "linear";  // the new attention type (a registered name)
  std::string feature_map;           // its feature map; "" for the type's own
  std::int64_t features = 0;         // model.attention.features of the new attention (0: the map's default)
  std::vector<double> decay;         // model.attention.decay of the new attention (empty: none)
  std::int64_t window = 0;           // model.attention.window of the new attention (0: none)
  std::vector<Sublayers> sublayers = {Sublayers::all};  // translation: encoder, decoder (self), cross
  std::vector<std::int64_t> layers;                     // language model: the layers to replace (empty: all)
  std::string checkpoint = "best";                      // of the source run: best, last or a file
  std::string output;                                   // the new run folder (must not hold a run)
  std::int64_t steps = 0;                               // fine-tuning steps (0: a fifth of the source's train.steps)
  std::int64_t distill_steps = 0;                       // attention distillation steps before them (0: none)
  double distill_lr = 0.0;                              // 0: the schema's default
  double lr = 0.0;                                      // fine-tuning peak rate (0: the source's optim.lr)
  std::int64_t warmup = -1;  // -1: the source's schedule.warmup, at most a tenth of the steps
};

// The experiment of the converted run: the source's, with the chosen sublayers' attention replaced
// (all: model.attention, the per-sublayer and per-layer overrides dropped; some layers of a
// language model: model.attention becomes the new attention and model.layer_attention names each
// layer's type, the others keeping theirs), training set to
// distill_steps + steps steps with the fine-tuning schedule, no sequence-length warmup and no time
// budget, and output.dir the new folder. Validated like an experiment file; throws ConfigError.
Experiment converted_experiment(const Experiment& source, const ConvertOptions& options);

struct WeightCopy {
  std::int64_t copied = 0;               // tensors carried over, bit for bit
  std::vector<std::string> initialized;  // the new model's tensors the source lacks (new feature maps)
  std::vector<std::string> dropped;      // the source's tensors the new model lacks (old feature maps)
};

// Copies each tensor of `source` (a state dict) into `target`'s tensor of the same name and shape,
// except the feature maps of the replaced sublayers (`replaced`, and of a language model the layers
// `layers` names, empty for all): those start afresh in the target and are dropped from the source.
// Any other difference (a missing tensor, another shape) throws kat::Error naming the tensor.
WeightCopy copy_converted_weights(const std::map<std::string, Tensor>& source, Module& target,
                                  const std::vector<Sublayers>& replaced = {Sublayers::all},
                                  const std::vector<std::int64_t>& layers = {});

struct ConversionReport {
  std::string source_checkpoint;
  std::int64_t source_step = 0;
  Experiment experiment;  // the new run's
  WeightCopy weights;
};

// Builds the new run folder: config.yaml, the run's data description, conversion.json (the source
// run, checkpoint and step, the steps of each stage, the tensors copied, initialized and dropped)
// and a checkpoint at step 0 holding the converted model, from which `kat train --resume OUTPUT` fine-tunes. The source
// run is only read. Throws kat::Error (or ConfigError) naming what is wrong.
ConversionReport convert_run(const std::string& source_dir, const ConvertOptions& options);

}  // namespace kat
