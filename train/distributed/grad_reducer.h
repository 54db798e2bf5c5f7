#pragma once
// Sums the gradients of a data-parallel step over the ranks, in buckets, each started as soon as
// the backward pass has finished every gradient in it, so that communication overlaps the rest of
// the backward pass (the bucketing of PyTorch's DistributedDataParallel; Li et al. 2020, "PyTorch
// Distributed: Experiences on Accelerating Data Parallel Training", VLDB).
//
//   GradientReducer reducer(comm, params, 4 << 20);
//   optimizer.zero_grad();
//   reducer.arm();            // before the step's last backward
//   loss.backward();          // buckets start from the parameters' grad-ready hooks
//   reducer.finish();         // the rest start; every gradient is now the sum over the ranks
//
// Buckets hold the parameters in reverse order, the order in which backward tends to finish them.
// MPI needs every rank to start its collectives in the same order, whatever order its own backward
// finishes gradients in: a bucket starts only once it is complete and every bucket before it has
// started. A parameter that no rank's backward reached keeps no gradient, as in one process (each
// bucket carries, per parameter, whether the rank has a gradient for it).

#include <cstddef>
#include <memory>
#include <vector>

#include "autograd/variable.h"
#include "train/distributed/distributed.h"

namespace kat {

class GradientReducer {
 public:
  // params: float32 leaves; their grad-ready hooks belong to the reducer until it is destroyed.
  GradientReducer(Communicator& comm, std::vector<Variable> params, std::size_t bucket_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward is the last of the step: its finished gradients start their buckets.
  void arm();
  // Starts the buckets the backward did not (parameters it did not reach, or no backward at all on
  // a rank without rows in this step), waits for all, and writes the sums into the gradients.
  void finish();

  std::size_t buckets() const { return buckets_.size(); }
  // Buckets of the last step that had started before finish() was called.
  std::size_t started_in_backward() const { return started_in_backward_; }

 private:
  struct Bucket {
    std::vector<std::size_t> params;   // indices into params_
    std::vector<std::size_t> offsets;  // of each parameter's gradient in buffer
    std::vector<float> buffer;         // the gradients, then one has-a-gradient flag per parameter
    std::size_t waiting = 0;           // parameters not finished yet in this step
    std::unique_ptr<PendingSum> sum;   // set once started
  };
  void on_ready(std::size_t param);
  void start_ready_buckets();
  void start(Bucket& b);

  Communicator& comm_;
  std::vector<Variable> params_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;  // per parameter
  std::vector<char> ready_;             // per parameter, this step
  bool armed_ = false;
  std::size_t next_to_start_ = 0;
  std::size_t next_to_test_ = 0;
  std::size_t started_in_backward_ = 0;
};

}  // namespace kat
