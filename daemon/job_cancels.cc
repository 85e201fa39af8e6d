#include "daemon/job_cancels.h"

#include <vector>

namespace tg {
namespace {

constexpr std::chrono::seconds kRememberCancelled{60};

}  // namespace

void CancelToken::cancel(absl::Status why) {
  std::vector<std::function<void()>> run;
  std::lock_guard running(running_);
  {
    std::lock_guard lock(mu_);
    if (!status_.ok() || why.ok()) return;
    status_ = std::move(why);
    stopped_.store(true, std::memory_order_relaxed);
    for (auto& [handle, fn] : callbacks_) run.push_back(fn);
  }
  for (auto& fn : run) fn();
}

absl::Status CancelToken::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

uint64_t CancelToken::on_cancel(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (status_.ok()) {
      callbacks_[next_] = std::move(fn);
      return next_++;
    }
  }
  fn();
  return 0;
}

void CancelToken::remove(uint64_t handle) {
  std::lock_guard running(running_);
  std::lock_guard lock(mu_);
  callbacks_.erase(handle);
}

JobCancels::Scope::~Scope() { owner_->leave(job_id_, token_); }

std::unique_ptr<JobCancels::Scope> JobCancels::enter(const std::string& job_id) {
  auto token = std::make_shared<CancelToken>();
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(recent_,
                [&](const auto& entry) { return now - entry.second.second > kRememberCancelled; });
  if (auto it = recent_.find(job_id); it != recent_.end()) token->cancel(it->second.first);
  running_.emplace(job_id, token);
  return std::make_unique<Scope>(this, job_id, token);
}

bool JobCancels::cancel(const std::string& job_id, const std::string& reason) {
  const absl::Status why = absl::CancelledError(
      "cancelled: " + (reason.empty() ? std::string("no reason given") : reason));
  std::vector<std::shared_ptr<CancelToken>> tokens;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(
        recent_, [&](const auto& entry) { return now - entry.second.second > kRememberCancelled; });
    recent_[job_id] = {why, now};
    auto [begin, end] = running_.equal_range(job_id);
    for (auto it = begin; it != end; ++it) tokens.push_back(it->second);
  }
  for (auto& token : tokens) token->cancel(why);
  return !tokens.empty();
}

void JobCancels::leave(const std::string& job_id, const std::shared_ptr<CancelToken>& token) {
  std::lock_guard lock(mu_);
  auto [begin, end] = running_.equal_range(job_id);
  for (auto it = begin; it != end; ++it) {
    if (it->second == token) {
      running_.erase(it);
      return;
    }
  }
}

}  // namespace tg
