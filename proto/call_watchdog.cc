#include "call_watchdog.h"

namespace tg {

CallWatchdog::CallWatchdog() : thread_([this] { run(); }) {}

CallWatchdog::~CallWatchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

uint64_t CallWatchdog::arm(grpc::ClientContext* context, Clock::time_point deadline) {
  bool earlier = false;
  uint64_t ticket = 0;
  {
    std::lock_guard lock(mu_);
    ticket = next_ticket_++;
    watched_.emplace(ticket, Watched{context, deadline});
    earlier = deadline < next_look_;
    if (earlier) next_look_ = deadline;
  }
  if (earlier) wake_.notify_one();
  return ticket;
}

bool CallWatchdog::disarm(uint64_t ticket) {
  std::lock_guard lock(mu_);
  watched_.erase(ticket);
  return fired_.erase(ticket) > 0;
}

void CallWatchdog::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    Clock::time_point earliest = Clock::time_point::max();
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (it->second.deadline <= now) {
        it->second.context->TryCancel();
        fired_.insert(it->first);
        it = watched_.erase(it);
      } else {
        earliest = std::min(earliest, it->second.deadline);
        ++it;
      }
    }
    next_look_ = earliest;
    if (earliest == Clock::time_point::max()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, earliest);
    }
  }
}

}  // namespace tg
