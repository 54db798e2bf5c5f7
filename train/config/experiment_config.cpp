#include "train/config/experiment_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "data/synthetic.h"
#include "data/utf8.h"
#include "layers/attention/feature_maps/registry.h"
#include "layers/attention/registry.h"
#include "layers/plugin.h"

namespace kat {
namespace {

// Where a key's value came from: a place in the file, or an override.
struct Origin {
  std::string file;
  int line = 0;
  int column = 0;
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::string effective_feature_map(const AttentionConfig& a) {
  return has_attention(a.type) ? effective_feature_map(a.type, a.feature_map) : "";
}

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

const OptionSpec* find_option(const std::vector<OptionSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool reads(const AttentionInfo& info, const std::string& name) {
  return contains(info.uses, name) || find_option(info.options, name) != nullptr;
}

bool reads(const FeatureMapInfo& info, const std::string& name) {
  return contains(info.uses, name) || find_option(info.options, name) != nullptr;
}

// "a", "a and b", "a, b and c".
std::string and_list(const std::vector<std::string>& items) {
  if (items.size() < 2) return items.empty() ? "" : items[0];
  std::vector<std::string> head(items.begin(), items.end() - 1);
  return fmt::format("{} and {}", fmt::join(head, ", "), items.back());
}

// The options the experiment's attention type and feature map declare for themselves.
std::vector<OptionSpec> declared_options(const AttentionConfig& a) {
  std::vector<OptionSpec> specs;
  if (!has_attention(a.type)) return specs;
  specs = attention_info(a.type).options;
  const std::string map = effective_feature_map(a);
  if (!map.empty() && has_feature_map(map)) {
    for (const auto& s : feature_map_info(map).options) specs.push_back(s);
  }
  return specs;
}

}  // namespace

std::string attention_key_unread(const std::string& name, const AttentionConfig& a) {
  if (!has_attention(a.type)) return "";  // the type's own error says it
  if (reads(attention_info(a.type), name)) return "";
  const std::string map = effective_feature_map(a);
  if (!map.empty() && has_feature_map(map) && reads(feature_map_info(map), name)) return "";
  // Who reads it instead.
  std::vector<std::string> maps, types;
  for (const auto& m : feature_map_names()) {
    if (reads(feature_map_info(m), name)) maps.push_back(m);
  }
  for (const auto& t : attention_names()) {
    const AttentionInfo info = attention_info(t);
    if (reads(info, name) || (!maps.empty() && !info.default_feature_map.empty())) types.push_back(t);
  }
  if (map.empty() || maps.empty()) {
    return types.empty() ? fmt::format("{} attention does not read it", a.type)
                         : fmt::format("it applies to {} attention only", and_list(types));
  }
  return fmt::format("it applies to the feature map{} {}, not {}", maps.size() == 1 ? "" : "s", fmt::join(maps, ", "),
                     map);
}

const std::vector<AttentionSection>& attention_sections() {
  static const std::vector<AttentionSection> sections = {
      {"model.attention", &ModelConfig::attention, false, "every attention sublayer"},
      {"model.encoder_attention", &ModelConfig::encoder_attention, true, "the encoder's self-attention"},
      {"model.decoder_attention", &ModelConfig::decoder_attention, true, "the decoder's self-attention"},
      {"model.cross_attention", &ModelConfig::cross_attention, true, "the decoder's cross-attention"},
  };
  return sections;
}

const AttentionSection* attention_section_of(const std::string& key) {
  for (const auto& s : attention_sections()) {
    const std::string head = std::string(s.name) + ".";
    if (starts_with(key, head) && key.find('.', head.size()) == std::string::npos) return &s;
  }
  return nullptr;
}

std::string attention_key_unread_in_stack(const std::string& name, const ModelConfig& m) {
  std::string why = attention_key_unread(name, m.attention);
  if (why.empty()) return "";
  for (const std::string& type : m.layer_attention) {
    AttentionConfig a = m.attention;
    a.type = type;
    if (attention_key_unread(name, a).empty()) return "";
  }
  return why;
}

std::string describe_attention(const Experiment& e) {
  const auto one = [](const AttentionConfig& a) {
    const std::string map = effective_feature_map(a);
    if (map.empty()) return a.type;
    std::string s = a.type + " (" + map;
    if (a.features > 0) s += fmt::format(", m={}", a.features);
    if (a.redraw_interval > 0) s += fmt::format(", redraw {}", a.redraw_interval);
    if (!a.decay.empty()) s += ", decay";
    if (a.window > 0) s += fmt::format(", window {}", a.window);
    return s + ")";
  };
  const ModelConfig& m = e.model;
  if (!m.layer_attention.empty()) {
    std::vector<std::string> layers;  // each built from model.attention with its own type
    for (const std::string& type : m.layer_attention) {
      AttentionConfig a = m.attention;
      a.type = type;
      layers.push_back(has_attention(type) ? one(a) : type);
    }
    return fmt::format("{}", fmt::join(layers, ", "));
  }
  const auto& sections = attention_sections();
  const bool hybrid = std::any_of(sections.begin(), sections.end(), [&](const AttentionSection& s) {
    return s.is_override && !(m.*s.field).type.empty();
  });
  if (!hybrid) return one(m.attention);
  const auto of = [&](AttentionConfig ModelConfig::*f) { return (m.*f).type.empty() ? one(m.attention) : one(m.*f); };
  const std::string encoder = of(&ModelConfig::encoder_attention), decoder = of(&ModelConfig::decoder_attention);
  const std::string self =
      encoder == decoder ? encoder + " self" : fmt::format("{} encoder, {} decoder", encoder, decoder);
  return fmt::format("{} / {} cross", self, of(&ModelConfig::cross_attention));
}

std::string inapplicable(const std::string& key, const Experiment& e) {
  if (const FieldBase* f = experiment_schema().find(key)) return f->inapplicable(e);
  if (const AttentionSection* s = attention_section_of(key)) {
    const AttentionConfig& a = e.model.*s->field;
    const std::string name = key.substr(std::string(s->name).size() + 1);
    if (s->is_override && a.type.empty()) return fmt::format("{}.type is not given", s->name);
    return s->is_override ? attention_key_unread(name, a) : attention_key_unread_in_stack(name, e.model);
  }
  return "";
}

namespace {

// Keys that decide which other keys apply and what they mean.
const std::vector<const char*> kKindKeys = {"task",
                                            "data.kind",
                                            "data.synthetic.task",
                                            "model.attention.type",
                                            "model.attention.feature_map",
                                            "model.layer_attention",
                                            "model.encoder_attention.type",
                                            "model.decoder_attention.type",
                                            "model.cross_attention.type",
                                            "optim.type",
                                            "schedule.type"};

class Reader {
 public:
  Reader(const Schema& schema, std::string file, bool corpus_must_exist = true)
      : schema_(schema), file_(std::move(file)), corpus_must_exist_(corpus_must_exist) {}

