#pragma once
// The processes of a data-parallel run, and the few collective operations its trainer needs
// (docs/distributed.md). `mpirun -np P kat train exp.yaml` starts P processes, the ranks 0..P-1;
// each joins the others with join_launched_processes(). A process that no MPI launcher started,
// or any process of a kat built without MPI, is a run of one: its collective operations change
// nothing and cost nothing.
//
//   std::unique_ptr<Communicator> comm = join_launched_processes();   // MPI_Init when launched
//   std::vector<double> v = {loss_sum, tokens};
//   comm->sum(v);                                                     // the same sums on every rank
//
// Every call is made from the thread that joined (MPI_THREAD_FUNNELED), and every rank makes the
// same collective calls in the same order: that is what MPI asks of collectives.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace kat {

// A sum started by Communicator::start_sum: its buffer belongs to it until wait() returns.
class PendingSum {
 public:
  virtual ~PendingSum() = default;
  // Moves the reduction on without blocking and tells whether it is complete. (MPI advances a
  // nonblocking collective only while the process calls into the library: calling test() now and
  // then during the backward pass keeps the transfer going.)
  virtual bool test() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;              // 0 .. size() - 1; rank 0 writes the run folder
  virtual int size() const = 0;              // processes in the run
  virtual int local_size() const = 0;        // processes of the run on this host
  virtual int hosts() const = 0;             // hosts the run spans
  virtual std::string describe() const = 0;  // for the log: "Open MPI v4.1.4, 2 processes on 1 host"

  // Replaces data on every rank with its sum over the ranks (each passes as many values).
  virtual void sum(std::span<double> data) = 0;
  // Starts summing float data over the ranks, in place, and returns at once.
  virtual std::unique_ptr<PendingSum> start_sum(std::span<float> data) = 0;
  // Copies root's data into every rank's.
  virtual void broadcast(std::span<std::uint64_t> data, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the run at once with this exit code. A rank that meets an error must
  // call this rather than return: the others would wait for it in their next collective forever.
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

// A run of one process.
std::unique_ptr<Communicator> single_process();

// The processes an MPI launcher (mpirun, mpiexec, srun) started together with this one, MPI
// initialized here and finalized when the communicator is destroyed (so: at most one per process,
// held until the last collective call). A process no launcher started gets single_process()
// without MPI being initialized at all. In a kat built without MPI, a process started by a
// launcher among several throws kat::Error: it would otherwise train alone into a folder the others
// write too.
std::unique_ptr<Communicator> join_launched_processes();

// Whether this kat was built with MPI (libopenmpi-dev found at configure time).
bool built_with_mpi();

// The processes the environment says an MPI launcher started (its OMPI_COMM_WORLD_SIZE, PMI_SIZE
// or PMIX_SIZE), or 0 when no launcher started this process.
int launched_processes();

// Threads for one rank when the experiment, --threads and KAT_NUM_THREADS leave it open: the
// cores this process may run on, shared among the ranks on this host unless the launcher has bound
// each rank to its own cores (mpirun binds each rank to a core when there are two or fewer).
int default_threads_per_rank(const Communicator& comm);

}  // namespace kat
