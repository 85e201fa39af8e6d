#include "collectives/algorithms/hierarchical.h"

#include <cstring>
#include <map>

#include "collectives/algorithms/halving_doubling.h"
#include "collectives/algorithms/ring.h"

namespace tg::coll {

absl::Status hierarchical_all_reduce(const Group& g, const ReduceArgs& a,
                                     const std::vector<uint32_t>& node_of, bool small) {
  Context& ctx = *g.ctx;
  const uint32_t me = g.global(g.me);
  const size_t bytes = a.count * a.es();
  std::map<uint32_t, std::vector<uint32_t>> by_node;  // Global ranks, ascending.
  for (uint32_t i = 0; i < g.size(); ++i) by_node[node_of[g.global(i)]].push_back(g.global(i));
  const std::vector<uint32_t>& mine = by_node[node_of[me]];
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
  for (auto& [node, ranks] : by_node) {
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

}  // namespace tg::coll