  // require_keys: a file without a single key (empty, or comments only) is an error.
  Experiment read(const std::string& yaml, const std::vector<std::string>& overrides, bool require_keys) {
    Experiment e = schema_.defaults();
    // YAML is UTF-8 here; yaml-cpp would keep an invalid byte in a string, and the resolved config
    // (written with the byte replaced) would then name another output folder than the run uses.
    if (const auto bad = find_invalid_utf8(yaml)) {
      const std::size_t newline = yaml.rfind('\n', *bad);
      const std::size_t column = *bad - (newline == std::string::npos ? 0 : newline + 1) + 1;
      const auto line = std::count(yaml.begin(), yaml.begin() + static_cast<std::ptrdiff_t>(*bad), '\n') + 1;
      diagnostics_.push_back({file_, static_cast<int>(line), static_cast<int>(column),
                              "invalid UTF-8 (an experiment file is UTF-8 text)"});
      throw ConfigError(diagnostics_);
    }
    YAML::Node root;
    try {
      root = YAML::Load(yaml);
    } catch (const YAML::ParserException& ex) {
      error_at(file_, ex.mark, "YAML syntax error: " + ex.msg);
      throw ConfigError(diagnostics_);
    }
    if (root.IsMap()) {
      walk(root, "", e);
    } else if (!root.IsNull()) {
      error_at(file_, root.Mark(), "an experiment file is a mapping of sections (task, data, model, ...)");
    } else if (require_keys) {
      // An empty file is a mistake (a wrong path, a file cut short), not a request for the defaults.
      diagnostics_.push_back({file_, 1, 1,
                              "the experiment file is empty: give at least task, data and model (kat config "
                              "--explain lists every key; configs/ holds examples)"});
    }
    for (const auto& o : overrides) apply_override(o, e);
    load_plugins(e);
    for (const auto& f : schema_.fields()) {
      if (!set_by_parse_error_.count(f->key())) {
        const std::string why = f->check(e);
        if (!why.empty()) {
          error_for({f->key()}, why);
          wrong_keys_.insert(f->key());
        }
      }
    }
    for (const auto& k : set_by_parse_error_) wrong_keys_.insert(k);
    resolve_declared_options(e);
    // The checks across keys run with the others, so every problem is reported at once; a check
    // naming a key that is already wrong says nothing more, and none runs while a key that decides
    // which others apply is wrong.
    const bool kinds_known =
        std::none_of(kKindKeys.begin(), kKindKeys.end(), [&](const char* k) { return wrong_keys_.count(k) > 0; });
    if (kinds_known) {
      in_cross_checks_ = true;
      cross_checks(e);
      in_cross_checks_ = false;
    }
    if (!diagnostics_.empty()) {
      // The file's problems in reading order, then the overrides' in the order given.
      std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [&](const auto& a, const auto& b) {
        const bool a_set = a.file != file_, b_set = b.file != file_;
        if (a_set || b_set) return !a_set && b_set;
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
      });
      throw ConfigError(diagnostics_);
    }
    return e;
  }

 private:
  void error_at(const std::string& file, const YAML::Mark& mark, const std::string& message) {
    diagnostics_.push_back({file, mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : mark.column + 1, message});
  }

