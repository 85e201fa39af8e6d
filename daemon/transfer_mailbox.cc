#include "daemon/transfer_mailbox.h"

#include <absl/strings/str_cat.h>

namespace tg {

void TransferMailbox::expire(Clock::time_point now) {
  std::erase_if(values_, [&](const auto& entry) { return now - entry.second.second > ttl_; });
}

absl::Status TransferMailbox::put(const std::string& job_id, const std::string& key,
                                  HostTensor value) {
  {
    std::lock_guard lock(mu_);
    const Clock::time_point now = Clock::now();
    expire(now);
    auto [it, fresh] = values_.try_emplace({job_id, key}, std::move(value), now);
    if (!fresh) {
      return absl::AlreadyExistsError(absl::StrCat("transfer '", key, "' of job ", job_id,
                                                   " already holds a value nobody took"));
    }
  }
  arrived_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<HostTensor> TransferMailbox::take(const std::string& job_id, const std::string& key,
                                                 const std::string& sender,
                                                 std::chrono::milliseconds timeout,
                                                 CancelToken* cancel) {
  uint64_t wake = 0;
  if (cancel != nullptr) {
    wake = cancel->on_cancel([this] {
      std::lock_guard lock(mu_);
      arrived_.notify_all();
    });
  }
  absl::StatusOr<HostTensor> result;
  {
    std::unique_lock lock(mu_);
    const auto id = std::make_pair(job_id, key);
    ++waiting_;
    const bool ready = arrived_.wait_for(lock, timeout, [&] {
      return values_.contains(id) || (cancel != nullptr && cancel->cancelled());
    });
    --waiting_;
    if (auto it = values_.find(id); it != values_.end()) {
      result = std::move(it->second.first);
      values_.erase(it);
    } else if (ready) {
      result = cancel->status();
    } else {
      result = absl::DeadlineExceededError(
          absl::StrCat("transfer '", key, "' of job ", job_id, " from ", sender,
                       ": nothing arrived within ", timeout.count(), " ms"));
    }
  }
  if (cancel != nullptr) cancel->remove(wake);
  return result;
}

void TransferMailbox::end_job(const std::string& job_id) {
  std::lock_guard lock(mu_);
  std::erase_if(values_, [&](const auto& entry) { return entry.first.first == job_id; });
  expire(Clock::now());
}

size_t TransferMailbox::waiting() {
  std::lock_guard lock(mu_);
  return waiting_;
}

size_t TransferMailbox::pending() {
  std::lock_guard lock(mu_);
  expire(Clock::now());
  return values_.size();
}

}  // namespace tg
