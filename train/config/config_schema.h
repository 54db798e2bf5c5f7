#pragma once
// The declaration table behind experiment files. Each field is declared once, with its dotted key,
// where it lives in the Experiment struct, its default, its help text and its range; the same
// table parses YAML, checks ranges, writes the resolved config and prints `kat config --explain`.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "train/config/experiment.h"

namespace kat {

class FieldBase {
 public:
  FieldBase(std::string key, std::string help) : key_(std::move(key)), help_(std::move(help)) {}
  virtual ~FieldBase() = default;

  const std::string& key() const { return key_; }
  const std::string& help() const { return help_; }
  // Other names people use for this key (learning_rate for optim.lr): "did you mean" finds them.
  const std::vector<std::string>& aliases() const { return aliases_; }
  void add_alias(std::string name) { aliases_.push_back(std::move(name)); }
  virtual const char* type_name() const = 0;        // integer | number | boolean | string | list
  virtual std::string default_text() const = 0;     // as YAML would show it
  virtual std::string constraint_text() const = 0;  // "> 0", "in [0, 1)", "one of: a, b"; "" for none
  virtual void set_default(Experiment& e) const = 0;
  // Reads a YAML node into the field; returns what is wrong ("" when the value was taken).
  virtual std::string parse(const YAML::Node& node, Experiment& e) const = 0;
  // The range check of the current value; "" when it holds.
  virtual std::string check(const Experiment& e) const = 0;
  virtual std::string value_text(const Experiment& e) const = 0;  // YAML scalar text of the value

  // When the key has an effect: a rule returns "" when it applies, else why it does not ("it
  // applies to optim.type: sgd only"). A key applies unless one of its rules says otherwise.
  using Rule = std::function<std::string(const Experiment&)>;
  void add_rule(Rule rule) { rules_.push_back(std::move(rule)); }
  std::string inapplicable(const Experiment& e) const {
    for (const auto& rule : rules_) {
      if (std::string why = rule(e); !why.empty()) return why;
    }
    return "";
  }

 private:
  std::string key_;
  std::string help_;
  std::vector<std::string> aliases_;
  std::vector<Rule> rules_;
};

// What a bound compares: the value itself, or each item of a list of numbers.
template <typename T>
struct BoundItem {
  using type = T;
};
template <>
struct BoundItem<std::vector<double>> {
  using type = double;
};

template <typename T>
class Field final : public FieldBase {
 public:
  using Accessor = std::function<T&(Experiment&)>;
  using Item = typename BoundItem<T>::type;
  Field(std::string key, Accessor get, T def, std::string help)
      : FieldBase(std::move(key), std::move(help)), get_(std::move(get)), default_(std::move(def)) {}

  // Bounds (numbers) and the allowed values (strings); each returns the field for chaining.
  Field& at_least(Item v) { return bound(low_, v, false); }
  Field& above(Item v) { return bound(low_, v, true); }
  Field& at_most(Item v) { return bound(high_, v, false); }
  Field& below(Item v) { return bound(high_, v, true); }
  Field& alias(std::string name) {
    add_alias(std::move(name));
    return *this;
  }
  Field& applies_when(Rule rule) {
    add_rule(std::move(rule));
    return *this;
  }
  Field& one_of(std::vector<std::string> choices) {
    choices_ = [choices = std::move(choices)] { return choices; };
    return *this;
  }
  // Choices read when the value is checked: the names a registry holds then, plugins' included.
  Field& one_of(std::function<std::vector<std::string>()> names) {
    choices_ = std::move(names);
    return *this;
  }

  const char* type_name() const override;
  std::string default_text() const override;
  std::string constraint_text() const override;
  void set_default(Experiment& e) const override { get_(e) = default_; }
  std::string parse(const YAML::Node& node, Experiment& e) const override;
  std::string check(const Experiment& e) const override;
  std::string value_text(const Experiment& e) const override;
  std::string parse_scalar(const YAML::Node& node, Experiment& e) const;

  const T& get(const Experiment& e) const { return get_(const_cast<Experiment&>(e)); }
  std::vector<std::string> choices() const { return choices_ ? choices_() : std::vector<std::string>{}; }

 private:
  struct Bound {
    Item value;
    bool exclusive;
  };
  Field& bound(std::optional<Bound>& slot, Item v, bool exclusive) {
    slot = Bound{v, exclusive};
    return *this;
  }

