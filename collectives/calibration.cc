#include "collectives/calibration.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <thread>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include "collectives/algorithms/broadcast.h"

namespace tg::coll {
namespace {

constexpr size_t kSmall = 64;
constexpr size_t kLarge = 1 << 20;
constexpr int kSmallRounds = 8;
constexpr int kDrainedRounds = 2;
constexpr int kRestedRounds = 2;
constexpr int kStepWindows = 5;
// Messages of a ring step probe: a step of the sizes where step latency decides between ring
// and one leader per rack (a 64 KiB ring over 16 ranks); a 64-byte step misses the work of
// moving a message through the stack that such steps pay.
constexpr size_t kStepBytes = 4 << 10;
// Longest wait for a link's burst allowance to refill: past it (links under 8 Mbit/s) the
// allowance reads smaller than it is.
constexpr double kMaxRestSeconds = 1.0;

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

// Round-trip time of kLarge bytes from the probe to `peer` and kSmall back, after the probe
// has waited `rest` seconds; the echoing side returns 0.
absl::StatusOr<double> probe_trip(Context& ctx, uint32_t peer, bool probe, std::vector<std::byte>& buf,
                                  double rest) {
  Op send, recv;
  if (!probe) {
    ctx.recv(recv, peer, buf.data() + kLarge, kLarge);
    if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
    ctx.send(send, peer, buf.data(), kSmall);
    if (absl::Status s = ctx.wait(send); !s.ok()) return s;
    return 0.0;
  }
  if (rest > 0) std::this_thread::sleep_for(std::chrono::duration<double>(rest));
  const auto t0 = std::chrono::steady_clock::now();
  ctx.send(send, peer, buf.data(), kLarge);
  ctx.recv(recv, peer, buf.data() + kLarge, kSmall);
  if (absl::Status s = ctx.wait(send); !s.ok()) return s;
  if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One-way times of kLarge bytes between the probe and `peer`: on a drained link (the fastest
// of kDrainedRounds sent right after another that emptied any burst allowance) and on a
// rested one (the slowest of kRestedRounds, each after the link idled as long as a drained
// probe took, which refills an allowance of up to kLarge bytes). The echoing side returns
// zeros.
struct ProbeTimes {
  double drained = 0;
  double rested = 0;
};
absl::StatusOr<ProbeTimes> probe_link(Context& ctx, uint32_t peer, bool probe, std::vector<std::byte>& buf,
                                      double small) {
  ProbeTimes times{std::numeric_limits<double>::infinity(), 0};
  if (absl::StatusOr<double> drain = probe_trip(ctx, peer, probe, buf, 0); !drain.ok()) return drain.status();
  for (int i = 0; i < kDrainedRounds; ++i) {
    absl::StatusOr<double> trip = probe_trip(ctx, peer, probe, buf, 0);
    if (!trip.ok()) return trip.status();
    times.drained = std::min(times.drained, *trip - small);
  }
  for (int i = 0; i < kRestedRounds; ++i) {
    absl::StatusOr<double> trip = probe_trip(ctx, peer, probe, buf, std::min(times.drained, kMaxRestSeconds));
    if (!trip.ok()) return trip.status();
    times.rested = std::max(times.rested, *trip - small);
  }
  return probe ? times : ProbeTimes{};
}

// Seconds per step of a ring all-reduce's 2(n-1) steps of kStepBytes, in which every rank
// sends to its right and receives from its left: the median of kStepWindows such runs, after
// n untimed steps that line the ranks up. The median keeps one stall of the machine out; a
// load that lasts through the runs stays in.
absl::StatusOr<double> ring_step(Context& ctx, std::vector<std::byte>& buf) {
  const uint32_t n = ctx.size(), me = ctx.rank(), steps = 2 * (n - 1);
  std::vector<double> windows;
  std::chrono::steady_clock::time_point t0;
  for (uint32_t s = 0; s < n + kStepWindows * steps; ++s) {
    if (s >= n && (s - n) % steps == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (s > n) windows.push_back(std::chrono::duration<double>(now - t0).count() / steps);
      t0 = now;
    }
    Op send, recv;
    ctx.send(send, (me + 1) % n, buf.data(), kStepBytes);
    ctx.recv(recv, (me + n - 1) % n, buf.data() + kLarge, kStepBytes);
    if (absl::Status st = ctx.wait(recv); !st.ok()) return st;
    if (absl::Status st = ctx.wait(send); !st.ok()) return st;
  }
  windows.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps);
  std::nth_element(windows.begin(), windows.begin() + windows.size() / 2, windows.end());
  return windows[windows.size() / 2];
}

std::string describe(const char* name, const LinkCost& c) {
  std::string out = absl::StrFormat("%s %.1fus + %.3f GB/s", name, c.alpha_s * 1e6, 1e-9 / c.beta_s_per_byte);
  if (c.burst_bytes > 0) absl::StrAppendFormat(&out, " (burst %.0f KiB)", c.burst_bytes / 1024);
  return out;
}

}  // namespace

std::optional<LinkCost> fit_link(double small, double drained, double rested, size_t small_bytes,
                                 size_t probe_bytes) {
  const double beta = (drained - small) / static_cast<double>(probe_bytes - small_bytes);
  const double alpha = small - static_cast<double>(small_bytes) * beta;
  if (!std::isfinite(alpha) || !std::isfinite(beta) || alpha <= 0 || beta <= 0) return std::nullopt;
  const double probe = static_cast<double>(probe_bytes);
  double burst = std::clamp(probe - (rested - alpha) / beta, 0.0, probe);
  if (!std::isfinite(burst) || burst < probe * kBurstNoiseFraction) burst = 0;
  return LinkCost{alpha, beta, burst};
}

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
  // Slots: per class measured flag, alpha, beta, burst; then the ring step.
  double params[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<std::byte> buf(2 * kLarge, std::byte{1});
  for (int k = 0; k < 2; ++k) {
    const uint32_t peer = targets[k];
    if (peer == n || (me != 0 && me != peer)) continue;
    const uint32_t other = me == 0 ? peer : 0;
    absl::StatusOr<double> small = ping_pong(ctx, other, me == 0, buf, kSmall, kSmallRounds);
    if (!small.ok()) return small.status();
    absl::StatusOr<ProbeTimes> large = probe_link(ctx, other, me == 0, buf, *small);
    if (!large.ok()) return large.status();
    if (me != 0) continue;
    if (std::optional<LinkCost> fitted = fit_link(*small, large->drained, large->rested, kSmall, kLarge)) {
      params[4 * k] = 1;
      params[4 * k + 1] = fitted->alpha_s;
      params[4 * k + 2] = fitted->beta_s_per_byte;
      params[4 * k + 3] = fitted->burst_bytes;
    }
  }
  absl::StatusOr<double> step = ring_step(ctx, buf);
  if (!step.ok()) return step.status();
  params[8] = *step;
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
    if (params[4 * k] == 1) {
      *costs[k] = LinkCost{params[4 * k + 1], params[4 * k + 2], params[4 * k + 3]};
      measured.push_back(describe(names[k], *costs[k]));
    } else {
      configured.push_back(describe(names[k], *costs[k]));
    }
  }
  result.step_alpha_s = params[8];
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
