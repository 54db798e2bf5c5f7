#include "train/config/config_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/error.h"
#include "train/config/config_error.h"

namespace kat {

std::string format_number(double v) {
  std::string s = fmt::format("{}", v);
  // fmt writes integral doubles as "1"; keep a number that YAML and people read as real.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

namespace {

std::string node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "'" + n.Scalar() + "'";
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool parse_value(const std::string& s, std::int64_t& out) {
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data() + (!s.empty() && s[0] == '+' ? 1 : 0), end, out);
  return ec == std::errc() && ptr == end && !s.empty();
}

bool parse_value(const std::string& s, double& out) {
  if (s.empty()) return false;
  const std::string l = lower(s);
  if (l == ".inf" || l == "+.inf" || l == "-.inf" || l == ".nan") return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

bool parse_value(const std::string& s, bool& out) {
  const std::string l = lower(s);
  if (l == "true" || l == "yes" || l == "on") {
    out = true;
    return true;
  }
  if (l == "false" || l == "no" || l == "off") {
    out = false;
    return true;
  }
  return false;
}

bool parse_value(const std::string& s, std::string& out) {
  out = s;
  return true;
}

using Strings = std::vector<std::string>;
using Numbers = std::vector<double>;

// A name or path: a NUL would silently cut a path where the system reads it, and other control
// characters are never part of a name a user means. "" when it is printable.
std::string control_character(const std::string& key, const std::string& v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7f) {
      return fmt::format(
          "'{}' holds a control character (byte {:#04x} at position {}); names and paths are "
          "printable text",
          key, c, i + 1);
    }
  }
  return "";
}

std::string choice_error(const std::string& key, const std::string& v, const Strings& choices) {
  if (choices.empty() || std::find(choices.begin(), choices.end(), v) != choices.end()) return "";
  const std::string near = closest_match(v, choices);
  return fmt::format("'{}' must be one of {}, got '{}'{}", key, fmt::join(choices, ", "), v,
                     near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
}

template <typename T>
std::string text_of(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, double>) {
    return format_number(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v;
  } else if constexpr (std::is_same_v<T, Numbers>) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + format_number(v[i]);
    return out + "]";
  } else if constexpr (std::is_same_v<T, Strings>) {
    // A YAML flow list of double-quoted strings.
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
      YAML::Emitter em;
      em << YAML::DoubleQuoted << v[i];
      out += (i ? ", " : "") + std::string(em.c_str());
    }
    return out + "]";
  } else {
    return std::to_string(v);
  }
}

}  // namespace

template <typename T>
const char* Field<T>::type_name() const {
  if constexpr (std::is_same_v<T, bool>) return "boolean";
  if constexpr (std::is_same_v<T, double>) return "number";
  if constexpr (std::is_same_v<T, std::string>) return "string";
  if constexpr (std::is_same_v<T, Strings>) return "list";
  if constexpr (std::is_same_v<T, Numbers>) return "list of numbers";
  return "integer";
}

template <typename T>
std::string Field<T>::default_text() const {
  if constexpr (std::is_same_v<T, std::string>) {
    if (default_.empty()) return "\"\"";
  }
  return text_of(default_);
}

template <typename T>
std::string Field<T>::constraint_text() const {
  if (const auto choices = this->choices(); !choices.empty())
    return fmt::format("one of: {}", fmt::join(choices, ", "));
  if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double> || std::is_same_v<T, Numbers>) {
    const char* each = std::is_same_v<T, Numbers> ? "each " : "";
    if (low_ && high_) {
      return fmt::format("{}in {}{}, {}{}", each, low_->exclusive ? "(" : "[", text_of(low_->value),
                         text_of(high_->value), high_->exclusive ? ")" : "]");
    }
    if (low_) return fmt::format("{}{} {}", each, low_->exclusive ? ">" : ">=", text_of(low_->value));
    if (high_) return fmt::format("{}{} {}", each, high_->exclusive ? "<" : "<=", text_of(high_->value));
  }
  return "";
}

template <typename T>
std::string Field<T>::parse(const YAML::Node& node, Experiment& e) const {
  if constexpr (std::is_same_v<T, Strings>) {
    // A list of strings, or one string for a list of one.
    Strings value;
    if (node.IsScalar()) {
      value.push_back(node.Scalar());
    } else if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!item.IsScalar())
          return fmt::format("'{}' expects a list of strings, got {} in it", key(), node_kind(item));
        value.push_back(item.Scalar());
      }
    } else if (!node.IsNull()) {
      return fmt::format("'{}' expects a list of strings, got {}", key(), node_kind(node));
    }
    get_(e) = std::move(value);
    return "";
  } else if constexpr (std::is_same_v<T, Numbers>) {
    // A list of numbers, or one number for a list of one.
    Numbers value;
    const auto take = [&](const YAML::Node& item) {
      double x = 0;
      if (!item.IsScalar() || !parse_value(item.Scalar(), x)) return false;
      value.push_back(x);
      return true;
    };
    if (node.IsScalar()) {
      if (!take(node)) return fmt::format("'{}' expects a list of numbers, got {}", key(), node_kind(node));
    } else if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!take(item)) return fmt::format("'{}' expects a list of numbers, got {} in it", key(), node_kind(item));
      }
    } else if (!node.IsNull()) {
      return fmt::format("'{}' expects a list of numbers, got {}", key(), node_kind(node));
    }
    get_(e) = std::move(value);
    return "";
  } else {
    return parse_scalar(node, e);
  }
}

