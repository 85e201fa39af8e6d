#include "collectives/algorithms/mesh.h"

#include <cstring>

namespace tg::coll {
namespace {

// out = c[0] op c[1] op ... op c[n-1], in that order.
void reduce_in_order(const ReduceArgs& a, std::byte* out, const std::vector<const std::byte*>& c,
                     size_t n_elems) {
  if (c.size() == 1) {
    if (out != c[0]) std::memcpy(out, c[0], n_elems * a.es());
    return;
  }
  (*a.reducer)(out, c[0], c[1], n_elems);
  for (size_t j = 2; j < c.size(); ++j) (*a.reducer)(out, out, c[j], n_elems);
}

}  // namespace

absl::Status mesh_all_reduce_one_shot(const Group& g, const ReduceArgs& a,
                                      std::vector<std::byte>& scratch) {
  const uint32_t n = g.size();
  const size_t bytes = a.count * a.es();
  if (scratch.size() < n * bytes) scratch.resize(n * bytes);
  std::vector<Op> sends(n), recvs(n);
  std::vector<const std::byte*> contrib(n);
  for (uint32_t j = 0; j < n; ++j) {
    if (j == g.me) continue;
    g.ctx->recv(recvs[j], g.global(j), scratch.data() + j * bytes, bytes);
    g.ctx->send(sends[j], g.global(j), a.in, bytes);
    contrib[j] = scratch.data() + j * bytes;
  }
  contrib[g.me] = a.in;
  if (absl::Status s = g.ctx->wait_all(recvs); !s.ok()) return s;
  if (a.in == a.out && g.me != 0) {
    std::memcpy(scratch.data() + g.me * bytes, a.in, bytes);  // out is written before in is read.
    contrib[g.me] = scratch.data() + g.me * bytes;
  }
  if (absl::Status s = g.ctx->wait_all(sends); !s.ok()) return s;
  reduce_in_order(a, a.out, contrib, a.count);
  a.finalize(a.out, a.count);
  return absl::OkStatus();
}

absl::Status mesh_all_reduce_two_shot(const Group& g, const ReduceArgs& a,
                                      std::vector<std::byte>& scratch, bool gather) {
  const uint32_t n = g.size(), r = g.me;
  const Blocks blocks{a.count, n};
  const size_t es = a.es(), mine = blocks.length(r) * es;
  if (scratch.size() < n * mine) scratch.resize(n * mine);
  std::vector<Op> sends(n), recvs(n);
  std::vector<const std::byte*> contrib(n);
  for (uint32_t k = 1; k < n; ++k) {  // Staggered so peers are not all hit at once.
    const uint32_t to = (r + k) % n, from = (r + n - k) % n;
    g.ctx->recv(recvs[from], g.global(from), scratch.data() + from * mine, mine);
    g.ctx->send(sends[to], g.global(to), a.in + blocks.offset(to) * es, blocks.length(to) * es);
    contrib[from] = scratch.data() + from * mine;
  }
  std::memcpy(scratch.data() + r * mine, a.in + blocks.offset(r) * es, mine);
  contrib[r] = scratch.data() + r * mine;
  if (absl::Status s = g.ctx->wait_all(recvs); !s.ok()) return s;
  if (absl::Status s = g.ctx->wait_all(sends); !s.ok()) return s;
  std::byte* own = a.out + blocks.offset(r) * es;
  reduce_in_order(a, own, contrib, blocks.length(r));
  a.finalize(own, blocks.length(r));
  if (!gather) return absl::OkStatus();
  return mesh_all_gather(g, a.out, own, a.count, es);
}

absl::Status mesh_all_gather(const Group& g, std::byte* out, const std::byte* in, size_t count,
                             size_t es) {
  const uint32_t n = g.size(), r = g.me;
  const Blocks blocks{count, n};
  std::byte* own = out + blocks.offset(r) * es;
  if (in != own) std::memcpy(own, in, blocks.length(r) * es);
  std::vector<Op> sends(n), recvs(n);
  for (uint32_t k = 1; k < n; ++k) {
    const uint32_t to = (r + k) % n, from = (r + n - k) % n;
    g.ctx->recv(recvs[from], g.global(from), out + blocks.offset(from) * es, blocks.length(from) * es);
    g.ctx->send(sends[to], g.global(to), own, blocks.length(r) * es);
  }
  if (absl::Status s = g.ctx->wait_all(recvs); !s.ok()) return s;
  return g.ctx->wait_all(sends);
}

}  // namespace tg::coll
