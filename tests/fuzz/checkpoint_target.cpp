#include <cstring>

#include "core/error.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/temp_file.h"
#include "train/run_folder/checkpoint.h"

namespace kat::fuzz {
namespace {

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == 0 || std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

bool same_tensors(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    if (it == b.end() || !same_tensor(t, it->second)) return false;
  }
  return true;
}

}  // namespace

bool checkpoint_input(std::span<const std::uint8_t> data) {
  const TempFile file(as_text(data), ".ckpt.h5");
  Checkpoint c;
  try {
    c = read_checkpoint(file.path());
  } catch (const Error& e) {
    expect(std::string_view(e.what()).starts_with("checkpoint " + file.path() + ": "),
           std::string("checkpoint error without the file: ") + e.what());
    return false;
  }
  expect(c.progress.step >= 0, "checkpoint read with a negative step");
  // Written again and read back: the same checkpoint.
  const TempFile copy("", ".copy.h5");
  write_checkpoint(copy.path(), c);
  const Checkpoint back = read_checkpoint(copy.path());
  expect(same_tensors(c.model, back.model) && same_tensors(c.optimizer.slots, back.optimizer.slots),
         "tensors differ after a write and a read");
  expect(c.config == back.config && c.optimizer.kind == back.optimizer.kind && c.data_kind == back.data_kind &&
             c.data_state == back.data_state && c.schedule.type == back.schedule.type &&
             c.progress.step == back.progress.step,
         "checkpoint fields differ after a write and a read");
  return true;
}

}  // namespace kat::fuzz
