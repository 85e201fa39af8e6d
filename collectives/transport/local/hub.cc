#include "collectives/transport/local/hub.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>


namespace tg::coll::local {

LocalHub::LocalHub(std::vector<uint32_t> ranks) : ranks_(std::move(ranks)) {
  for (uint32_t a : ranks_) {
    boards_.try_emplace(a);
    for (uint32_t b : ranks_) {
      if (a != b) channels_.try_emplace({a, b});
    }
  }
}

Channel& LocalHub::channel(uint32_t from, uint32_t to) { return channels_.at({from, to}); }

Board& LocalHub::board(uint32_t rank) { return boards_.at(rank); }

absl::Status LocalHub::attach(uint32_t rank, std::shared_ptr<Doorbell> doorbell,
                              std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  doorbells_[rank] = std::move(doorbell);
  attached_cv_.notify_all();
  if (!attached_cv_.wait_until(lock, deadline, [&] { return doorbells_.size() == ranks_.size(); })) {
    std::vector<uint32_t> missing;
    for (uint32_t r : ranks_) {
      if (!doorbells_.count(r)) missing.push_back(r);
    }
    return absl::DeadlineExceededError(
        absl::StrCat("local ranks ", absl::StrJoin(missing, ","), " never joined"));
  }
  return absl::OkStatus();
}

std::shared_ptr<Doorbell> LocalHub::doorbell(uint32_t rank) {
  std::lock_guard<std::mutex> lock(mu_);
  return doorbells_.at(rank);
}

void LocalHub::fail(uint32_t culprit, uint32_t reporter) {
  std::vector<std::shared_ptr<Doorbell>> bells;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_.load(std::memory_order_relaxed)) return;
    culprit_ = culprit;
    reporter_ = reporter;
    failed_.store(true, std::memory_order_release);
    for (auto& [rank, bell] : doorbells_) bells.push_back(bell);
  }
  for (const auto& bell : bells) bell->ring();
}

}  // namespace tg::coll::local
