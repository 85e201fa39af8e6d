#include "collectives/transport/context.h"

#include <algorithm>
#include <set>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

namespace tg::coll {
namespace {

// Busy-polling this long before sleeping in poll() keeps small-message latency low; only
// waits for transfers up to kSpinMaxBytes spin.
constexpr auto kSpin = std::chrono::microseconds(30);
constexpr size_t kSpinMaxBytes = 256 << 10;

}  // namespace

Context::Context(uint32_t rank, uint32_t size, std::chrono::milliseconds timeout)
    : rank_(rank), size_(size), timeout_(timeout), pairs_(size) {
  doorbell_ = std::make_shared<Doorbell>();
  deadline_ = std::chrono::steady_clock::now() + timeout_;
}

Context::~Context() {
  close();
}

void Context::set_pair(uint32_t peer, std::unique_ptr<Pair> pair) { pairs_[peer] = std::move(pair); }

std::string Context::transports() const {
  std::set<std::string> names;
  for (const auto& p : pairs_) {
    if (p) names.insert(p->transport());
  }
  return names.empty() ? "none" : absl::StrJoin(names, "+");
}

absl::Status Context::begin(const std::string& collective, const std::string& algorithm,
                            bool counted) {
  if (cancelled_.load(std::memory_order_acquire)) return take_cancel();
  absl::Status p = poisoned();
  if (!p.ok()) return p;
  if (counted) {
    ++sequence_;
    label_ = absl::StrCat(collective, " #", sequence_, " (", algorithm, ")");
  } else {
    label_ = absl::StrCat(collective, " (", algorithm, ")");
  }
  deadline_ = std::chrono::steady_clock::now() + timeout_;
  return absl::OkStatus();
}

void Context::send(Op& op, uint32_t peer, const void* data, size_t bytes) {
  op.kind = Op::Kind::kSend;
  op.peer = peer;
  op.data = static_cast<std::byte*>(const_cast<void*>(data));
  op.bytes = bytes;
  op.done.store(bytes == 0, std::memory_order_relaxed);
  if (bytes != 0) pairs_[peer]->post(&op);
}

void Context::recv(Op& op, uint32_t peer, void* data, size_t bytes) {
  op.kind = Op::Kind::kRecv;
  op.peer = peer;
  op.data = static_cast<std::byte*>(data);
  op.bytes = bytes;
  op.done.store(bytes == 0, std::memory_order_relaxed);
  if (bytes != 0) pairs_[peer]->post(&op);
}

void Context::recv_reduce(Op& op, uint32_t peer, void* dst, const void* a, size_t bytes,
                          const Reducer& reducer) {
  op.kind = Op::Kind::kRecvReduce;
  op.peer = peer;
  op.data = static_cast<std::byte*>(dst);
  op.a = static_cast<const std::byte*>(a);
  op.bytes = bytes;
  op.reducer = &reducer;
  op.done.store(bytes == 0, std::memory_order_relaxed);
  if (bytes != 0) pairs_[peer]->post(&op);
}

absl::Status Context::progress_all(const Op& waiting) {
  for (auto& p : pairs_) {
    if (!p) continue;
    absl::StatusOr<bool> moved = p->progress();
    if (!moved.ok()) return fail(moved.status(), p->failed_rank(), &waiting);
  }
  return absl::OkStatus();
}

absl::Status Context::wait(Op& op) {
  if (op.is_done()) return absl::OkStatus();
  {
    absl::Status p = poisoned();
    if (!p.ok()) return p;
  }
  // Spin only where latency matters; a large transfer sleeps in poll() and leaves the core
  // to the peer (on a loaded host the peer is often the one we wait for).
  const auto spin = op.bytes <= kSpinMaxBytes ? kSpin : std::chrono::microseconds(0);
  const auto spin_until = std::chrono::steady_clock::now() + spin;
  while (true) {
    absl::Status s = progress_all(op);
    if (!s.ok()) return s;
    if (op.is_done()) return absl::OkStatus();
    if (cancelled_.load(std::memory_order_acquire)) return take_cancel();
    const auto now = std::chrono::steady_clock::now();
    if (now < spin_until) continue;
    if (now >= deadline_) {
      Pair* p = pairs_[op.peer].get();
      return fail(absl::DeadlineExceededError(absl::StrCat(
                      "timed out after ", timeout_.count(), " ms waiting for peer rank ", op.peer,
                      " at ", p->peer_address(), " over ", p->transport())),
                  op.peer);
    }
    pollfds_.clear();
    pollfds_.push_back({doorbell_->fd(), POLLIN, 0});
    std::vector<size_t> counts(size_, 0);
    for (uint32_t i = 0; i < size_; ++i) {
      if (pairs_[i]) counts[i] = pairs_[i]->poll_fds(pollfds_);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now).count() + 1;
    int n = ::poll(pollfds_.data(), pollfds_.size(), static_cast<int>(std::min<int64_t>(left, 1000)));
    if (n <= 0) continue;
    if (pollfds_[0].revents) doorbell_->drain();
    size_t at = 1;
    for (uint32_t i = 0; i < size_; ++i) {
      if (counts[i] == 0) continue;
      absl::Status e = pairs_[i]->check_events(&pollfds_[at], counts[i]);
      if (!e.ok()) return fail(e, pairs_[i]->failed_rank(), &op);
      at += counts[i];
    }
  }
}

absl::Status Context::wait_all(std::vector<Op>& ops) {
  for (Op& op : ops) {
    absl::Status s = wait(op);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Context::fail(absl::Status pair_error, uint32_t culprit, const Op* waiting) {
  std::string what(pair_error.message());
  if (culprit == rank_ && waiting != nullptr && waiting->peer != rank_) {
    // A peer gave up waiting for this rank, which itself waits for someone else: blame that one.
    Pair* p = pairs_[waiting->peer].get();
    culprit = waiting->peer;
    what = absl::StrCat("a peer gave up waiting for this rank (", what, "); this rank was waiting for peer rank ",
                        culprit, " at ", p->peer_address(), " over ", p->transport());
  }
  absl::Status full(pair_error.code(),
                    absl::StrCat("rank ", rank_, ": ", label_.empty() ? "setup" : label_, " failed: ", what));
  abort(full, culprit);
  return full;
}

void Context::abort(absl::Status cause, uint32_t culprit) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!poisoned_.ok() || closed_) return;
    poisoned_ = cause;
  }
  for (auto& p : pairs_) {
    if (p) p->abort(culprit);
  }
}

void Context::cancel(absl::Status cause) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!poisoned_.ok() || closed_ || cancelled_.load(std::memory_order_relaxed)) return;
    cancel_ = std::move(cause);
    cancelled_.store(true, std::memory_order_release);
  }
  doorbell_->ring();
}

absl::Status Context::take_cancel() {
  absl::Status cause;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cause = cancel_;
  }
  if (!poisoned().ok()) return poisoned();
  return fail(cause, rank_);
}

absl::Status Context::poisoned() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (poisoned_.ok()) return absl::OkStatus();
  return absl::Status(poisoned_.code(),
                      absl::StrCat("communicator poisoned by an earlier failure: ", poisoned_.message()));
}

void Context::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  for (auto& p : pairs_) {
    if (p) p->close(true);
  }
}

void Context::drop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (poisoned_.ok()) poisoned_ = absl::AbortedError(absl::StrCat("rank ", rank_, " dropped its links"));
  }
  for (auto& p : pairs_) {
    if (p) p->close(false);
  }
}

}  // namespace tg::coll
