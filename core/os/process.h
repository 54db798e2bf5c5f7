#pragma once
// Starting another program (gnuplot, mod2imp, the install script) without a shell: the program
// and its arguments are passed as they are, so no byte of an argument, a title or a path is ever
// read as a command.

#include <string>
#include <vector>

namespace kat {

struct ProcessOptions {
  std::string input;            // written to the program's standard input, which is then closed
  int stdout_fd = -1;           // its standard output goes to this descriptor; -1: captured
  bool discard_stderr = false;  // its standard error to /dev/null instead of kat's
};

struct ProcessResult {
  bool started = false;  // false: the program was not found or could not be run
  int exit_code = -1;    // when it exited
  int signal = 0;        // when a signal ended it
  std::string output;    // its standard output, when captured
  bool ok() const { return started && signal == 0 && exit_code == 0; }
};

// Runs argv[0] (looked up on PATH) with argv and waits for it. Throws kat::SystemError only when
// the pipes cannot be made; a missing program gives started = false.
ProcessResult run_program(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Whether `name` is an executable file in one of PATH's folders.
bool program_on_path(const std::string& name);

}  // namespace kat