  // Locates a problem at the first of `keys` that was given explicitly, else at the file.
  void error_for(const std::vector<std::string>& keys, const std::string& message) {
    if (in_cross_checks_) {
      for (const auto& k : keys) {
        if (wrong_keys_.count(k)) return;  // reported already; the combination would follow from it
      }
    }
    for (const auto& k : keys) {
      auto it = origins_.find(k);
      if (it != origins_.end()) {
        diagnostics_.push_back({it->second.file, it->second.line, it->second.column, message});
        return;
      }
    }
    diagnostics_.push_back({file_, 0, 0, message});
  }

  void walk(const YAML::Node& map, const std::string& prefix, Experiment& e) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value = it->second;
      if (!key_node.IsScalar()) {
        error_at(file_, key_node.Mark(), "keys must be plain names");
        continue;
      }
      const std::string& name = key_node.Scalar();
      const std::string path = prefix.empty() ? name : prefix + "." + name;
      if (!seen.insert(name).second) {
        error_at(file_, key_node.Mark(), fmt::format("duplicate key '{}'", path));
        continue;
      }
      const YAML::Mark at = value.Mark().is_null() ? key_node.Mark() : value.Mark();
      if (const FieldBase* f = schema_.find(path)) {
        origins_[path] = {file_, at.line + 1, at.column + 1};
        const std::string why = f->parse(value, e);
        if (!why.empty()) {
          error_at(file_, at, why);
          set_by_parse_error_.insert(path);
        }
      } else if (schema_.is_section(path)) {
        origins_[path] = {file_, at.line + 1, at.column + 1};
        if (value.IsMap()) {
          walk(value, path, e);
        } else if (!value.IsNull()) {
          error_at(file_, at,
                   fmt::format("'{}' is a section: expected a mapping of its keys ({})", path,
                               fmt::join(schema_.children(path), ", ")));
        }
      } else if (const AttentionSection* section = attention_section_of(path)) {
        // Perhaps an option the attention type or its feature map declares: checked once both are known.
        if (!value.IsScalar()) {
          error_at(file_, at, fmt::format("'{}' expects a value, got a {}", path, value.IsMap() ? "mapping" : "list"));
        } else {
          add_pending(section, name, value.Scalar(), {file_, key_node.Mark().line + 1, key_node.Mark().column + 1},
                      {file_, at.line + 1, at.column + 1});
        }
      } else {
        error_at(file_, key_node.Mark(), unknown_key_message(name, prefix));
      }
    }
  }

  // The plugins the experiment names, loaded before its other keys are checked: their attention
  // types and feature maps are then choices like the built-in ones.
  void load_plugins(Experiment& e) {
    if (set_by_parse_error_.count("plugins")) return;
    for (std::string& path : e.plugins) {
      if (path.empty()) {
        error_for({"plugins"}, "'plugins' holds an empty path");
        wrong_keys_.insert("plugins");
        continue;
      }
      path = std::filesystem::absolute(path).lexically_normal().string();
      try {
        load_plugin(path);
      } catch (const Error& err) {
        error_for({"plugins"}, err.what());
        wrong_keys_.insert("plugins");
      }
    }
  }

  struct PendingOption {
    const AttentionSection* section;
    std::string name;  // under the section
    std::string text;
    Origin key, value;
  };

  void add_pending(const AttentionSection* section, const std::string& name, const std::string& text, const Origin& key,
                   const Origin& value) {
    std::erase_if(pending_, [&](const PendingOption& p) {
      return p.section == section && p.name == name;  // an override wins
    });
    pending_.push_back({section, name, text, key, value});
  }

  void error_at(const Origin& o, const std::string& message) {
    diagnostics_.push_back({o.file, o.line, o.column, message});
  }

  // The keys under an attention section that no schema field holds: options the attention type and
  // its feature map declare (their descriptors), checked like the built-in keys; the declared
  // options not given get their defaults.
  void resolve_declared_options(Experiment& e) {
    for (const AttentionSection& section : attention_sections()) resolve_declared_options(e, section);
  }

  void resolve_declared_options(Experiment& e, const AttentionSection& section) {
    AttentionConfig& a = e.model.*section.field;
    const std::string type_key = std::string(section.name) + ".type";
    if (wrong_keys_.count(type_key) || wrong_keys_.count(std::string(section.name) + ".feature_map")) return;
    std::vector<const PendingOption*> given;
    for (const PendingOption& p : pending_) {
      if (p.section == &section) given.push_back(&p);
    }
    if (section.is_override && a.type.empty()) {
      for (const PendingOption* p : given) {
        error_at(p->key, fmt::format("'{}.{}' has no effect here: {} is not given", section.name, p->name, type_key));
      }
      return;
    }
    if (!has_attention(a.type)) return;  // which options exist is not known; the type's error says why
    const std::string map = effective_feature_map(a);
    if (!map.empty() && !has_feature_map(map)) return;
    std::vector<OptionSpec> specs = declared_options(a);
    if (!section.is_override) {
      for (const std::string& type : e.model.layer_attention) {
        AttentionConfig layer = a;
        layer.type = type;
        for (const auto& spec : declared_options(layer)) {
          if (!find_option(specs, spec.name)) specs.push_back(spec);
        }
      }
    }
    for (const PendingOption* p : given) take_declared_option(section, a, specs, *p);
    for (const OptionSpec& spec : specs) {
      if (a.extra.has(spec.name)) continue;
      std::string canonical;
      const std::string why = check_option(spec, spec.default_value, &canonical);
      if (!why.empty()) {
        diagnostics_.push_back(
            {file_, 0, 0,
             fmt::format("the default of '{}.{}' does not fit its declaration: {}", section.name, spec.name, why)});
        continue;
      }
      a.extra.values[spec.name] = canonical;
    }
  }

