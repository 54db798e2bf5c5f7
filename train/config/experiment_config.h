#pragma once
// Reading, checking and writing experiment files.
//
//   Experiment e = load_experiment("configs/lm-tiny.yaml", {"optim.lr=3e-4"});
//
// reads the YAML (keeping line and column of every value), applies the `--set KEY=VALUE`
// overrides, and validates everything before any work starts: unknown keys (with the closest
// valid key suggested), wrong types, values out of range and cross-field errors such as
// d_model % heads != 0. All problems are reported at once in one ConfigError, each as
// FILE:LINE:COL: message.

#include <optional>
#include <string>
#include <vector>

#include "train/config/config_error.h"
#include "train/config/config_schema.h"
#include "train/config/experiment.h"

namespace kat {

const Schema& experiment_schema();
Experiment default_experiment();

// Reads `path`, applies the overrides ("model.layers=2"), validates; throws ConfigError.
Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides = {});
// A trained run's config.yaml, validated without requiring its corpus files to exist: a run folder
// is used (evaluated on --data, translating, generating) after its corpus is gone.
Experiment load_run_config(const std::string& path);
// The same from YAML text; `name` stands for the file in messages.
Experiment parse_experiment(const std::string& yaml, const std::string& name,
                            const std::vector<std::string>& overrides = {});

// Why `key` has no effect in this experiment ("it applies to performer attention only"), or "" when
// it has. Giving such a key is an error; the resolved config leaves it out.
std::string inapplicable(const std::string& key, const Experiment& e);

// The resolved experiment as YAML: every key that has an effect, in declaration order, nested by
// section.
std::string to_yaml(const Experiment& e);
// Every key with its type, default, range and help, for `kat config --explain`.
std::string explain_experiment();
// The keys whose values differ between two experiments (keys without effect in both are equal).
std::vector<std::string> differing_keys(const Experiment& a, const Experiment& b);
// The value of `key` (a schema key or an option an extension declares) as YAML text; "" when unset.
std::string key_value_text(const Experiment& e, const std::string& key);

// A duration as experiment files write it: "90s", "25m", "1h30m", "2h", "1.5h"; nullopt when the
// text is not one (or is not positive).
std::optional<double> parse_duration(const std::string& text);
// train.time_budget in seconds, 0 for none.
double time_budget_seconds(const Experiment& e);

// `e` with its data paths (data.train, data.valid) made absolute against the current folder and
// normalized, as a run folder's config.yaml keeps them.
Experiment with_absolute_paths(const Experiment& e);

// The feature map the attention uses: model.attention.feature_map, or the type's own (linear: elu,
// performer: favor+); "" for a type without one (softmax) or an unknown type.
std::string effective_feature_map(const AttentionConfig& a);
// Why the experiment's attention type and feature map do not read model.attention.<name> ("it
// applies to the feature maps favor+, favor-trig, not elu"), or "" when one of them does.
std::string attention_key_unread(const std::string& name, const AttentionConfig& a);

// The sections of an experiment that describe attention: model.attention (every sublayer by
// default) and the overrides of a hybrid translation model, each active when its type is given.
struct AttentionSection {
  const char* name;                     // "model.cross_attention"
  AttentionConfig ModelConfig::*field;  // &ModelConfig::cross_attention
  bool is_override;                     // false for model.attention
  const char* role;                     // "the decoder's cross-attention", for messages
};
const std::vector<AttentionSection>& attention_sections();
// The section `key` is a direct child of (model.cross_attention.nu), or nullptr.
const AttentionSection* attention_section_of(const std::string& key);
// Why model.attention.<name> has no effect: read by none of model.attention's type and map, nor by
// the types of model.layer_attention; "" when one of them reads it.
std::string attention_key_unread_in_stack(const std::string& name, const ModelConfig& m);
// "linear self / softmax cross", "softmax, linear (elu), linear (elu)", "performer (favor+)": the
// attention of a model in a few words, for tables.
std::string describe_attention(const Experiment& e);

// The sizes a synthetic data set implies for the model, used by validation and by the data
// factory: the vocabulary (symbols plus pad, bos, eos, sep) and the longest decoder input.
std::int64_t synthetic_vocab(const SyntheticDataConfig& s);
// The training window length of step `step` (1, 2, ...) under data.seq_len_warmup: data.seq_len
// once the warmup is over or without one.
std::int64_t window_length(const DataConfig& d, std::int64_t step);
std::int64_t longest_sequence(const Experiment& e);

}  // namespace kat
