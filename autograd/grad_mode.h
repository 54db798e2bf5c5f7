#pragma once
// Whether ops record the graph for backward. Thread-local; switched off by NoGradGuard (RAII),
// e.g. for evaluation, generation and optimizer updates.

namespace kat {

bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool saved_;
};

}  // namespace kat