  // One given key of a section: a declared option checked and taken, or an error saying why not.
  void take_declared_option(const AttentionSection& section, AttentionConfig& a, const std::vector<OptionSpec>& specs,
                            const PendingOption& p) {
    const std::string key = std::string(section.name) + "." + p.name;
    const OptionSpec* spec = find_option(specs, p.name);
    if (spec == nullptr) {
      // Another type or map may read it; else it is unknown, with the closest known key.
      std::vector<std::string> names = schema_.children(section.name);
      for (const auto& s : specs) names.push_back(s.name);
      bool elsewhere = false;
      for (const auto& m : feature_map_names())
        elsewhere |= find_option(feature_map_info(m).options, p.name) != nullptr;
      for (const auto& t : attention_names()) elsewhere |= find_option(attention_info(t).options, p.name) != nullptr;
      if (elsewhere) {
        error_at(p.key, fmt::format("'{}' has no effect here: {}", key, attention_key_unread(p.name, a)));
      } else {
        const std::string near = closest_match(p.name, names);
        error_at(p.key, fmt::format("unknown key '{}'{}", key,
                                    near.empty() ? "" : fmt::format(" (did you mean '{}.{}'?)", section.name, near)));
      }
      return;
    }
    std::string canonical;
    const std::string why = check_option(*spec, p.text, &canonical);
    if (!why.empty()) {
      error_at(p.value, fmt::format("'{}': {}", key, why));
      return;
    }
    a.extra.values[p.name] = canonical;
  }

  std::string unknown_key_message(const std::string& name, const std::string& prefix) const {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    return fmt::format("unknown key '{}'{}", path, suggestion(name, prefix));
  }

  // " (did you mean 'optim.lr'?)" for the key `name` under `prefix`, or "".
  std::string suggestion(const std::string& name, const std::string& prefix) const {
    // Names in the same section, and the other names their fields are known by (learning_rate).
    std::vector<std::string> names;
    std::map<std::string, std::string> full;
    const std::string head = prefix.empty() ? "" : prefix + ".";
    for (const auto& child : schema_.children(prefix)) {
      names.push_back(child);
      full[child] = head + child;
    }
    for (const auto& f : schema_.fields()) {
      if (f->key().rfind(head, 0) != 0 || f->key().find('.', head.size()) != std::string::npos) continue;
      for (const auto& alias : f->aliases()) {
        names.push_back(alias);
        full[alias] = f->key();
      }
    }
    std::string near = closest_match(name, names);
    if (!near.empty()) near = full[near];
    if (near.empty()) {
      // The key may belong to another section: `lr` at the top level is optim.lr.
      for (const auto& key : schema_.keys()) {
        if (key.size() > name.size() && key.compare(key.size() - name.size() - 1, std::string::npos, "." + name) == 0) {
          near = key;
          break;
        }
      }
    }
    if (near.empty()) near = closest_match(head + name, schema_.keys());
    return near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near);
  }

