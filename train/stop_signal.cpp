#include "train/stop_signal.h"

#include <atomic>
#include <csignal>

namespace kat {
namespace {

volatile std::sig_atomic_t g_signal = 0;
std::atomic<int> g_depth{0};
struct sigaction g_previous_int, g_previous_term, g_previous_usr1;

extern "C" void on_stop_signal(int sig) { g_signal = sig; }

}  // namespace

StopSignal::StopSignal() {
  if (g_depth.fetch_add(1) > 0) return;
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the second signal takes the default action
  sigaction(SIGINT, &sa, &g_previous_int);
  sigaction(SIGTERM, &sa, &g_previous_term);
  sigaction(SIGUSR1, &sa, &g_previous_usr1);
}

StopSignal::~StopSignal() {
  if (g_depth.fetch_sub(1) > 1) return;
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
  sigaction(SIGUSR1, &g_previous_usr1, nullptr);
}

bool StopSignal::requested() const { return g_signal != 0; }
int StopSignal::signal_number() const { return g_signal; }

}  // namespace kat
