// A fixed set of threads that split one loop at a time: the parallelism of a cpu device's
// kernels. The calling thread works too, so a pool of 1 thread starts no helpers.
// parallel_for may be called by one thread at a time (the one running the device's task).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tg::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(helpers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel, and returns when
  // all have returned. Runs inline when n < 2 or the pool has one thread.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

 private:
  // Runs chunks of the current loop until none is left. Requires `lock` held on mu_.
  void run_chunks(std::unique_lock<std::mutex>& lock);
  void serve();

  std::mutex mu_;
  std::condition_variable work_, done_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, chunks_ = 0, next_ = 0, pending_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> helpers_;
};

}  // namespace tg::cpu
