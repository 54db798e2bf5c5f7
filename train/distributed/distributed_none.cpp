// join_launched_processes() of a kat built without MPI: always a single process, and a clear error
// when an MPI launcher started several.

#include <fmt/format.h>

#include "core/error.h"
#include "train/distributed/distributed.h"

namespace kat {

bool built_with_mpi() { return false; }

std::unique_ptr<Communicator> join_launched_processes() {
  if (const int n = launched_processes(); n > 1) {
    throw Error(fmt::format(
        "this kat was built without MPI, but an MPI launcher started it as one of {} processes: each would train "
        "alone into the same run folder. Install libopenmpi-dev (scripts/install-deps.sh does) and build kat again, "
        "or run a single process",
        n));
  }
  return single_process();
}

}  // namespace kat
