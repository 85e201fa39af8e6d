#include "collectives/transport/context.h"

#include <immintrin.h>

#include <algorithm>
#include <set>
#include <thread>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

namespace tg::coll {
namespace {

// Busy-polling this long before sleeping in poll() keeps small-message latency low; only
// waits for transfers up to kSpinMaxBytes spin.
constexpr auto kSpin = std::chrono::microseconds(30);
constexpr size_t kSpinMaxBytes = 256 << 10;
// A rank with a core of its own spins at every size: the core would idle otherwise, and
// busy-polling moves the next bytes as soon as the peer sends them instead of after a
// wake-up. Longer than a 1 MiB step takes on loopback, short enough that a wait for a
// stalled peer soon sleeps.
constexpr auto kOwnCoreSpin = std::chrono::microseconds(2000);
// Spin rounds before each further round yields the core: ranks of one process may outnumber
// the cores, and the peer this rank waits for may be waiting for this core.
constexpr int kSpinRoundsBeforeYield = 4;

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
  if (counted) ++sequence_;
  counted_ = counted;
  collective_ = collective;  // Assignments reuse capacity: nothing is formatted until a failure.
  algorithm_ = algorithm;
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

absl::Status Context::progress_all(int64_t waiting) {
  for (auto& p : pairs_) {
    if (!p) continue;
    absl::StatusOr<bool> moved = p->progress();
    if (!moved.ok()) return fail(moved.status(), p->failed_rank(), waiting);
  }
  return absl::OkStatus();
}

absl::Status Context::wait(Op& op) {
  if (op.is_done()) return absl::OkStatus();
  return wait_until([&] { return op.is_done(); }, [&] { return op.peer; }, op.bytes);
}

absl::Status Context::wait_until(absl::FunctionRef<bool()> ready, absl::FunctionRef<uint32_t()> late,
                                 size_t bytes) {
  {
    absl::Status p = poisoned();
    if (!p.ok()) return p;
  }
  // Spin only where latency matters; a large transfer sleeps in poll() and leaves the core
  // to the peer (on a loaded host the peer is often the one we wait for). After the first
  // few rounds the spin yields, so ranks that outnumber the cores still take turns.
  const auto spin = own_core_                ? kOwnCoreSpin
                    : bytes <= kSpinMaxBytes ? kSpin
                                             : std::chrono::microseconds(0);
  const auto began = std::chrono::steady_clock::now();
  const auto spin_until = began + spin;
  const bool watch_stall = watch_.stall_after.count() > 0;
  const bool keepalive = watch_.keepalive_interval.count() > 0;
  const auto stall_at = began + watch_.stall_after;
  bool recorded = false;  // The recorder was told whom this wait is for.
  bool stall_reported = false;
  int rounds = 0;
  while (true) {
    absl::Status s = progress_all(late());
    if (!s.ok()) return s;
    if (ready()) {
      if (recorded) watch_.recorder->waiting_on(-1);
      return absl::OkStatus();
    }
    if (cancelled_.load(std::memory_order_acquire)) return take_cancel();
    const auto now = std::chrono::steady_clock::now();
    if (now < spin_until) {
      if (++rounds > kSpinRoundsBeforeYield) {
        std::this_thread::yield();
      } else {
        _mm_pause();
      }
      continue;
    }
    if (now >= deadline_) {
      const uint32_t peer = late();
      Pair* p = pairs_[peer].get();
      const PeerVerdict verdict = judge(peer, began, now);
      return fail(absl::DeadlineExceededError(absl::StrCat(
                      "timed out after ", timeout_.count(), " ms waiting for peer rank ", peer, " at ",
                      p ? p->peer_address() : "?", " over ", p ? p->transport() : "?",
                      verdict.state == PeerState::kUnknown ? "" : "; ",
                      verdict.state == PeerState::kUnknown ? "" : describe_verdict(verdict, sequence_))),
                  peer);
    }
    // Last look after arming the doorbell: a ring from now on wakes poll().
    doorbell_->arm();
    s = progress_all(late());
    if (!s.ok() || ready() || cancelled_.load(std::memory_order_acquire)) {
      doorbell_->disarm();
      continue;
    }
    if (watch_.recorder != nullptr) {
      watch_.recorder->waiting_on(static_cast<int32_t>(late()));
      recorded = true;
    }
    if (keepalive && now >= next_keepalive_) {
      send_keepalives(static_cast<int32_t>(late()));
      next_keepalive_ = now + watch_.keepalive_interval;
      if (stall_reported && watch_.recorder != nullptr) {
        const uint32_t peer = late();
        watch_.recorder->stalled(judge(peer, began, now), pairs_[peer] ? pairs_[peer]->transport() : "");
      }
    }
    if (watch_stall && !stall_reported && now >= stall_at) {
      stall_reported = true;
      const uint32_t peer = late();
      const PeerVerdict verdict = judge(peer, began, now);
      if (watch_.recorder != nullptr) {
        watch_.recorder->stalled(verdict, pairs_[peer] ? pairs_[peer]->transport() : "");
      }
      if (watch_.on_stall) watch_.on_stall(peer, verdict);
    }
    pollfds_.clear();
    pollfds_.push_back({doorbell_->fd(), POLLIN, 0});
    counts_.assign(size_, 0);
    for (uint32_t i = 0; i < size_; ++i) {
      if (pairs_[i]) counts_[i] = pairs_[i]->poll_fds(pollfds_);
    }
    auto wake = watch_stall && !stall_reported ? std::min(deadline_, stall_at) : deadline_;
    if (keepalive) wake = std::min(wake, next_keepalive_);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
    int n = ::poll(pollfds_.data(), pollfds_.size(), static_cast<int>(std::min<int64_t>(left, 1000)));
    doorbell_->disarm();
    if (n <= 0) continue;
    if (pollfds_[0].revents) doorbell_->drain();
    size_t at = 1;
    for (uint32_t i = 0; i < size_; ++i) {
      if (counts_[i] == 0) continue;
      absl::Status e = pairs_[i]->check_events(&pollfds_[at], counts_[i]);
      if (!e.ok()) return fail(e, pairs_[i]->failed_rank(), late());
      at += counts_[i];
    }
  }
}

void Context::keep_alive_between_operations() {
  if (!poisoned().ok()) return;
  for (auto& p : pairs_) {
    if (!p) continue;
    p->send_keepalive(sequence_, kIdleBetweenOperations);
    p->liveness();
  }
}

void Context::send_keepalives(int32_t waiting_on) {
  for (auto& p : pairs_) {
    if (p) p->send_keepalive(sequence_, waiting_on);
  }
}

PeerVerdict Context::judge(uint32_t peer, std::chrono::steady_clock::time_point since,
                           std::chrono::steady_clock::time_point now) {
  Pair* p = peer < pairs_.size() ? pairs_[peer].get() : nullptr;
  // Silence counts from the stall time; without one, from a few missed keep-alives.
  const auto silent_after =
      watch_.stall_after.count() > 0 ? watch_.stall_after : 3 * watch_.keepalive_interval;
  if (p == nullptr || silent_after.count() == 0) return {};
  return judge_peer(p->liveness(), rank_, sequence_, since, silent_after, now);
}

absl::Status Context::wait_all(std::vector<Op>& ops) {
  for (Op& op : ops) {
    absl::Status s = wait(op);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string Context::label() const {
  if (collective_.empty()) return "setup";
  if (!counted_) return absl::StrCat(collective_, " (", algorithm_, ")");
  return absl::StrCat(collective_, " #", sequence_, " (", algorithm_, ")");
}

absl::Status Context::fail(absl::Status pair_error, uint32_t culprit, int64_t waiting) {
  std::string what(pair_error.message());
  if (culprit == rank_ && waiting >= 0 && waiting != rank_ && pairs_[waiting]) {
    // A peer gave up waiting for this rank, which itself waits for someone else: blame that one.
    Pair* p = pairs_[waiting].get();
    culprit = static_cast<uint32_t>(waiting);
    what = absl::StrCat("a peer gave up waiting for this rank (", what, "); this rank was waiting for peer rank ",
                        culprit, " at ", p->peer_address(), " over ", p->transport());
  }
  if (culprit != rank_ && culprit < rank_devices_.size() &&
      !rank_devices_[culprit].starts_with("/")) {
    const std::string& device = rank_devices_[culprit];
    const size_t slash = device.rfind('/');
    absl::StrAppend(&what, "; rank ", culprit, " is node ", device.substr(0, slash), " device ",
                    device.substr(slash + 1));
  }
  absl::Status full(pair_error.code(),
                    absl::StrCat("rank ", rank_, ": ", label(), " failed: ", what));
  if (watch_.recorder != nullptr && culprit != rank_) watch_.recorder->waiting_on(static_cast<int32_t>(culprit));
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
