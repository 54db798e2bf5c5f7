#include "layers/extension_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace kat {
namespace {

std::string number_text(double v) {
  // The shortest text that reads back to the same value.
  for (int digits = 1; digits <= 17; ++digits) {
    const std::string s = fmt::format("{:.{}g}", v, digits);
    if (std::strtod(s.c_str(), nullptr) == v) return s;
  }
  return fmt::format("{}", v);
}

bool parse_integer(const std::string& text, std::int64_t& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  out = v;
  return true;
}

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

bool parse_boolean(const std::string& text, bool& out) {
  if (text == "true" || text == "yes" || text == "on") return out = true, true;
  if (text == "false" || text == "no" || text == "off") return out = false, true;
  return false;
}

}  // namespace

const char* option_type_name(OptionType type) {
  switch (type) {
    case OptionType::integer: return "integer";
    case OptionType::number: return "number";
    case OptionType::boolean: return "boolean";
    case OptionType::string: return "string";
  }
  return "?";
}

OptionSpec integer_option(std::string name, std::int64_t default_value, std::string help,
                          std::optional<std::int64_t> min, std::optional<std::int64_t> max) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::integer;
  s.default_value = std::to_string(default_value);
  s.help = std::move(help);
  if (min) s.min = static_cast<double>(*min);
  if (max) s.max = static_cast<double>(*max);
  return s;
}

OptionSpec number_option(std::string name, double default_value, std::string help, std::optional<double> min,
                         std::optional<double> max) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::number;
  s.default_value = number_text(default_value);
  s.help = std::move(help);
  s.min = min;
  s.max = max;
  return s;
}

OptionSpec boolean_option(std::string name, bool default_value, std::string help) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::boolean;
  s.default_value = default_value ? "true" : "false";
  s.help = std::move(help);
  return s;
}

OptionSpec string_option(std::string name, std::string default_value, std::string help,
                         std::vector<std::string> choices) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = OptionType::string;
  s.default_value = std::move(default_value);
  s.help = std::move(help);
  s.choices = std::move(choices);
  return s;
}

std::string option_constraint(const OptionSpec& spec) {
  if (!spec.choices.empty()) return fmt::format("one of: {}", fmt::join(spec.choices, ", "));
  if (spec.min && spec.max) return fmt::format("in [{}, {}]", number_text(*spec.min), number_text(*spec.max));
  if (spec.min) return fmt::format(">= {}", number_text(*spec.min));
  if (spec.max) return fmt::format("<= {}", number_text(*spec.max));
  return "";
}

std::string check_option(const OptionSpec& spec, const std::string& text, std::string* canonical) {
  const auto expects = [&](const char* what) {
    return fmt::format("'{}' expects {}, got '{}'", spec.name, what, text);
  };
  const auto in_range = [&](double v) -> std::string {
    if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
      return fmt::format("'{}' must be {}, got {}", spec.name, option_constraint(spec), text);
    }
    return "";
  };
  std::string out;
  switch (spec.type) {
    case OptionType::integer: {
      std::int64_t v = 0;
      if (!parse_integer(text, v)) return expects("an integer");
      if (auto why = in_range(static_cast<double>(v)); !why.empty()) return why;
      out = std::to_string(v);
      break;
    }
    case OptionType::number: {
      double v = 0;
      if (!parse_number(text, v)) return expects("a number");
      if (auto why = in_range(v); !why.empty()) return why;
      out = number_text(v);
      break;
    }
    case OptionType::boolean: {
      bool v = false;
      if (!parse_boolean(text, v)) return expects("true or false");
      out = v ? "true" : "false";
      break;
    }
    case OptionType::string:
      if (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        return fmt::format("'{}' must be one of {}, got '{}'", spec.name, fmt::join(spec.choices, ", "), text);
      }
      out = text;
      break;
  }
  if (canonical != nullptr) *canonical = out;
  return "";
}

const std::string& OptionValues::text(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) throw Error(fmt::format("option '{}' has no value (was it declared?)", name));
  return it->second;
}

std::int64_t OptionValues::integer(const std::string& name) const {
  std::int64_t v = 0;
  if (!parse_integer(text(name), v)) throw Error(fmt::format("option '{}': '{}' is not an integer", name, text(name)));
  return v;
}

double OptionValues::number(const std::string& name) const {
  double v = 0;
  if (!parse_number(text(name), v)) throw Error(fmt::format("option '{}': '{}' is not a number", name, text(name)));
  return v;
}

bool OptionValues::boolean(const std::string& name) const {
  bool v = false;
  if (!parse_boolean(text(name), v))
    throw Error(fmt::format("option '{}': '{}' is not true or false", name, text(name)));
  return v;
}

const std::string& OptionValues::string(const std::string& name) const { return text(name); }

}  // namespace kat
