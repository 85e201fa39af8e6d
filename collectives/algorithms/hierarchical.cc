#include "collectives/algorithms/hierarchical.h"

#include <algorithm>
#include <array>
#include <map>

#include "collectives/algorithms/halving_doubling.h"
#include "collectives/algorithms/ring.h"

namespace tg::coll {
namespace {

absl::Status leader_all_reduce(const Group& g, const ReduceArgs& a,
                               const std::vector<std::vector<uint32_t>>& groups,
                               const std::vector<uint32_t>& mine, bool small) {
  Context& ctx = *g.ctx;
  const uint32_t me = g.global(g.me);
  const size_t bytes = a.count * a.es();
  const uint32_t leader = mine.front();

  if (me != leader) {
    Op send, recv;
    ctx.send(send, leader, a.in, bytes);
    ctx.recv(recv, leader, a.out, bytes);
    if (absl::Status s = ctx.wait(send); !s.ok()) return s;
    return ctx.wait(recv);
  }
  const std::byte* src = a.in;
  for (size_t i = 1; i < mine.size(); ++i) {
    Op recv;
    ctx.recv_reduce(recv, mine[i], a.out, src, bytes, *a.reducer);
    if (absl::Status s = ctx.wait(recv); !s.ok()) return s;
    src = a.out;
  }
  Group leaders{&ctx, {}, 0};
  for (const std::vector<uint32_t>& ranks : groups) {
    if (ranks.front() == me) leaders.me = leaders.size();
    leaders.ranks.push_back(ranks.front());
  }
  ReduceArgs across = a;
  across.in = src;
  absl::Status s = small ? halving_doubling_all_reduce(leaders, across) : ring_all_reduce(leaders, across);
  if (!s.ok()) return s;
  std::vector<Op> sends(mine.size());
  for (size_t i = 1; i < mine.size(); ++i) ctx.send(sends[i], mine[i], a.out, bytes);
  return ctx.wait_all(sends);
}

// A ring reduce-scatter or all-gather over `ring` on elements [offset, offset + count) of
// the output, as algorithms/ring.h runs it, one step at a time.
struct RingPhase {
  Group ring;
  size_t offset = 0;
  size_t count = 0;
  bool gather = false;
  bool from_in = false;  // Reduce-scatter: the local operand is the caller's input.

  void post(const ReduceArgs& a, uint32_t s, Op& send, Op& recv) const {
    const uint32_t n = ring.size(), r = ring.me;
    const Blocks blocks{count, n};
    const size_t es = a.es();
    Context& ctx = *ring.ctx;
    const uint32_t right = ring.global((r + 1) % n), left = ring.global((r + n - 1) % n);
    auto at = [&](const std::byte* base, size_t block) { return base + (offset + blocks.offset(block)) * es; };
    if (gather) {
      const size_t sb = (r + n - s) % n, rb = (r + 2 * n - s - 1) % n;
      ctx.send(send, right, at(a.out, sb), blocks.length(sb) * es);
      ctx.recv(recv, left, a.out + (offset + blocks.offset(rb)) * es, blocks.length(rb) * es);
      return;
    }
    const size_t sb = (r + 2 * n - s - 1) % n, rb = (r + 2 * n - s - 2) % n;
    const std::byte* operand = from_in ? a.in : a.out;
    ctx.send(send, right, at(s == 0 ? operand : a.out, sb), blocks.length(sb) * es);
    ctx.recv_reduce(recv, left, a.out + (offset + blocks.offset(rb)) * es, at(operand, rb),
                    blocks.length(rb) * es, *a.reducer);
  }
};

absl::Status pipelined_all_reduce(const Group& g, const ReduceArgs& a,
                                  const std::vector<std::vector<uint32_t>>& groups,
                                  uint32_t my_group, uint32_t position, size_t chunks) {
  Context& ctx = *g.ctx;
  const uint32_t L = groups.front().size(), M = groups.size();
  Group row{&ctx, groups[my_group], position};
  Group column{&ctx, {}, my_group};
  for (const std::vector<uint32_t>& ranks : groups) column.ranks.push_back(ranks[position]);

  const Blocks chunk{a.count, chunks};
  auto inside = [&](size_t c, bool gather) {
    return RingPhase{row, chunk.offset(c), chunk.length(c), gather, /*from_in=*/!gather};
  };
  auto across = [&](size_t c, bool gather) {
    const Blocks shards{chunk.length(c), L};
    return RingPhase{column, chunk.offset(c) + shards.offset(position), shards.length(position), gather,
                     /*from_in=*/false};
  };
  // Tick t: chunk t reduce-scatters inside the group in sub-steps [0, L-1), chunk t-1
  // crosses the groups in [0, 2(M-1)), chunk t-2 all-gathers inside in the last L-1.
  const uint32_t in_steps = L - 1, across_steps = 2 * (M - 1);
  const uint32_t sub_steps = std::max(in_steps, across_steps);
  std::array<Op, 6> ops;
  for (size_t tick = 0; tick < chunks + 2; ++tick) {
    for (uint32_t j = 0; j < sub_steps; ++j) {
      if (tick < chunks && j < in_steps) inside(tick, false).post(a, j, ops[0], ops[1]);
      const bool crossing = tick >= 1 && tick <= chunks && j < across_steps;
      if (crossing) {
        const bool gather = j >= M - 1;
        across(tick - 1, gather).post(a, gather ? j - (M - 1) : j, ops[2], ops[3]);
      }
      if (tick >= 2 && j >= sub_steps - in_steps) inside(tick - 2, true).post(a, j - (sub_steps - in_steps), ops[4], ops[5]);
      for (Op& op : ops) {
        if (absl::Status s = ctx.wait(op); !s.ok()) return s;
      }
      if (crossing && j == M - 2) {
        // This rank's part of its shard is now reduced over every rank.
        const RingPhase done = across(tick - 1, false);
        const Blocks parts{done.count, M};
        a.finalize(a.out + (done.offset + parts.offset(my_group)) * a.es(), parts.length(my_group));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status hierarchical_all_reduce(const Group& g, const ReduceArgs& a,
                                     const std::vector<uint32_t>& node_of, size_t chunks) {
  const bool small = a.count * a.es() <= kHierarchicalLeaderMaxBytes;
  const uint32_t me = g.global(g.me);
  std::map<uint32_t, std::vector<uint32_t>> by_node;  // Global ranks, ascending.
  for (uint32_t i = 0; i < g.size(); ++i) by_node[node_of[g.global(i)]].push_back(g.global(i));
  std::vector<std::vector<uint32_t>> groups;  // In order of their lowest rank.
  for (auto& [node, ranks] : by_node) groups.push_back(std::move(ranks));
  std::sort(groups.begin(), groups.end());
  uint32_t my_group = 0, position = 0;
  bool equal = true;
  for (uint32_t k = 0; k < groups.size(); ++k) {
    equal = equal && groups[k].size() == groups.front().size();
    for (uint32_t i = 0; i < groups[k].size(); ++i) {
      if (groups[k][i] == me) my_group = k, position = i;
    }
  }
  if (small || !equal || groups.size() < 2 || groups.front().size() < 2) {
    return leader_all_reduce(g, a, groups, groups[my_group], small);
  }
  return pipelined_all_reduce(g, a, groups, my_group, position, std::max<size_t>(chunks, 1));
}

}  // namespace tg::coll
