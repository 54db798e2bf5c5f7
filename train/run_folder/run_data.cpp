#include "train/run_folder/run_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/os/shared_library.h"
#include "data/text_io.h"
#include "layers/plugin.h"
#include "train/config/config_error.h"
#include "train/config/experiment_config.h"

namespace kat {

namespace {

constexpr int kRunDataVersion = 1;

}  // namespace

void save_run_data(const Dir& run, const Experiment& e, const TrainingData& d) {
  if (e.data.kind != DataKind::corpus) return;  // synthetic data is rebuilt from the config alone
  nlohmann::ordered_json j;
  j["format"] = "kat-run-data";
  j["version"] = kRunDataVersion;
  j["task"] = name(e.task);
  j["src_vocab"] = d.src_vocab;
  j["tgt_vocab"] = d.tgt_vocab;
  j["shared_vocab"] = d.shared_vocab;
  j["pad_id"] = d.pad_id;
  j["bos_id"] = d.bos_id;
  j["eos_id"] = d.eos_id;
  j["max_length"] = d.max_length;
  j["src_side"] = d.src_side;
  j["tgt_side"] = d.tgt_side;
  // Side names become file names when they are plain words ("tokenizer.en").
  const auto file_for = [](const std::string& side, const char* fallback) {
    const bool plain = !side.empty() && side.size() <= 64 && std::all_of(side.begin(), side.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    return std::string("tokenizer.") + (plain ? side : fallback);
  };
  const std::string src_file = file_for(d.src_side, "source");
  const std::string tgt_file = d.tgt_tokenizer == d.src_tokenizer ? src_file : file_for(d.tgt_side, "target");
  j["src_tokenizer"] = src_file;
  j["tgt_tokenizer"] = tgt_file;
  run.write_atomic(src_file, serialize_tokenizer(*d.src_tokenizer));
  if (tgt_file != src_file) run.write_atomic(tgt_file, serialize_tokenizer(*d.tgt_tokenizer));
  run.write_atomic("data.json", j.dump(2) + "\n");
}

std::optional<TrainingData> load_run_data(const std::string& run_dir, const Experiment& e) {
  const std::string path = run_dir + "/data.json";
  if (e.data.kind != DataKind::corpus || !std::filesystem::exists(path)) return std::nullopt;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& ex) {
    throw Error(fmt::format("{}: not valid JSON ({})", path, ex.what()));
  }
  TrainingData d;
  try {
    if (j.at("format").get<std::string>() != "kat-run-data")
      throw Error(fmt::format("{}: not a kat run's data.json", path));
    if (j.at("version").get<int>() != kRunDataVersion) {
      throw Error(
          fmt::format("{}: version {} (this kat reads version {})", path, j.at("version").get<int>(), kRunDataVersion));
    }
    if (j.at("task").get<std::string>() != name(e.task)) {
      throw Error(
          fmt::format("{}: task {}, but the run's config.yaml says {}", path, j.at("task").get<std::string>(), e.task));
    }
    d.src_vocab = j.at("src_vocab").get<std::int64_t>();
    d.tgt_vocab = j.at("tgt_vocab").get<std::int64_t>();
    d.shared_vocab = j.at("shared_vocab").get<bool>();
    d.pad_id = j.at("pad_id").get<std::int64_t>();
    d.bos_id = j.at("bos_id").get<std::int64_t>();
    d.eos_id = j.at("eos_id").get<std::int64_t>();
    d.max_length = j.at("max_length").get<std::int64_t>();
    d.src_side = j.at("src_side").get<std::string>();
    d.tgt_side = j.at("tgt_side").get<std::string>();
    const auto tokenizer = [&](const char* key) -> std::shared_ptr<const Tokenizer> {
      const std::string name = j.at(key).get<std::string>();
      if (name.empty() || name.find('/') != std::string::npos) {
        throw Error(fmt::format("{}: {} '{}' is not a file name in the run folder", path, key, name));
      }
      return load_tokenizer(run_dir + "/" + name);
    };
    d.src_tokenizer = tokenizer("src_tokenizer");
    d.tgt_tokenizer = j.at("tgt_tokenizer") == j.at("src_tokenizer") ? d.src_tokenizer : tokenizer("tgt_tokenizer");
  } catch (const nlohmann::json::exception& ex) {
    throw Error(fmt::format("{}: {}", path, ex.what()));
  }
  if (d.tgt_tokenizer->vocab_size() != d.tgt_vocab || d.src_tokenizer->vocab_size() != d.src_vocab) {
    throw Error(fmt::format("{}: the tokenizer files do not have the vocabulary sizes it names", path));
  }
  d.detokenize = [tok = d.tgt_tokenizer](const std::vector<std::int64_t>& ids) { return tok->decode(ids); };
  d.description = fmt::format("the data description of {}", run_dir);
  return d;
}

void save_run_plugins(const Dir& run, const Experiment& e) {
  if (e.plugins.empty()) {
    run.remove("plugins.json");
    return;
  }
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const std::string& path : e.plugins) {
    const LoadedPlugin p = load_plugin(path);  // loaded already: its record
    nlohmann::ordered_json j;
    j["path"] = p.path;
    j["fingerprint"] = p.fingerprint;
    j["name"] = p.name;
    j["attention_types"] = p.attention_types;
    j["feature_maps"] = p.feature_maps;
    list.push_back(std::move(j));
  }
  run.write_atomic("plugins.json", list.dump(2) + "\n");
}

void check_run_plugins(const std::string& run_dir) {
  const std::string path = run_dir + "/plugins.json";
  if (!std::filesystem::exists(path)) return;
  nlohmann::json list;
  try {
    list = nlohmann::json::parse(read_text(path));
    for (const auto& p : list) {
      const std::string plugin = p.at("path").get<std::string>();
      const std::string recorded = p.at("fingerprint").get<std::string>();
      if (!std::filesystem::exists(plugin)) {
        throw Error(
            fmt::format("{}: the plugin {} the run was trained with is missing (restore it, or rebuild it "
                        "from the same source)",
                        path, plugin));
      }
      const std::string now = file_fingerprint(plugin);
      if (now != recorded) {
        throw Error(
            fmt::format("{}: the plugin {} changed since the run was trained (fingerprint {}, now {}); "
                        "use the build the run was trained with",
                        path, plugin, recorded, now));
      }
    }
  } catch (const nlohmann::json::exception& ex) {
    throw Error(fmt::format("{}: {}", path, ex.what()));
  }
}

RunSnapshot open_run(const std::string& dir, const std::string& which) {
  RunSnapshot run;
  run.config = dir + "/config.yaml";
  if (!std::filesystem::exists(run.config)) {
    throw Error(fmt::format("{}: not a run folder (no config.yaml; kat train writes one into output.dir)", dir));
  }
  run.checkpoint = which == "best" || which == "last" ? dir + "/checkpoints/" + which + ".h5" : which;
  if (!std::filesystem::exists(run.checkpoint)) {
    throw Error(fmt::format("{}: no checkpoint {} (has the run validated or saved yet?)", dir, run.checkpoint));
  }
  check_run_plugins(dir);  // before loading them through the config
  try {
    run.experiment = load_run_config(run.config);
  } catch (const ConfigError& e) {
    throw Error(fmt::format("{}: {}", run.config, e.what()));
  }
  run.state = read_checkpoint(run.checkpoint);
  return run;
}

}  // namespace kat