  void apply_override(const std::string& text, Experiment& e) {
    const std::string where = "--set " + text;
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      diagnostics_.push_back({where, 0, 0, "expected KEY=VALUE, e.g. --set optim.lr=3e-4"});
      return;
    }
    if (find_invalid_utf8(text)) {
      diagnostics_.push_back({where, 0, 0, "invalid UTF-8"});
      return;
    }
    const std::string key = text.substr(0, eq);
    const std::string value = text.substr(eq + 1);
    const FieldBase* f = schema_.find(key);
    if (const AttentionSection* section = attention_section_of(key); !f && section != nullptr) {
      add_pending(section, key.substr(std::string(section->name).size() + 1), value, {where, 0, 0}, {where, 0, 0});
      return;
    }
    if (!f) {
      const std::string near = closest_match(key, schema_.keys());
      diagnostics_.push_back(
          {where, 0, 0,
           fmt::format("unknown key '{}'{}", key, near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near))});
      return;
    }
    YAML::Node node;
    try {
      node = YAML::Load(value);
    } catch (const YAML::ParserException& ex) {
      diagnostics_.push_back({where, 0, 0, "YAML syntax error in the value: " + ex.msg});
      return;
    }
    if (node.IsNull() && value.empty()) node = YAML::Node(std::string());
    origins_[key] = {where, 0, 0};
    set_by_parse_error_.erase(key);
    const std::string why = f->parse(node, e);
    if (!why.empty()) {
      diagnostics_.push_back({where, 0, 0, why});
      set_by_parse_error_.insert(key);
    }
  }

  void cross_checks(const Experiment& e) {
    // A key given where it has no effect is a mistake worth reporting (a wrong kind, a leftover).
    for (const auto& [key, origin] : origins_) {
      if (!schema_.find(key)) continue;
      const std::string why = inapplicable(key, e);
      if (!why.empty()) error_for({key}, fmt::format("'{}' has no effect here: {}", key, why));
    }
    check_model(e);
    check_data(e);
    check_optimization(e);
    if (e.output.dir.empty()) error_for({"output.dir"}, "output.dir must name the run folder");
  }

  void check_model(const Experiment& e) {
    const auto& m = e.model;
    const auto& a = m.attention;
    if (m.heads > 0 && m.d_model % m.heads != 0) {
      error_for({"model.heads", "model.d_model"},
                fmt::format("model.d_model ({}) must be divisible by model.heads ({})", m.d_model, m.heads));
    }
    check_attention(a, "model.attention");
    for (const std::string& type : m.layer_attention) {
      AttentionConfig layer = a;
      layer.type = type;
      if (!has_attention(type)) {
        error_for({"model.layer_attention"}, fmt::format("'model.layer_attention': {}", unknown_attention(type)));
      } else {
        check_attention(layer, "model.attention");
      }
    }
    if (!m.layer_attention.empty() && static_cast<std::int64_t>(m.layer_attention.size()) != m.layers) {
      error_for({"model.layer_attention", "model.layers"},
                fmt::format("model.layer_attention names {} attention types for model.layers = {}: one per layer",
                            m.layer_attention.size(), m.layers));
    }
    for (const AttentionSection& section : attention_sections()) {
      const AttentionConfig& o = m.*section.field;
      if (!section.is_override || o.type.empty()) continue;
      if (!has_attention(o.type)) {
        error_for({std::string(section.name) + ".type"},
                  fmt::format("'{}.type': {}", section.name, unknown_attention(o.type)));
      } else {
        check_attention(o, section.name);
      }
    }
    check_decay(e);
    check_window(e);
    if (m.positional == PositionalKind::learned && e.data.kind == DataKind::synthetic &&
        longest_sequence(e) > m.max_len) {
      error_for({"model.max_len", "model.positional", "data.synthetic.max_len", "data.seq_len"},
                fmt::format("model.max_len ({}) is shorter than the longest synthetic sequence ({})", m.max_len,
                            longest_sequence(e)));
    }
  }

  // model.*.window: causal self-attention only (a language model's, or a translation decoder's own).
  void check_window(const Experiment& e) {
    const auto& m = e.model;
    for (const AttentionSection& section : attention_sections()) {
      const AttentionConfig& a = m.*section.field;
      if (a.window <= 0 || (section.is_override && a.type.empty())) continue;
      const std::string key = std::string(section.name) + ".window";
      const bool causal_self =
          e.task == Task::lm ? !section.is_override : section.field == &ModelConfig::decoder_attention;
      if (!causal_self) {
        error_for({key}, fmt::format("'{}': the window holds the keys just before each query, so it applies to causal "
                                     "self-attention only; in a translation model give it in "
                                     "model.decoder_attention (with its type)",
                                     key));
      }
      const std::string map = effective_feature_map(a);
      if (!map.empty() && has_feature_map(map) && feature_map_info(map).stabilized) {
        error_for({key, std::string(section.name) + ".feature_map"},
                  fmt::format("'{}': the {} feature map divides its features by stabilizing factors that cancel "
                              "only inside linear attention, not beside the window's softmax weights; give a map "
                              "with unscaled features (elu, relu, t2r, hedgehog)",
                              key, map));
      }
    }
  }

  // model.*.decay: one number or one per head, and only where attention is self-attention (a
  // language model's, or a translation encoder's or decoder's own; the encoder's weighs both
  // directions).
  void check_decay(const Experiment& e) {
    const auto& m = e.model;
    for (const AttentionSection& section : attention_sections()) {
      const AttentionConfig& a = m.*section.field;
      if (a.decay.empty() || (section.is_override && a.type.empty())) continue;
      const std::string key = std::string(section.name) + ".decay";
      const bool self = e.task == Task::lm ? !section.is_override
                                           : section.field == &ModelConfig::decoder_attention ||
                                                 section.field == &ModelConfig::encoder_attention;
      if (!self) {
        error_for({key}, fmt::format("'{}': decay weighs keys by their distance from the query, so it applies to "
                                     "self-attention only; in a translation model give it in "
                                     "model.encoder_attention or model.decoder_attention (with its type)",
                                     key));
      } else if (a.decay.size() != 1 && m.heads > 0 && static_cast<std::int64_t>(a.decay.size()) != m.heads) {
        error_for({key, "model.heads"}, fmt::format("'{}' gives {} decays for model.heads = {}: one for every head, or "
                                                    "one per head",
                                                    key, a.decay.size(), m.heads));
      }
    }
  }

  // An attention section's feature map: registered, and given the features it needs.
  void check_attention(const AttentionConfig& a, const std::string& section) {
    const std::string map = effective_feature_map(a);
    if (map.empty()) return;
    if (!has_feature_map(map)) {
      error_for({section + ".feature_map", section + ".type"}, unknown_feature_map(map));
    } else if (feature_map_info(map).needs_features && a.features == 0) {
      error_for({section + ".type", section + ".feature_map", section + ".features"},
                fmt::format("{} attention with the {} feature map needs {}.features > 0 (the width of its features, "
                            "e.g. 64)",
                            a.type, map, section));
    }
  }

  void check_data(const Experiment& e) {
    const auto& syn = e.data.synthetic;
    const bool translation = e.task == Task::translation;

    if (e.data.kind == DataKind::synthetic) {
      const bool translation_task = syn.task == SyntheticTask::copy || syn.task == SyntheticTask::reverse;
      if (translation != translation_task) {
        error_for({"data.synthetic.task", "task"},
                  fmt::format("synthetic task '{}' is for task: {}; use {} with task: {}", syn.task,
                              translation_task ? "translation" : "lm",
                              translation ? "copy or reverse" : "markov or duplicate", e.task));
      }
      if (syn.task == SyntheticTask::markov &&
          syn.symbols * std::min(syn.branching, syn.symbols) > kMaxMarkovTransitions) {
        error_for({"data.synthetic.branching", "data.synthetic.symbols"},
                  fmt::format("a Markov chain of {} symbols with {} successors each has {} transitions, more than "
                              "the {} kat builds: lower data.synthetic.symbols or data.synthetic.branching",
                              syn.symbols, std::min(syn.branching, syn.symbols),
                              syn.symbols * std::min(syn.branching, syn.symbols), kMaxMarkovTransitions));
      }
      if (syn.min_len > syn.max_len) {
        error_for({"data.synthetic.min_len", "data.synthetic.max_len"},
                  fmt::format("data.synthetic.min_len ({}) must not exceed data.synthetic.max_len ({})", syn.min_len,
                              syn.max_len));
      }
    } else {
      for (const char* k : {"data.train", "data.valid"}) {
        const std::string& path = std::string(k) == "data.train" ? e.data.train : e.data.valid;
        if (path.empty()) {
          error_for({"data.kind"}, fmt::format("data.kind: corpus needs '{}' (a prepared HDF5 dataset)", k));
        } else if (corpus_must_exist_ && !std::filesystem::exists(path)) {
          error_for({k}, fmt::format("'{}': no such file '{}'", k, path));
        }
      }
    }
    if (const SeqLenWarmup& w = e.data.seq_len_warmup; w.start > 0) {
      const std::int64_t ratio = e.data.seq_len / w.start;
      if (w.start >= e.data.seq_len || e.data.seq_len % w.start != 0 || (ratio & (ratio - 1)) != 0) {
        error_for({"data.seq_len_warmup.start", "data.seq_len"},
                  fmt::format("data.seq_len_warmup.start ({}) must be data.seq_len ({}) divided by a power of two "
                              "(2, 4, 8, ...)",
                              w.start, e.data.seq_len));
      }
      if (w.steps < 1) {
        error_for({"data.seq_len_warmup.steps"},
                  "data.seq_len_warmup.steps must be at least 1 when data.seq_len_warmup.start is set");
      }
    }
    if (e.data.kind == DataKind::synthetic && e.data.max_tokens > 0 && e.data.max_tokens < longest_sequence(e)) {
      error_for({"data.max_tokens", "data.synthetic.max_len", "data.seq_len"},
                fmt::format("data.max_tokens ({}) is smaller than one sequence ({} tokens)", e.data.max_tokens,
                            longest_sequence(e)));
    }
  }

  // The optimizer, the schedule and the length of training together.
  void check_optimization(const Experiment& e) {
    const auto& o = e.optim;
    if (o.type == "sgd" && o.nesterov && o.momentum == 0) {
      error_for({"optim.nesterov", "optim.momentum"}, "optim.nesterov needs optim.momentum > 0");
    }

    const auto& t = e.train;
    if ((t.steps > 0) == (t.epochs > 0)) {
      error_for({"train.steps", "train.epochs"},
                fmt::format("give exactly one of train.steps and train.epochs as > 0 (got steps {}, epochs {})",
                            t.steps, t.epochs));
    }
    const auto& s = e.schedule;
    if (s.min_lr > o.lr) {
      error_for({"schedule.min_lr", "optim.lr"}, fmt::format("schedule.min_lr ({}) exceeds optim.lr ({})",
                                                             format_number(s.min_lr), format_number(o.lr)));
    }
    if (s.type == "inverse_sqrt" && s.warmup < 1) {
      error_for({"schedule.warmup", "schedule.type"}, "schedule inverse_sqrt needs schedule.warmup >= 1");
    }
    const std::int64_t distill = t.distill_attention.steps;
    if (distill > 0 && (t.steps == 0 || distill >= t.steps)) {
      error_for({"train.distill_attention.steps", "train.steps"},
                fmt::format("train.distill_attention.steps ({}) are the first of train.steps, which must be more ({})",
                            distill, t.steps > 0 ? fmt::to_string(t.steps) : "training by train.epochs"));
    }
    if (s.type == "cosine" || s.type == "linear") {
      const std::int64_t total = s.total_steps > 0 ? s.total_steps : std::max<std::int64_t>(t.steps - distill, 0);
      if (total == 0) {
        error_for({"schedule.type", "train.epochs"},
                  fmt::format("schedule {} with train.epochs needs schedule.total_steps", s.type));
      } else if (total <= s.warmup) {
        error_for({"schedule.warmup", "schedule.total_steps", "train.steps"},
                  fmt::format("schedule {} decays over steps {}..{}: schedule.warmup ({}) must be below that total",
                              s.type, s.warmup, total, s.warmup));
      }
    }
    if (!t.time_budget.empty() && !parse_duration(t.time_budget)) {
      error_for(
          {"train.time_budget"},
          fmt::format("'train.time_budget' expects a duration such as 90s, 25m or 1h30m, got '{}'", t.time_budget));
    }
    if (t.patience > 0 && t.valid_interval == 0) {
      error_for({"train.patience", "train.valid_interval"},
                "train.patience needs train.valid_interval > 0 (early stopping counts validations)");
    }
  }

  const Schema& schema_;
  std::string file_;
  std::map<std::string, Origin> origins_;
  std::set<std::string> set_by_parse_error_;
  bool corpus_must_exist_ = true;
  std::vector<PendingOption> pending_;
  std::set<std::string> wrong_keys_;  // keys with a diagnostic of their own
  bool in_cross_checks_ = false;
  std::vector<ConfigDiagnostic> diagnostics_;
};

}  // namespace

