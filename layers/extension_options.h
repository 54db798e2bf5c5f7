#pragma once
// Options an extension (an attention type, a feature map a plugin registers) declares for itself:
// keys under model.attention that experiment files give like the built-in ones, validated at load
// time from the declaration (type, range, choices; an unknown key gets did-you-mean), and handed
// to the extension's factory by name.
//
//   info.options = {kat::integer_option("nu", 1, "products of features nu apart", 1, 3)};
//   ... in the factory: const std::int64_t n = options.extra.integer("nu");

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kat {

enum class OptionType { integer, number, boolean, string };
const char* option_type_name(OptionType type);  // "integer", "number", "boolean", "string"

struct OptionSpec {
  std::string name;  // the key under model.attention: "nu"
  OptionType type = OptionType::integer;
  std::string default_value;  // as YAML writes it: "1", "0.5", "true", "chi"
  std::string help;
  std::optional<double> min, max;    // integer, number: inclusive bounds
  std::vector<std::string> choices;  // string: the allowed values (empty: any)
};

// The declarations, one per type: name, default, help, then bounds (inclusive) or choices.
OptionSpec integer_option(std::string name, std::int64_t default_value, std::string help,
                          std::optional<std::int64_t> min = std::nullopt,
                          std::optional<std::int64_t> max = std::nullopt);
OptionSpec number_option(std::string name, double default_value, std::string help,
                         std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
OptionSpec boolean_option(std::string name, bool default_value, std::string help);
OptionSpec string_option(std::string name, std::string default_value, std::string help,
                         std::vector<std::string> choices = {});

// "in [1, 3]", ">= 0", "one of: a, b", or "".
std::string option_constraint(const OptionSpec& spec);

// Checks `text` (a YAML scalar) against `spec`: "" when it fits, and the value written back as the
// resolved config writes it in *canonical; else the reason, naming the option.
std::string check_option(const OptionSpec& spec, const std::string& text, std::string* canonical);

// The values of declared options by name, as canonical YAML text (validation fills in the
// defaults, so an extension finds every option it declared).
class OptionValues {
 public:
  std::int64_t integer(const std::string& name) const;
  double number(const std::string& name) const;
  bool boolean(const std::string& name) const;
  const std::string& string(const std::string& name) const;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  bool operator==(const OptionValues& other) const { return values == other.values; }

  std::map<std::string, std::string> values;

 private:
  const std::string& text(const std::string& name) const;
};

}  // namespace kat
