#include "collectives/algorithms/halving_doubling.h"

#include <cstring>

namespace tg::coll {

absl::Status halving_doubling_all_reduce(const Group& g, const ReduceArgs& a) {
  const uint32_t n = g.size(), r = g.me;
  const size_t es = a.es(), bytes = a.count * es;
  Context& ctx = *g.ctx;
  uint32_t p = 1;
  while (p * 2 <= n) p *= 2;
  const uint32_t rem = n - p;
  // Ranks 0..2*rem-1 fold pairwise into p participants; `vr` is the participant index.
  auto to_group = [&](uint32_t vr) { return vr < rem ? 2 * vr + 1 : vr + rem; };
  const std::byte* src = a.in;
  int64_t vr;
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
    vr = r / 2;
  } else {
    vr = r - rem;
  }
  const Blocks blocks{a.count, p};
  uint32_t lo = 0, hi = p;
  for (uint32_t mask = p / 2; mask >= 1; mask /= 2) {
    const uint32_t partner = to_group(static_cast<uint32_t>(vr) ^ mask);
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
  if (p == 1 && a.out != a.in) std::memcpy(a.out, a.in, bytes);
  a.finalize(a.out + blocks.offset(lo) * es, blocks.length(lo));
  for (uint32_t mask = 1; mask < p; mask *= 2) {
    const uint32_t partner = to_group(static_cast<uint32_t>(vr) ^ mask);
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
  if (r < 2 * rem) {
    Op send;
    ctx.send(send, g.global(r - 1), a.out, bytes);
    return ctx.wait(send);
  }
  return absl::OkStatus();
}

}  // namespace tg::coll