std::int64_t synthetic_vocab(const SyntheticDataConfig& s) { return s.symbols + 4; }

std::int64_t window_length(const DataConfig& d, std::int64_t step) {
  const SeqLenWarmup& w = d.seq_len_warmup;
  if (w.start <= 0 || w.steps <= 0 || step > w.steps) return d.seq_len;
  std::int64_t doublings = 0;
  while ((w.start << (doublings + 1)) <= d.seq_len) ++doublings;
  // doublings + 1 phases of equal length: start, 2 start, ..., seq_len.
  const std::int64_t phase = (std::max<std::int64_t>(step, 1) - 1) * (doublings + 1) / w.steps;
  return std::min(d.seq_len, w.start << phase);
}

std::int64_t longest_sequence(const Experiment& e) {
  const auto& s = e.data.synthetic;
  if (e.data.kind != DataKind::synthetic) return e.data.seq_len;
  if (s.task == SyntheticTask::markov) return e.data.seq_len;
  if (s.task == SyntheticTask::duplicate) return 2 * s.max_len + 1;  // bos x sep x, read one short
  return s.max_len + 1;                                              // bos y / y eos
}

Experiment parse_experiment(const std::string& yaml, const std::string& name,
                            const std::vector<std::string>& overrides) {
  return Reader(experiment_schema(), name).read(yaml, overrides, false);
}

