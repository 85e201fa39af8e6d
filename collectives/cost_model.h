// Picks the algorithm for one collective from an alpha-beta model of the links: sending m
// bytes over a link costs alpha + m * beta. Links inside a daemon (local copies) and across
// daemons (tcp) have their own parameters, from configuration or measured when the
// communicator is created and then agreed on by all ranks, so every rank computes the same
// choice from the same inputs. Each candidate's estimated time is reported in the reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "tgrack/v1/collectives.pb.h"

namespace tg::coll {

struct LinkCost {
  double alpha_s = 0;        // Per-message latency, seconds.
  double beta_s_per_byte = 0;  // Inverse of the sustained bandwidth.
  // Bytes the link passes at once after a pause: the depth of the token bucket that shapes
  // it (tc tbf, a cloud instance's burst allowance, a policer). Past them bytes move at
  // 1/beta, and the allowance comes back at that rate while the link idles. 0 = none. Ring,
  // halving-doubling and hierarchical estimates count it from the start of a collective.
  double burst_bytes = 0;
  double time(double bytes) const { return alpha_s + bytes * beta_s_per_byte; }
};

struct Topology {
  uint32_t world = 1;
  std::vector<uint32_t> node_of;  // node_of[rank]: ranks with equal values share a daemon.
  LinkCost local{2e-6, 1 / 6e9};
  LinkCost remote{15e-6, 1 / 2.5e9};
  // Latency of one step in which every rank exchanges with its neighbours at once (measured;
  // 0 = unknown): above the links' alpha where ranks share fewer cores than they are. Steps
  // of ring and of pipelined hierarchical cost at least this.
  double step_alpha_s = 0;
  // How messages travel on each class, as Pair::transport() names it ("local", "tcp",
  // "ibverbs"). Over "tcp" the rank's own thread pushes and pulls every message through its
  // socket, so concurrent messages to different peers pay their alpha one after another (a
  // mesh step to n-1 peers costs (n-1) alpha); elsewhere the hardware moves them and they
  // overlap (one alpha).
  std::string local_transport = "local";
  std::string remote_transport = "tcp";
  // Slow-down of a link shared by several concurrent flows (mesh on one NIC); 1 when one
  // link carries them all at full speed, 1/(n-1) when every peer has its own (XGMI mesh).
  double mesh_contention = 1.3;
  // The shape the devices' links suit, from their link matrix (collectives/link_costs.h);
  // "" = unknown, every candidate is estimated. "ring": shared or chained links (PCIe,
  // host-staged) on which only neighbour-to-neighbour schedules run at link speed, so
  // all-reduce, reduce-scatter and all-gather take ring. "hierarchical": XGMI groups (node_of)
  // joined by slower links; all-reduce takes hierarchical or ring, whichever is cheaper.
  std::string link_shape;
  // Every rank lives in one process: mesh all-reduce reads the peers' buffers directly
  // (algorithms/direct.h), two flag exchanges instead of messages.
  bool one_process = false;
  // Where local and remote come from ("links measured: ..."), appended to every reason.
  std::string costs_from;

  uint32_t nodes() const;
  uint32_t max_ranks_per_node() const;
  bool spans_nodes() const { return nodes() > 1; }
};

struct Choice {
  std::string algorithm;  // "ring", "mesh", "halving_doubling", "hierarchical", "tree", "chain".
  std::string reason;     // Estimated time of each candidate, and why this one.
};

// `forced` non-empty: that algorithm if it implements `kind`, else INVALID_ARGUMENT listing
// the ones that do.
absl::StatusOr<Choice> choose_algorithm(const Topology& topo, tgrack::v1::CollectiveKind kind,
                                        uint64_t bytes, const std::string& forced);

// Chunks that pipelined hierarchical all-reduce (algorithms/hierarchical.h) runs `bytes` in:
// the power of two up to 64 with the lowest estimate.
size_t hierarchical_chunks(const Topology& topo, uint64_t bytes);

// Candidate names for `kind`.
std::vector<std::string> algorithms_for(tgrack::v1::CollectiveKind kind);

}  // namespace tg::coll
