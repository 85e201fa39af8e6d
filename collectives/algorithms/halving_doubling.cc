#include "collectives/algorithms/halving_doubling.h"

#include <cstring>
#include <functional>
#include <vector>

namespace tg::coll {
namespace {

// The p participants after the fold: `vr` is this one's index, `group(v)` the group index of
// participant v, and `src` this participant's partial result (its input, or the fold's sum).
struct Participants {
  uint32_t p;
  uint32_t vr;
  std::function<uint32_t(uint32_t)> group;
};

// Partners swap whole partial results and both combine them, the lower one's first.
absl::Status recursive_doubling(const Group& g, const ReduceArgs& a, const Participants& at,
                                const std::byte* src) {
  Context& ctx = *g.ctx;
  const size_t bytes = a.count * a.es();
  std::vector<std::byte> theirs(bytes);
  for (uint32_t mask = 1; mask < at.p; mask *= 2) {
    const uint32_t partner = at.group(at.vr ^ mask);
    Op send, recv;
    ctx.send(send, g.global(partner), src, bytes);
    ctx.recv(recv, g.global(partner), theirs.data(), bytes);
    if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
    if (absl::Status s = ctx.wait(send); !s.ok()) return s;
    const bool lower = (at.vr & mask) == 0;
    (*a.reducer)(a.out, lower ? src : theirs.data(), lower ? theirs.data() : src, a.count);
    src = a.out;
  }
  if (a.out != src) std::memcpy(a.out, src, bytes);
  a.finalize(a.out, a.count);
  return absl::OkStatus();
}

// Reduce-scatter by recursive halving, then all-gather by recursive doubling.
absl::Status halving_then_doubling(const Group& g, const ReduceArgs& a, const Participants& at,
                                   const std::byte* src) {
  Context& ctx = *g.ctx;
  const size_t es = a.es();
  const uint32_t p = at.p, vr = at.vr;
  const Blocks blocks{a.count, p};
  uint32_t lo = 0, hi = p;
  for (uint32_t mask = p / 2; mask >= 1; mask /= 2) {
    const uint32_t partner = at.group(vr ^ mask);
    const uint32_t mid = lo + (hi - lo) / 2;
    uint32_t keep_lo = lo, keep_hi = mid, send_lo = mid, send_hi = hi;
    if (vr & mask) std::swap(keep_lo, send_lo), std::swap(keep_hi, send_hi);
    const size_t keep_off = blocks.offset(keep_lo) * es, send_off = blocks.offset(send_lo) * es;
    Op send, recv;
    ctx.send(send, g.global(partner), src + send_off, blocks.offset(send_hi) * es - send_off);
    ctx.recv_reduce(recv, g.global(partner), a.out + keep_off, src + keep_off,
                    blocks.offset(keep_hi) * es - keep_off, *a.reducer);
    if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
    if (absl::Status s = ctx.wait(send); !s.ok()) return s;
    lo = keep_lo;
    hi = keep_hi;
    src = a.out;
  }
  if (a.out != src) std::memcpy(a.out, src, a.count * es);
  a.finalize(a.out + blocks.offset(lo) * es, blocks.length(lo));
  for (uint32_t mask = 1; mask < p; mask *= 2) {
    const uint32_t partner = at.group(vr ^ mask);
    const uint32_t width = hi - lo;
    const uint32_t plo = (vr & mask) ? lo - width : hi, phi = plo + width;
    Op send, recv;
    ctx.send(send, g.global(partner), a.out + blocks.offset(lo) * es,
             (blocks.offset(hi) - blocks.offset(lo)) * es);
    ctx.recv(recv, g.global(partner), a.out + blocks.offset(plo) * es,
             (blocks.offset(phi) - blocks.offset(plo)) * es);
    if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
    if (absl::Status s = ctx.wait(send); !s.ok()) return s;
    lo = std::min(lo, plo);
    hi = std::max(hi, phi);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status halving_doubling_all_reduce(const Group& g, const ReduceArgs& a) {
  const uint32_t n = g.size(), r = g.me;
  const size_t bytes = a.count * a.es();
  Context& ctx = *g.ctx;
  uint32_t p = 1;
  while (p * 2 <= n) p *= 2;
  const uint32_t rem = n - p;
  // Ranks 0..2*rem-1 fold pairwise into p participants.
  Participants at{p, 0, [rem](uint32_t vr) { return vr < rem ? 2 * vr + 1 : vr + rem; }};
  const std::byte* src = a.in;
  if (r < 2 * rem) {
    if (r % 2 == 0) {
      Op send, recv;
      ctx.send(send, g.global(r + 1), a.in, bytes);
      ctx.recv(recv, g.global(r + 1), a.out, bytes);
      if (absl::Status s = ctx.wait(send); !s.ok()) return s;
      return ctx.wait(recv);
    }
    Op recv;
    ctx.recv_reduce(recv, g.global(r - 1), a.out, a.in, bytes, *a.reducer);
    if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
    src = a.out;
    at.vr = r / 2;
  } else {
    at.vr = r - rem;
  }
  absl::Status s = bytes <= kRecursiveDoublingMaxBytes ? recursive_doubling(g, a, at, src)
                                                       : halving_then_doubling(g, a, at, src);
  if (!s.ok() || r >= 2 * rem) return s;
  Op send;
  ctx.send(send, g.global(r - 1), a.out, bytes);
  return ctx.wait(send);
}

}  // namespace tg::coll
