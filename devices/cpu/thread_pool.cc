#include "devices/cpu/thread_pool.h"

#include <algorithm>

namespace tg::cpu {

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) helpers_.emplace_back([this] { serve(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& t : helpers_) t.join();
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n < 2 || helpers_.empty()) {
    if (n > 0) fn(0, n);
    return;
  }
  std::unique_lock lock(mu_);
  fn_ = &fn;
  n_ = n;
  chunks_ = pending_ = std::min<int64_t>(n, threads());
  next_ = 0;
  work_.notify_all();
  run_chunks(lock);
  done_.wait(lock, [&] { return pending_ == 0; });
  fn_ = nullptr;
  chunks_ = next_ = 0;
}

void ThreadPool::run_chunks(std::unique_lock<std::mutex>& lock) {
  while (next_ < chunks_) {
    const int64_t chunk = next_++;
    const auto* fn = fn_;
    const int64_t begin = chunk * n_ / chunks_, end = (chunk + 1) * n_ / chunks_;
    lock.unlock();
    (*fn)(begin, end);
    lock.lock();
    if (--pending_ == 0) done_.notify_all();
  }
}

void ThreadPool::serve() {
  std::unique_lock lock(mu_);
  while (true) {
    work_.wait(lock, [&] { return stopping_ || next_ < chunks_; });
    if (stopping_) return;
    run_chunks(lock);
  }
}

}  // namespace tg::cpu
