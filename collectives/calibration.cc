#include "collectives/calibration.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include "collectives/algorithms/broadcast.h"

namespace tg::coll {
namespace {

constexpr size_t kSmall = 64;
constexpr size_t kLarge = 1 << 20;
constexpr int kSmallRounds = 8;
constexpr int kLargeRounds = 3;

// One-way time of the fastest of `rounds` round trips of `bytes` between this rank and
// `peer`; `probe` sends first, the other side echoes.
absl::StatusOr<double> ping_pong(Context& ctx, uint32_t peer, bool probe, std::vector<std::byte>& buf,
                                 size_t bytes, int rounds) {
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < rounds; ++i) {
    Op send, recv;
    const auto t0 = std::chrono::steady_clock::now();
    if (probe) {
      ctx.send(send, peer, buf.data(), bytes);
      ctx.recv(recv, peer, buf.data() + kLarge, bytes);
    } else {
      ctx.recv(recv, peer, buf.data() + kLarge, bytes);
      if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
      ctx.send(send, peer, buf.data(), bytes);
    }
    if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
    if (absl::Status s = ctx.wait(send); !s.ok()) return s;
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 2);
  }
  return best;
}

// Seconds per step of `steps` ring steps of kSmall bytes in which every rank sends to its
// right and receives from its left, after as many untimed steps that line the ranks up.
absl::StatusOr<double> ring_step(Context& ctx, std::vector<std::byte>& buf, uint32_t steps) {
  const uint32_t n = ctx.size(), me = ctx.rank();
  std::chrono::steady_clock::time_point t0;
  for (uint32_t s = 0; s < 2 * steps; ++s) {
    if (s == steps) t0 = std::chrono::steady_clock::now();
    Op send, recv;
    ctx.send(send, (me + 1) % n, buf.data(), kSmall);
    ctx.recv(recv, (me + n - 1) % n, buf.data() + kLarge, kSmall);
    if (absl::Status st = ctx.wait(recv); !st.ok()) return st;
    if (absl::Status st = ctx.wait(send); !st.ok()) return st;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
}

// alpha and beta of one link from its small and large one-way times; false when nonsensical.
bool fit(double small, double large, LinkCost* out) {
  const double beta = (large - small) / static_cast<double>(kLarge - kSmall);
  const double alpha = small - kSmall * beta;
  if (!std::isfinite(alpha) || !std::isfinite(beta) || alpha <= 0 || beta <= 0) return false;
  *out = LinkCost{alpha, beta};
  return true;
}

std::string describe(const char* name, const LinkCost& c) {
  return absl::StrFormat("%s %.1fus + %.2f GB/s", name, c.alpha_s * 1e6, 1e-9 / c.beta_s_per_byte);
}

}  // namespace

absl::StatusOr<Calibration> calibrate(Context& ctx, const std::vector<uint32_t>& node_of,
                                      const LinkCost& local, const LinkCost& remote,
                                      const std::vector<uint32_t>& daemon_of) {
  Calibration result{local, remote, 0, ""};
  const uint32_t n = ctx.size(), me = ctx.rank();
  if (n < 2) {
    result.summary = "links from config (one rank)";
    return result;
  }
  // The first peer of rank 0 on its daemon, and on another daemon (n = none).
  uint32_t targets[2] = {n, n};
  for (uint32_t r = 1; r < n; ++r) {
    uint32_t& t = targets[node_of[r] == node_of[0] ? 0 : 1];
    if (t == n) t = r;
  }
  for (uint32_t r = 1; r < n && daemon_of.size() == n; ++r) {
    if (node_of[r] == node_of[0] && daemon_of[r] != daemon_of[0]) {
      targets[0] = r;
      break;
    }
  }
  if (absl::Status s = ctx.begin("calibrate", "ping-pong", /*counted=*/false); !s.ok()) return s;
  // Slots: per class measured flag, alpha, beta; then the ring step.
  double params[7] = {0, 0, 0, 0, 0, 0, 0};
  std::vector<std::byte> buf(2 * kLarge, std::byte{1});
  for (int k = 0; k < 2; ++k) {
    const uint32_t peer = targets[k];
    if (peer == n || (me != 0 && me != peer)) continue;
    const uint32_t other = me == 0 ? peer : 0;
    absl::StatusOr<double> small = ping_pong(ctx, other, me == 0, buf, kSmall, kSmallRounds);
    if (!small.ok()) return small.status();
    absl::StatusOr<double> large = ping_pong(ctx, other, me == 0, buf, kLarge, kLargeRounds);
    if (!large.ok()) return large.status();
    LinkCost measured;
    if (me == 0 && fit(*small, *large, &measured)) {
      params[3 * k] = 1;
      params[3 * k + 1] = measured.alpha_s;
      params[3 * k + 2] = measured.beta_s_per_byte;
    }
  }
  absl::StatusOr<double> step = ring_step(ctx, buf, n);
  if (!step.ok()) return step.status();
  params[6] = *step;
  if (absl::Status s = tree_broadcast(Group::all(ctx), reinterpret_cast<std::byte*>(params),
                                      sizeof(params), 0);
      !s.ok()) {
    return s;
  }
  std::vector<std::string> measured, configured;
  const char* names[2] = {"local", "remote"};
  LinkCost* costs[2] = {&result.local, &result.remote};
  for (int k = 0; k < 2; ++k) {
    if (targets[k] == n) continue;
    if (params[3 * k] == 1) {
      *costs[k] = LinkCost{params[3 * k + 1], params[3 * k + 2]};
      measured.push_back(describe(names[k], *costs[k]));
    } else {
      configured.push_back(describe(names[k], *costs[k]));
    }
  }
  result.step_alpha_s = params[6];
  result.summary = measured.empty() ? "" : absl::StrCat("links measured: ", absl::StrJoin(measured, ", "));
  if (!configured.empty()) {
    absl::StrAppend(&result.summary, measured.empty() ? "" : "; ",
                    "measurement unusable, from config: ", absl::StrJoin(configured, ", "));
  }
  absl::StrAppend(&result.summary, result.summary.empty() ? "" : "; ",
                  absl::StrFormat("ring step of all %u ranks %.1fus", n, result.step_alpha_s * 1e6));
  return result;
}

}  // namespace tg::coll