template <typename T>
std::string Field<T>::parse_scalar(const YAML::Node& node, Experiment& e) const {
  if constexpr (std::is_same_v<T, Strings> || std::is_same_v<T, Numbers>) {
    return parse(node, e);
  } else {
    const char* expected = std::is_same_v<T, std::int64_t> ? "an integer"
                           : std::is_same_v<T, double>     ? "a number"
                           : std::is_same_v<T, bool>       ? "true or false"
                                                           : "a string";
    if (!node.IsScalar()) return fmt::format("'{}' expects {}, got {}", key(), expected, node_kind(node));
    T value{};
    if (!parse_value(node.Scalar(), value)) {
      return fmt::format("'{}' expects {}, got {}", key(), expected, node_kind(node));
    }
    get_(e) = std::move(value);
    return "";
  }
}

template <typename T>
std::string Field<T>::check(const Experiment& e) const {
  const T& v = get(e);
  // Whether one number falls outside the field's range (scalars and every item of a list).
  const auto outside = [&](auto x) {
    return (low_ && (low_->exclusive ? !(x > low_->value) : !(x >= low_->value))) ||
           (high_ && (high_->exclusive ? !(x < high_->value) : !(x <= high_->value)));
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (auto why = control_character(key(), v); !why.empty()) return why;
    if (auto why = choice_error(key(), v, this->choices()); !why.empty()) return why;
  }
  if constexpr (std::is_same_v<T, Strings>) {
    for (const auto& item : v) {
      if (auto why = control_character(key(), item); !why.empty()) return why;
      if (auto why = choice_error(key(), item, this->choices()); !why.empty()) return why;
    }
  }
  if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
    if (outside(v)) return fmt::format("'{}' must be {}, got {}", key(), constraint_text(), text_of(v));
  }
  if constexpr (std::is_same_v<T, Numbers>) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (outside(v[i])) {
        return fmt::format("'{}' must be a list of numbers {}, got {} (item {})", key(), constraint_text(),
                           format_number(v[i]), i + 1);
      }
    }
  }
  return "";
}

template <typename T>
std::string Field<T>::value_text(const Experiment& e) const {
  return text_of(get(e));
}

template class Field<std::int64_t>;
template class Field<double>;
template class Field<bool>;
template class Field<std::string>;
template class Field<Strings>;
template class Field<Numbers>;

template <typename T>
Field<T>& Schema::add(std::unique_ptr<Field<T>> f) {
  Field<T>& ref = *f;
  add_field(std::move(f));
  return ref;
}

void Schema::add_field(std::unique_ptr<FieldBase> f) {
  if (find(f->key())) throw Error(fmt::format("schema: key '{}' declared twice", f->key()));
  fields_.push_back(std::move(f));
}

std::string parse_choice(const std::string& key, const YAML::Node& node, const std::vector<std::string>& names,
                         std::size_t& index) {
  if (!node.IsScalar()) return fmt::format("'{}' expects a string, got {}", key, node_kind(node));
  const std::string& v = node.Scalar();
  if (auto why = control_character(key, v); !why.empty()) return why;
  const auto it = std::find(names.begin(), names.end(), v);
  if (it == names.end()) return choice_error(key, v, names);
  index = static_cast<std::size_t>(it - names.begin());
  return "";
}

Field<std::int64_t>& Schema::integer(std::string key, Field<std::int64_t>::Accessor get, std::int64_t def,
                                     std::string help) {
  return add(std::make_unique<Field<std::int64_t>>(std::move(key), std::move(get), def, std::move(help)));
}
Field<double>& Schema::number(std::string key, Field<double>::Accessor get, double def, std::string help) {
  return add(std::make_unique<Field<double>>(std::move(key), std::move(get), def, std::move(help)));
}
Field<bool>& Schema::boolean(std::string key, Field<bool>::Accessor get, bool def, std::string help) {
  return add(std::make_unique<Field<bool>>(std::move(key), std::move(get), def, std::move(help)));
}
Field<std::string>& Schema::string(std::string key, Field<std::string>::Accessor get, std::string def,
                                   std::string help) {
  return add(std::make_unique<Field<std::string>>(std::move(key), std::move(get), std::move(def), std::move(help)));
}
Field<Strings>& Schema::strings(std::string key, Field<Strings>::Accessor get, Strings def, std::string help) {
  return add(std::make_unique<Field<Strings>>(std::move(key), std::move(get), std::move(def), std::move(help)));
}

Field<Numbers>& Schema::numbers(std::string key, Field<Numbers>::Accessor get, Numbers def, std::string help) {
  return add(std::make_unique<Field<Numbers>>(std::move(key), std::move(get), std::move(def), std::move(help)));
}

const FieldBase* Schema::find(const std::string& key) const {
  for (const auto& f : fields_) {
    if (f->key() == key) return f.get();
  }
  return nullptr;
}

bool Schema::is_section(const std::string& prefix) const {
  if (prefix.empty()) return true;
  for (const auto& f : fields_) {
    if (f->key().size() > prefix.size() && f->key().compare(0, prefix.size(), prefix) == 0 &&
        f->key()[prefix.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::vector<std::string> Schema::children(const std::string& prefix) const {
  std::vector<std::string> out;
  const std::string head = prefix.empty() ? "" : prefix + ".";
  for (const auto& f : fields_) {
    if (f->key().compare(0, head.size(), head) != 0) continue;
    const std::string rest = f->key().substr(head.size());
    const std::string name = rest.substr(0, rest.find('.'));
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::vector<std::string> Schema::keys() const {
  std::vector<std::string> out;
  for (const auto& f : fields_) out.push_back(f->key());
  return out;
}

Experiment Schema::defaults() const {
  Experiment e;
  for (const auto& f : fields_) f->set_default(e);
  return e;
}

}  // namespace kat