  Accessor get_;
  T default_;
  std::optional<Bound> low_, high_;
  std::function<std::vector<std::string>()> choices_;
};

// The text of a closed choice read from a YAML scalar: its index in `names`, or what is wrong
// ("'task' must be one of lm, translation, got 'lmm' (did you mean 'lm'?)").
std::string parse_choice(const std::string& key, const YAML::Node& node, const std::vector<std::string>& names,
                         std::size_t& index);

// A closed choice (task, data.kind, data.synthetic.task) parsed into its enum once, when the file
// is read: the code compares enum values, never strings. E has EnumNames<E> (train/config/experiment.h).
template <typename E>
class EnumField final : public FieldBase {
 public:
  using Accessor = std::function<E&(Experiment&)>;
  EnumField(std::string key, Accessor get, E def, std::string help)
      : FieldBase(std::move(key), std::move(help)), get_(std::move(get)), default_(def) {}
  EnumField& applies_when(Rule rule) {
    add_rule(std::move(rule));
    return *this;
  }

  const char* type_name() const override { return "string"; }
  std::string default_text() const override { return name(default_); }
  std::string constraint_text() const override {
    std::string out = "one of: ";
    for (std::size_t i = 0; i < names().size(); ++i) out += (i ? ", " : "") + names()[i];
    return out;
  }
  void set_default(Experiment& e) const override { get_(e) = default_; }
  std::string parse(const YAML::Node& node, Experiment& e) const override {
    std::size_t index = 0;
    std::string why = parse_choice(key(), node, names(), index);
    if (why.empty()) get_(e) = static_cast<E>(index);
    return why;
  }
  std::string check(const Experiment&) const override { return ""; }  // every enum value is a name
  std::string value_text(const Experiment& e) const override { return name(get_(const_cast<Experiment&>(e))); }

 private:
  static const std::vector<std::string>& names() {
    static const std::vector<std::string> n(std::begin(EnumNames<E>::names), std::end(EnumNames<E>::names));
    return n;
  }
  Accessor get_;
  E default_;
};

class Schema {
 public:
  template <typename E>
  EnumField<E>& choice(std::string key, typename EnumField<E>::Accessor get, E def, std::string help) {
    auto f = std::make_unique<EnumField<E>>(std::move(key), std::move(get), def, std::move(help));
    EnumField<E>& ref = *f;
    add_field(std::move(f));
    return ref;
  }
  Field<std::int64_t>& integer(std::string key, Field<std::int64_t>::Accessor get, std::int64_t def, std::string help);
  Field<double>& number(std::string key, Field<double>::Accessor get, double def, std::string help);
  Field<bool>& boolean(std::string key, Field<bool>::Accessor get, bool def, std::string help);
  Field<std::string>& string(std::string key, Field<std::string>::Accessor get, std::string def, std::string help);
  // A list of strings: YAML `[a, b]`, or one string for a list of one.
  Field<std::vector<std::string>>& strings(std::string key, Field<std::vector<std::string>>::Accessor get,
                                           std::vector<std::string> def, std::string help);
  // A list of numbers: YAML `[0.5, 0.9]`, or one number for a list of one. Bounds apply to each.
  Field<std::vector<double>>& numbers(std::string key, Field<std::vector<double>>::Accessor get,
                                      std::vector<double> def, std::string help);

  const std::vector<std::unique_ptr<FieldBase>>& fields() const { return fields_; }
  const FieldBase* find(const std::string& key) const;
  // True when some field lives under `prefix.` ("" is the root).
  bool is_section(const std::string& prefix) const;
  // The names directly under a section: "optim" -> lr, momentum, ...; "" -> task, data, model, ...
  std::vector<std::string> children(const std::string& prefix) const;
  std::vector<std::string> keys() const;

  Experiment defaults() const;

 private:
  template <typename T>
  Field<T>& add(std::unique_ptr<Field<T>> f);
  void add_field(std::unique_ptr<FieldBase> f);  // refuses a key declared twice
  std::vector<std::unique_ptr<FieldBase>> fields_;
};

// Formats a double the way the resolved config writes it: the shortest text that reads back to the
// same value (0.001, 3e-05, 1).
std::string format_number(double v);

}  // namespace kat