namespace {

std::string read_experiment_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw ConfigError({{path, 0, 0, "no such experiment file"}});
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError({{path, 0, 0, "is a folder, not an experiment file"}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({{path, 0, 0, "cannot read the experiment file"}});
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Experiment load_run_config(const std::string& path) {
  return Reader(experiment_schema(), path, /*corpus_must_exist=*/false).read(read_experiment_file(path), {}, true);
}

Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  return Reader(experiment_schema(), path).read(read_experiment_file(path), overrides, true);
}

std::string to_yaml(const Experiment& e) {
  // Nested by section, in declaration order. Values are written as YAML scalars; strings are
  // double-quoted so that "1" or "yes" read back as strings.
  std::string out;
  std::vector<std::string> open;  // the sections currently open
  // The options an attention type and feature map declare go after the last key of their section.
  const AttentionSection* in_section = nullptr;
  const auto declared = [&](const AttentionSection& section) {
    const AttentionConfig& a = e.model.*section.field;
    const std::vector<OptionSpec> specs = declared_options(a);
    for (const auto& [name, text] : a.extra.values) {
      const OptionSpec* spec = find_option(specs, name);
      std::string value = text;
      if (spec == nullptr || spec->type == OptionType::string) {
        YAML::Emitter em;
        em << YAML::DoubleQuoted << value;
        value = em.c_str();
      }
      out += "    " + name + ": " + value + "\n";
    }
  };
  for (const auto& f : experiment_schema().fields()) {
    if (!inapplicable(f->key(), e).empty()) continue;
    if (std::string(f->type_name()).rfind("list", 0) == 0 && f->value_text(e) == "[]") continue;  // none given
    const AttentionSection* section = attention_section_of(f->key());
    if (in_section != nullptr && section != in_section) declared(*in_section);
    in_section = section;
    std::vector<std::string> parts;
    std::stringstream ks(f->key());
    for (std::string p; std::getline(ks, p, '.');) parts.push_back(p);
    std::size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    open.resize(common);
    for (std::size_t i = common; i + 1 < parts.size(); ++i) {
      out += std::string(2 * i, ' ') + parts[i] + ":\n";
      open.push_back(parts[i]);
    }
    std::string value = f->value_text(e);
    if (std::string(f->type_name()) == "string") {
      YAML::Emitter em;
      em << YAML::DoubleQuoted << value;
      value = em.c_str();
    }
    out += std::string(2 * (parts.size() - 1), ' ') + parts.back() + ": " + value + "\n";
  }
  if (in_section != nullptr) declared(*in_section);
  return out;
}

namespace {

// One entry of the lists of attention types and feature maps: its name, description, the shared
// keys it reads and the options it declares.
std::string explain_entry(const std::string& name, const std::string& description, const std::vector<std::string>& uses,
                          const std::vector<OptionSpec>& options) {
  std::string out = fmt::format("  {:<12} {}\n", name, description);
  if (!uses.empty())
    out += fmt::format("  {:<12} reads model.attention.{}\n", "", fmt::join(uses, ", model.attention."));
  for (const auto& o : options) {
    const std::string range = option_constraint(o);
    out += fmt::format("  {:<12} model.attention.{}: {} = {}{}; {}\n", "", o.name, option_type_name(o.type),
                       o.default_value, range.empty() ? "" : "; " + range, o.help);
  }
  return out;
}

std::string explain_extensions() {
  std::string out = "\nAttention types (model.attention.type), from the registry: built in, or a plugin's\n";
  for (const auto& name : attention_names()) {
    const AttentionInfo info = attention_info(name);
    std::string what = info.description;
    if (!info.default_feature_map.empty()) what += fmt::format(" [feature map: {}]", info.default_feature_map);
    out += explain_entry(name, what, info.uses, info.options);
  }
  out += "\nFeature maps (model.attention.feature_map), from the registry: built in, or a plugin's\n";
  for (const auto& name : feature_map_names()) {
    const FeatureMapInfo info = feature_map_info(name);
    std::string what = info.description;
    if (info.needs_features) what += " [needs model.attention.features]";
    what += fmt::format(" [normalizer eps {:g}]", info.normalizer_eps);
    out += explain_entry(name, what, info.uses, info.options);
  }
  return out;
}

}  // namespace

std::string explain_experiment() {
  std::string out =
      "Keys of an experiment file (kat train EXP.yaml). Nested YAML: `model: {layers: 2}` sets model.layers;\n"
      "`--set model.layers=2` overrides a key from the command line.\n";
  std::string section = "-";
  for (const auto& f : experiment_schema().fields()) {
    const auto dot = f->key().find('.');
    const std::string s = dot == std::string::npos ? "" : f->key().substr(0, dot);
    if (s != section) {
      out += "\n" + (s.empty() ? std::string("(top level)") : s) + "\n";
      section = s;
    }
    const std::string range = f->constraint_text();
    out += fmt::format("  {:<34} {} = {}{}\n", f->key(), f->type_name(), f->default_text(),
                       range.empty() ? "" : "; " + range);
    // The help, wrapped at 100 columns under the key.
    std::string line = "     ";
    std::stringstream words(f->help());
    for (std::string w; words >> w;) {
      if (line.size() + 1 + w.size() > 100 && line.size() > 5) {
        out += line + "\n";
        line = "     ";
      }
      line += " " + w;
    }
    out += line + "\n";
  }
  out += explain_extensions();
  return out;
}

std::vector<std::string> differing_keys(const Experiment& a, const Experiment& b) {
  std::vector<std::string> out;
  for (const auto& f : experiment_schema().fields()) {
    if (!inapplicable(f->key(), a).empty() && !inapplicable(f->key(), b).empty()) continue;
    if (f->value_text(a) != f->value_text(b)) out.push_back(f->key());
  }
  for (const AttentionSection& section : attention_sections()) {
    const auto& x = (a.model.*section.field).extra.values;
    const auto& y = (b.model.*section.field).extra.values;
    std::set<std::string> names;
    for (const auto& [name, text] : x) names.insert(name);
    for (const auto& [name, text] : y) names.insert(name);
    for (const auto& name : names) {
      if (x.count(name) != y.count(name) || (x.count(name) && x.at(name) != y.at(name))) {
        out.push_back(std::string(section.name) + "." + name);
      }
    }
  }
  return out;
}

Experiment with_absolute_paths(const Experiment& e) {
  Experiment out = e;
  for (std::string* path : {&out.data.train, &out.data.valid}) {
    if (!path->empty()) *path = std::filesystem::absolute(*path).lexically_normal().string();
  }
  for (std::string& path : out.plugins) {
    if (!path.empty()) path = std::filesystem::absolute(path).lexically_normal().string();
  }
  return out;
}

std::string key_value_text(const Experiment& e, const std::string& key) {
  if (const FieldBase* f = experiment_schema().find(key)) return f->value_text(e);
  if (const AttentionSection* section = attention_section_of(key)) {
    const auto& values = (e.model.*section->field).extra.values;
    auto it = values.find(key.substr(std::string(section->name).size() + 1));
    if (it != values.end()) return it->second;
  }
  return "";
}

std::optional<double> parse_duration(const std::string& text) {
  double total = 0.0;
  std::size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    // Digits and a decimal point only: no sign, space, exponent, hex or "inf" that stod would take.
    std::size_t digits = i;
    while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
      ++digits;
    }
    if (digits == i) return std::nullopt;
    std::size_t used = 0;
    double value = 0.0;
    try {
      value = std::stod(text.substr(i, digits - i), &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (i + used != digits || digits >= text.size()) return std::nullopt;
    i = digits;
    const char unit = text[i++];
    if (unit == 'h') {
      total += 3600.0 * value;
    } else if (unit == 'm') {
      total += 60.0 * value;
    } else if (unit == 's') {
      total += value;
    } else {
      return std::nullopt;
    }
    any = true;
  }
  if (!any || !(total > 0)) return std::nullopt;
  return total;
}

double time_budget_seconds(const Experiment& e) {
  if (e.train.time_budget.empty()) return 0.0;
  return parse_duration(e.train.time_budget).value_or(0.0);
}

}  // namespace kat
