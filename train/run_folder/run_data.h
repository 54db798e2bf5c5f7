#pragma once
// What a run folder keeps of its data so that the trained model is used without the corpus:
//   data.json         task, data kind, vocabulary sizes, special ids, the longest input, the
//                     dataset's side names and the tokenizer file of each
//   tokenizer.<side>  each side's tokenizer (kat tokenizer's file format; one for a language model
//                     or for two sides that share it)
// `kat train` writes them at the start of a run; `kat eval`, `translate`, `generate` and
// `compare` read them, from any folder and after the corpus is gone.

#include <optional>
#include <string>

#include "core/os/files.h"
#include "train/config/experiment.h"
#include "train/run_folder/checkpoint.h"
#include "train/training_data.h"

namespace kat {

// Writes data.json and the tokenizer files of `d` into the run folder (whole or not at all).
void save_run_data(const Dir& run, const Experiment& e, const TrainingData& d);

// Records the plugins the run loads (plugins.json: path, fingerprint, what each registered), so
// that a later command finds out when one is missing or has changed.
void save_run_plugins(const Dir& run, const Experiment& e);

// Checks that the plugins a run was trained with (its plugins.json) are the files there now: a
// missing one or one whose bytes changed throws kat::Error naming it. Nothing for a run without.
void check_run_plugins(const std::string& run_dir);

// The data of a run folder without training or validation batches: vocabularies, ids, tokenizers
// and the detokenizer. nullopt when the folder has no data.json (a run of an older kat, or one on
// synthetic data, which is rebuilt from its config). Throws kat::Error naming the file when it is
// unreadable or does not fit the experiment.
std::optional<TrainingData> load_run_data(const std::string& run_dir, const Experiment& e);

// A trained run folder opened for reading: its resolved config and one of its checkpoints.
struct RunSnapshot {
  std::string config;      // <dir>/config.yaml
  std::string checkpoint;  // the file the weights come from
  Experiment experiment;
  Checkpoint state;
};

// Opens a run folder: `which` = "best", "last" (its checkpoints/<which>.h5) or a checkpoint file.
// Checks that config.yaml and the checkpoint exist and that the run's plugins are unchanged
// (before its config loads them), then reads both. Throws kat::Error naming the folder or file.
RunSnapshot open_run(const std::string& dir, const std::string& which);

}  // namespace kat
