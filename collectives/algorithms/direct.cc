#include "collectives/algorithms/direct.h"

#include <algorithm>
#include <cstring>

namespace tg::coll {
namespace {

// Reduced and copied out this many bytes at a time, so the copies read from cache.
constexpr size_t kChunkBytes = 32 << 10;
// Up to this size one synchronization and n reductions per rank beat two synchronizations.
constexpr size_t kOneShotMaxBytes = 2 << 10;
// Blocks split on cache lines, so no two ranks write one line of an output.
constexpr size_t kLineBytes = 64;

}  // namespace

DirectAllReduce::DirectAllReduce(Context& ctx, std::shared_ptr<local::LocalHub> hub)
    : ctx_(ctx), hub_(std::move(hub)), boards_(ctx.size()), bells_(ctx.size()) {
  for (uint32_t r = 0; r < ctx.size(); ++r) {
    boards_[r] = &hub_->board(r);
    if (r != ctx.rank()) bells_[r] = hub_->doorbell(r);
  }
}

absl::Status DirectAllReduce::sync(std::atomic<uint64_t> local::Board::*field) {
  const uint32_t n = ctx_.size(), me = ctx_.rank();
  const uint64_t epoch = epoch_;
  (boards_[me]->*field).store(epoch, std::memory_order_release);
  for (uint32_t r = 0; r < n; ++r) {
    if (r != me) bells_[r]->ring();
  }
  uint32_t next = me == 0 ? 1 : 0;  // The first peer not yet seen at `epoch`.
  const auto ready = [&] {
    for (; next < n; ++next) {
      if (next != me && (boards_[next]->*field).load(std::memory_order_acquire) < epoch) return false;
    }
    return true;
  };
  // A failed local rank fails the call even when every board is already there.
  if (ready() && !hub_->failed()) return absl::OkStatus();
  return ctx_.wait_until(ready, [&] { return next < n ? next : (me + 1) % n; }, 0);
}

absl::Status DirectAllReduce::run(const ReduceArgs& a) {
  if (a.count == 0) return absl::OkStatus();
  ++epoch_;
  return a.count * a.es() <= kOneShotMaxBytes ? one_shot(a) : two_shot(a);
}

absl::Status DirectAllReduce::one_shot(const ReduceArgs& a) {
  const uint32_t n = ctx_.size(), me = ctx_.rank();
  const size_t bytes = a.count * a.es();
  local::Board& mine = *boards_[me];
  std::vector<std::byte>& copy = mine.staged[epoch_ % 2];
  if (copy.size() < bytes) copy.resize(bytes);
  std::memcpy(copy.data(), a.in, bytes);
  if (absl::Status s = sync(&local::Board::posted); !s.ok()) return s;
  // Not through `in`: a peer past this call may already publish its next buffers there.
  const auto input = [&](uint32_t r) { return boards_[r]->staged[epoch_ % 2].data(); };
  (*a.reducer)(a.out, input(0), input(1), a.count);
  for (uint32_t r = 2; r < n; ++r) (*a.reducer)(a.out, a.out, input(r), a.count);
  a.finalize(a.out, a.count);
  return absl::OkStatus();
}

absl::Status DirectAllReduce::two_shot(const ReduceArgs& a) {
  const uint32_t n = ctx_.size(), me = ctx_.rank();
  const size_t es = a.es();
  local::Board& mine = *boards_[me];
  mine.in = a.in;
  mine.out = a.out;
  if (absl::Status s = sync(&local::Board::posted); !s.ok()) return s;
  const size_t line = kLineBytes % es == 0 ? kLineBytes / es : 1;  // Elements per line.
  const Blocks blocks{(a.count + line - 1) / line, n};
  const size_t lo = std::min(a.count, blocks.offset(me) * line);
  const size_t hi = std::min(a.count, blocks.end(me) * line);
  // Reducing in rank order into this rank's own output would overwrite its input before it
  // is read when it is in place and this rank is not among the first two operands.
  const bool into_out = a.out != a.in || me < 2;
  const size_t step = std::max<size_t>(1, kChunkBytes / es);
  if (!into_out && chunk_.size() < step * es) chunk_.resize(step * es);
  for (size_t at = lo; at < hi; at += step) {
    const size_t len = std::min(step, hi - at), off = at * es;
    std::byte* dst = into_out ? a.out + off : chunk_.data();
    (*a.reducer)(dst, boards_[0]->in + off, boards_[1]->in + off, len);
    for (uint32_t r = 2; r < n; ++r) (*a.reducer)(dst, dst, boards_[r]->in + off, len);
    a.finalize(dst, len);
    for (uint32_t r = 0; r < n; ++r) {
      if (boards_[r]->out + off != dst) std::memcpy(boards_[r]->out + off, dst, len * es);
    }
  }
  return sync(&local::Board::finished);
}

}  // namespace tg::coll
