#pragma once
// Ctrl-C (SIGINT) and SIGTERM as a request to stop: while a StopSignal is alive, the first signal
// sets a flag that the trainer reads between steps (it finishes the step, writes a checkpoint and
// returns); a second signal gets the default action and ends the process at once. The flag is the
// one piece of process-wide state here, because a signal handler can reach nothing else.

namespace kat {

class StopSignal {
 public:
  StopSignal();   // installs the handlers and clears the flag
  ~StopSignal();  // restores the previous handlers
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const;
  int signal_number() const;  // the signal received, 0 if none
};

}  // namespace kat
