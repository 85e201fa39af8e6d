#include "collectives/algorithms/broadcast.h"

#include <vector>

namespace tg::coll {
namespace {

constexpr size_t kSlice = 512 << 10;

}  // namespace

absl::Status tree_broadcast(const Group& g, std::byte* data, size_t bytes, uint32_t root) {
  const uint32_t n = g.size(), vr = (g.me + n - root) % n;
  auto real = [&](uint32_t v) { return g.global((v + root) % n); };
  std::vector<Op> sends(32);
  size_t posted = 0;
  for (uint32_t mask = 1; mask < n; mask <<= 1) {
    if (vr < mask) {
      if (vr + mask < n) g.ctx->send(sends[posted++], real(vr + mask), data, bytes);
    } else if (vr < 2 * mask) {
      Op recv;
      g.ctx->recv(recv, real(vr - mask), data, bytes);
      if (absl::Status s = g.ctx->wait(recv); !s.ok()) return s;
    }
  }
  return g.ctx->wait_all(sends);
}

absl::Status chain_broadcast(const Group& g, std::byte* data, size_t bytes, uint32_t root) {
  const uint32_t n = g.size(), vr = (g.me + n - root) % n;
  if (n == 1 || bytes == 0) return absl::OkStatus();
  const size_t slices = (bytes + kSlice - 1) / kSlice;
  auto length = [&](size_t k) { return std::min(kSlice, bytes - k * kSlice); };
  const uint32_t prev = g.global((g.me + n - 1) % n), next = g.global((g.me + 1) % n);
  const bool last = vr == n - 1;
  std::vector<Op> recvs(slices), sends(slices);
  if (vr != 0) {
    for (size_t k = 0; k < slices; ++k) g.ctx->recv(recvs[k], prev, data + k * kSlice, length(k));
  }
  for (size_t k = 0; k < slices; ++k) {
    if (vr != 0) {
      if (absl::Status s = g.ctx->wait(recvs[k]); !s.ok()) return s;
    }
    if (!last) g.ctx->send(sends[k], next, data + k * kSlice, length(k));
  }
  return g.ctx->wait_all(sends);
}

absl::Status barrier(const Group& g) {
  const uint32_t n = g.size();
  std::byte out{1}, in{0};
  for (uint32_t d = 1; d < n; d <<= 1) {
    Op send, recv;
    g.ctx->send(send, g.global((g.me + d) % n), &out, 1);
    g.ctx->recv(recv, g.global((g.me + n - d) % n), &in, 1);
    if (absl::Status s = g.ctx->wait(recv); !s.ok()) return s;
    if (absl::Status s = g.ctx->wait(send); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace tg::coll
