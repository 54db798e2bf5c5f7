#include "train/distributed/distributed.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace kat {
namespace {

class SinglePending final : public PendingSum {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  int hosts() const override { return 1; }
  std::string describe() const override { return "a single process"; }
  void sum(std::span<double>) override {}
  std::unique_ptr<PendingSum> start_sum(std::span<float>) override { return std::make_unique<SinglePending>(); }
  void broadcast(std::span<std::uint64_t>, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int exit_code) override { std::exit(exit_code); }
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end != nullptr && *end == '\0' && n >= 0 && n < (1L << 30) ? static_cast<int>(n) : -1;
}

}  // namespace

std::unique_ptr<Communicator> single_process() { return std::make_unique<SingleProcess>(); }

int launched_processes() {
  // Open MPI's mpirun, MPICH's and Intel MPI's Hydra, MVAPICH.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"}) {
    if (const int n = env_int(name); n > 0) return n;
  }
  // A PMIx launcher (srun --mpi=pmix) names this process's rank only.
  if (const int r = env_int("PMIX_RANK"); r >= 0) return r + 1;
  return 0;
}

int default_threads_per_rank(const Communicator& comm) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int allowed = cores;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) allowed = std::max(1, CPU_COUNT(&set));
  // Bound by the launcher to a part of the host: those cores are this rank's own.
  if (allowed < cores) return allowed;
  return std::max(1, cores / std::max(1, comm.local_size()));
}

}  // namespace kat
