#include "daemon/call_watch.h"

#include <vector>

#include <absl/strings/str_cat.h>

namespace tg {

CallWatch::Scope::~Scope() {
  if (owner_ != nullptr) owner_->unwatch(id_);
}

CallWatch::CallWatch() : poller_([this] { poll(); }) {}

CallWatch::~CallWatch() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  poller_.join();
}

std::unique_ptr<CallWatch::Scope> CallWatch::watch(const grpc::ServerContextBase* call,
                                                   std::shared_ptr<CancelToken> token,
                                                   std::string what) {
  if (call == nullptr) return std::make_unique<Scope>(nullptr, 0);
  uint64_t id = 0;
  bool asleep = false;
  {
    std::lock_guard lock(mu_);
    id = next_++;
    asleep = sleeping_;
    last_watch_ = std::chrono::steady_clock::now();
    watched_.emplace(id, Watched{call, std::move(token), std::move(what)});
  }
  if (asleep) wake_.notify_all();
  return std::make_unique<Scope>(this, id);
}

void CallWatch::unwatch(uint64_t id) {
  std::lock_guard lock(mu_);
  watched_.erase(id);
}

void CallWatch::poll() {
  std::unique_lock lock(mu_);
  while (true) {
    if (watched_.empty() && std::chrono::steady_clock::now() - last_watch_ >= kIdleGrace) {
      sleeping_ = true;
      wake_.wait(lock, [&] { return stopping_ || !watched_.empty(); });
      sleeping_ = false;
    }
    if (stopping_) return;
    std::vector<std::pair<std::shared_ptr<CancelToken>, absl::Status>> ended;
    const auto now = std::chrono::system_clock::now();
    for (const auto& [id, watched] : watched_) {
      if (watched.token->cancelled()) continue;
      // gRPC cancels a call whose deadline passed on its own timer, which may fire before
      // this poll sees the deadline: a cancelled call at its deadline ran out of time.
      const bool out_of_time = watched.call->deadline() <= now ||
                               (watched.call->IsCancelled() &&
                                watched.call->deadline() <= now + kPollInterval);
      if (out_of_time) {
        ended.emplace_back(watched.token,
                           absl::DeadlineExceededError(absl::StrCat(
                               "deadline exceeded: the caller's deadline for ", watched.what,
                               " passed")));
      } else if (watched.call->IsCancelled()) {
        ended.emplace_back(watched.token,
                           absl::CancelledError(absl::StrCat("cancelled: the caller of ",
                                                             watched.what, " gave up")));
      }
    }
    // Cancelled outside the lock: a token's callbacks may take their time.
    lock.unlock();
    for (auto& [token, why] : ended) token->cancel(std::move(why));
    lock.lock();
    wake_.wait_for(lock, kPollInterval, [&] { return stopping_; });
  }
}

}  // namespace tg
