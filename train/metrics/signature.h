#pragma once
// The reproducibility signature of a score, in sacreBLEU 2.x's form:
// "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:kat-0.1.0". The version names kat's own
// (kat-<version>), so a signature never passes for one sacreBLEU printed.

#include <string>
#include <vector>

namespace kat {

struct SignatureField {
  std::string key;        // "nrefs"
  std::string short_key;  // "#", sacreBLEU's abbreviation for --short
  std::string value;      // "1"
};

struct Signature {
  std::vector<SignatureField> fields;  // in order, the version last

  // "key:value|key:value|...", or with the short keys.
  std::string format(bool short_keys = false) const;
};

// "kat-0.1.0": the version field of every signature.
std::string signature_version();

// The fields every metric starts with: "nrefs". A metric appends its own, then the version.
Signature signature_start(std::size_t references);
void finish_signature(Signature& signature);

}  // namespace kat
