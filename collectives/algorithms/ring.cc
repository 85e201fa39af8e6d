#include "collectives/algorithms/ring.h"

#include <cstring>

namespace tg::coll {

Group Group::all(Context& ctx) {
  Group g{&ctx, {}, ctx.rank()};
  for (uint32_t r = 0; r < ctx.size(); ++r) g.ranks.push_back(r);
  return g;
}

absl::Status ring_reduce_scatter(const Group& g, const ReduceArgs& a) {
  const uint32_t n = g.size(), r = g.me;
  const Blocks blocks{a.count, n};
  const size_t es = a.es();
  if (n == 1) {
    if (a.out != a.in) std::memcpy(a.out, a.in, a.count * es);
    a.finalize(a.out, a.count);
    return absl::OkStatus();
  }
  Context& ctx = *g.ctx;
  const uint32_t right = g.global((r + 1) % n), left = g.global((r + n - 1) % n);
  for (uint32_t s = 0; s + 1 < n; ++s) {
    const size_t sb = (r + 2 * n - s - 1) % n, rb = (r + 2 * n - s - 2) % n;
    const std::byte* src = (s == 0 ? a.in : a.out) + blocks.offset(sb) * es;
    Op send, recv;
    ctx.send(send, right, src, blocks.length(sb) * es);
    ctx.recv_reduce(recv, left, a.out + blocks.offset(rb) * es, a.in + blocks.offset(rb) * es,
                    blocks.length(rb) * es, *a.reducer);
    if (absl::Status st = ctx.wait(recv); !st.ok()) return st;
    if (absl::Status st = ctx.wait(send); !st.ok()) return st;
  }
  a.finalize(a.out + blocks.offset(r) * es, blocks.length(r));
  return absl::OkStatus();
}

absl::Status ring_all_gather(const Group& g, std::byte* out, const std::byte* in, size_t count,
                             size_t es) {
  const uint32_t n = g.size(), r = g.me;
  const Blocks blocks{count, n};
  std::byte* own = out + blocks.offset(r) * es;
  if (in != own) std::memcpy(own, in, blocks.length(r) * es);
  Context& ctx = *g.ctx;
  const uint32_t right = g.global((r + 1) % n), left = g.global((r + n - 1) % n);
  for (uint32_t s = 0; s + 1 < n; ++s) {
    const size_t sb = (r + n - s) % n, rb = (r + 2 * n - s - 1) % n;
    Op send, recv;
    ctx.send(send, right, out + blocks.offset(sb) * es, blocks.length(sb) * es);
    ctx.recv(recv, left, out + blocks.offset(rb) * es, blocks.length(rb) * es);
    if (absl::Status st = ctx.wait(recv); !st.ok()) return st;
    if (absl::Status st = ctx.wait(send); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ring_all_reduce(const Group& g, const ReduceArgs& a) {
  if (absl::Status s = ring_reduce_scatter(g, a); !s.ok()) return s;
  const Blocks blocks{a.count, g.size()};
  std::byte* own = a.out + blocks.offset(g.me) * a.es();
  return ring_all_gather(g, a.out, own, a.count, a.es());
}

}  // namespace tg::coll
