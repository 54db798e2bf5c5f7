// A BatchSource that prepares batches on a background thread (see with_prefetch in
// data/loaders.h). The inner source is touched only by the worker while it runs; each queued
// batch carries the inner state just after it, so state() reports the position of what the
// consumer has received, not of what the worker has read ahead.

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "data/loaders.h"

namespace kat {
namespace {

class PrefetchSource : public BatchSource {
 public:
  PrefetchSource(std::unique_ptr<BatchSource> inner, std::size_t depth)
      : inner_(std::move(inner)), depth_(std::max<std::size_t>(depth, 1)) {
    state_ = inner_->state();
    epoch_ = inner_->epoch();
    start();
  }
  ~PrefetchSource() override { stop(); }

  Batch next() override {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || error_; });
    if (queue_.empty()) std::rethrow_exception(error_);
    Item item = std::move(queue_.front());
    queue_.pop_front();
    state_ = std::move(item.state);
    epoch_ = item.epoch;
    space_.notify_one();
    return std::move(item.batch);
  }

  std::int64_t epoch() const override {
    std::lock_guard lock(mutex_);
    return epoch_;
  }

  std::vector<std::int64_t> state() const override {
    std::lock_guard lock(mutex_);
    return state_;
  }

  void set_state(const std::vector<std::int64_t>& state) override {
    stop();
    try {
      inner_->set_state(state);
    } catch (...) {
      inner_->set_state(state_);  // back to where the consumer was
      start();
      throw;
    }
    state_ = inner_->state();
    epoch_ = inner_->epoch();
    start();
  }

 private:
  struct Item {
    Batch batch;
    std::vector<std::int64_t> state;
    std::int64_t epoch;
  };

  void start() {
    queue_.clear();
    error_ = nullptr;
    stopping_ = false;
    worker_ = std::thread([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    space_.notify_all();
    if (worker_.joinable()) worker_.join();
    queue_.clear();
  }

  void run() {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [&] { return stopping_ || queue_.size() < depth_; });
        if (stopping_) return;
      }
      try {
        Item item{inner_->next(), inner_->state(), inner_->epoch()};
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(item));
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
        ready_.notify_one();
        return;
      }
      ready_.notify_one();
    }
  }

  std::unique_ptr<BatchSource> inner_;
  std::size_t depth_;
  mutable std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Item> queue_;
  std::exception_ptr error_;
  bool stopping_ = false;
  std::vector<std::int64_t> state_;
  std::int64_t epoch_ = 0;
  std::thread worker_;
};

}  // namespace

std::unique_ptr<BatchSource> with_prefetch(std::unique_ptr<BatchSource> inner, std::size_t depth) {
  if (!inner) throw Error("with_prefetch: no source to wrap");
  return std::make_unique<PrefetchSource>(std::move(inner), depth);
}

}  // namespace kat
