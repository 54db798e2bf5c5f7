// The communicator of a run started by an MPI launcher: MPI_COMM_WORLD through MPI's C interface.
// Errors inside MPI keep MPI's default handler, MPI_ERRORS_ARE_FATAL: a failed collective (a peer
// that died) ends the whole run rather than leave a rank waiting.

#include <fmt/format.h>
#include <mpi.h>

#include <cstdlib>
#include <limits>

#include "core/error.h"
#include "train/distributed/distributed.h"

namespace kat {
namespace {

class MpiPending final : public PendingSum {
 public:
  MpiPending() = default;
  ~MpiPending() override {
    // A reduction must complete before its buffer goes away; never leave one behind.
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  MPI_Request* request() { return &request_; }
  bool test() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    MPI_Test(&request_, &done, MPI_STATUS_IGNORE);
    return done != 0;
  }
  void wait() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }

 private:
  MPI_Request request_ = MPI_REQUEST_NULL;
};

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      throw Error(
          "MPI: the library does not provide MPI_THREAD_FUNNELED (calls from the main thread while others run)");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    int local_rank = 0;
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_rank(local, &local_rank);
    MPI_Comm_free(&local);
    int first_on_host = local_rank == 0 ? 1 : 0;
    MPI_Allreduce(&first_on_host, &hosts_, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    library_.assign(version, static_cast<std::size_t>(length));
    library_ = library_.substr(0, library_.find_first_of(",\n"));  // "Open MPI v4.1.4, package: ..."
  }
  ~MpiWorld() override { MPI_Finalize(); }
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  int hosts() const override { return hosts_; }
  std::string describe() const override {
    return fmt::format("{}, {} processes on {} host{}", library_, size_, hosts_, hosts_ == 1 ? "" : "s");
  }

  void sum(std::span<double> data) override {
    MPI_Allreduce(MPI_IN_PLACE, data.data(), count(data.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  }
  std::unique_ptr<PendingSum> start_sum(std::span<float> data) override {
    auto pending = std::make_unique<MpiPending>();
    MPI_Iallreduce(MPI_IN_PLACE, data.data(), count(data.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                   pending->request());
    return pending;
  }
  void broadcast(std::span<std::uint64_t> data, int root) override {
    MPI_Bcast(data.data(), count(data.size()), MPI_UINT64_T, root, MPI_COMM_WORLD);
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this satisfies [[noreturn]]
  }

 private:
  static int count(std::size_t n) {
    if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      throw Error(fmt::format("MPI: a buffer of {} values is more than one call can reduce", n));
    }
    return static_cast<int>(n);
  }

  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
  int hosts_ = 1;
  std::string library_;
};

}  // namespace

bool built_with_mpi() { return true; }

std::unique_ptr<Communicator> join_launched_processes() {
  if (launched_processes() == 0) return single_process();
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) throw Error("MPI: this process has joined its run already (one communicator per process)");
  return std::make_unique<MpiWorld>();
}

}  // namespace kat
