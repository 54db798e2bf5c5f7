#pragma once
// Ctrl-C (SIGINT), SIGTERM and SIGUSR1 as a request to stop: while a StopSignal is alive, the first
// signal sets a flag that the trainer reads between steps (it finishes the step, writes a
// checkpoint and returns); a second signal gets the default action and ends the process at once.
// The flag is the one piece of process-wide state here, because a signal handler can reach nothing
// else. SIGUSR1 is there for data-parallel runs: Open MPI's mpirun passes it on to every rank as it
// is, whereas on SIGINT or SIGTERM it kills the ranks one second after passing on SIGTERM.
//
// StopSignals nest: the outermost installs the handlers (and clears the flag) and restores the
// previous ones when it ends; inner ones share its flag. `kat train` creates one before anything
// else, so a Ctrl-C during start-up (reading the data, building the model) is kept until the
// trainer's loop sees it and writes its checkpoint.

namespace kat {

class StopSignal {
 public:
  StopSignal();   // the outermost installs the handlers and clears the flag
  ~StopSignal();  // the outermost restores the previous handlers
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const;
  int signal_number() const;  // the signal received, 0 if none
};

}  // namespace kat
