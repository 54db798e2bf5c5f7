#include "train/metrics/signature.h"

#include <string>

namespace kat {

std::string Signature::format(bool short_keys) const {
  std::string out;
  for (const SignatureField& f : fields) {
    if (!out.empty()) out += '|';
    out += short_keys ? f.short_key : f.key;
    out += ':';
    out += f.value;
  }
  return out;
}

std::string signature_version() { return std::string("kat-") + KAT_VERSION; }

Signature signature_start(std::size_t references) {
  Signature s;
  s.fields.push_back({"nrefs", "#", std::to_string(references)});
  return s;
}

void finish_signature(Signature& signature) { signature.fields.push_back({"version", "v", signature_version()}); }

}  // namespace kat
