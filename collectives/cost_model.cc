#include "collectives/cost_model.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include "collectives/algorithms/halving_doubling.h"
#include "collectives/algorithms/hierarchical.h"

namespace tg::coll {
namespace {

using tgrack::v1::CollectiveKind;

struct Estimate {
  std::string name;
  double seconds;
};

// The slowest link a group of ranks that spans `nodes` daemons has to use.
const LinkCost& worst(const Topology& t) { return t.spans_nodes() ? t.remote : t.local; }

// Alpha of `messages` concurrent messages to different peers over the slowest link: they
// overlap unless the rank's thread drives each one (tcp).
double concurrent_alpha(const Topology& t, double messages) {
  const std::string& transport = t.spans_nodes() ? t.remote_transport : t.local_transport;
  return worst(t).alpha_s * (transport == "tcp" ? messages : 1);
}

// `link` in a step every rank takes at once.
LinkCost in_step(const Topology& t, const LinkCost& link) {
  LinkCost stepped = link;
  stepped.alpha_s = std::max(link.alpha_s, t.step_alpha_s);
  return stepped;
}

// `link` for a message among a few ranks: its alpha, but no more than a measured step in
// which every rank sends one (a larger alpha was measured across a stall of the machine).
LinkCost among_few(const Topology& t, const LinkCost& link) {
  LinkCost few = link;
  if (t.step_alpha_s > 0) few.alpha_s = std::min(link.alpha_s, t.step_alpha_s);
  return few;
}

// A link's burst allowance through the steps of one collective that finds it full: a step's
// bytes pass at once while the allowance lasts, the rest at the sustained rate; the
// allowance refills at that rate while the link waits on latency or on other links.
// Collectives that follow one another (a training step's gradients) find it partly spent,
// and over a run no link carries more than its sustained rate: every estimate is at least
// the bytes on its busiest link times beta ("sustained" below), which the allowance can
// only hide behind latency, not remove.
class Bucket {
 public:
  explicit Bucket(const LinkCost& link, double share = 1)
      : link_(link), burst_(link.burst_bytes * share), tokens_(burst_) {}
  // One message of `bytes` after the link's alpha; its time.
  double send(double bytes) {
    rest(link_.alpha_s);
    const double at_once = std::min(tokens_, bytes);
    tokens_ -= at_once;
    return link_.alpha_s + (bytes - at_once) * link_.beta_s_per_byte;
  }
  void rest(double seconds) {
    tokens_ = link_.beta_s_per_byte > 0 ? std::min(burst_, tokens_ + seconds / link_.beta_s_per_byte) : burst_;
  }

 private:
  LinkCost link_;
  double burst_;
  double tokens_;
};

// `steps` messages of `bytes` one after another over `link`.
double in_sequence(const LinkCost& link, double steps, double bytes) {
  Bucket bucket(link);
  double total = 0;
  for (double s = 0; s < steps; ++s) total += bucket.send(bytes);
  return total;
}

// All-reduce of S bytes among p (a power of two) participants over `link`, as
// halving_doubling_all_reduce runs it: recursive doubling up to its size limit (whole
// buffers), halving then doubling above it (S/2, S/4, ... S/p and back).
double log_latency(const LinkCost& link, double p, double S) {
  const double steps = std::log2(p);
  if (S <= kRecursiveDoublingMaxBytes) return in_sequence(link, steps, S);
  Bucket bucket(link);
  double total = 0;
  for (double part = S / 2; part >= S / p; part /= 2) total += bucket.send(part);
  for (double part = S / p; part <= S / 2; part *= 2) total += bucket.send(part);
  return total;
}

double power_of_two_below(double n) { return std::exp2(std::floor(std::log2(std::max(1.0, n)))); }

// Bytes one participant of halving_doubling_all_reduce sends (and receives).
double halving_doubling_bytes(double n, double S) {
  const double p = power_of_two_below(n);
  return (S <= kRecursiveDoublingMaxBytes ? std::log2(p) * S : 2 * (p - 1) / p * S) + (p < n ? S : 0);
}

// halving_doubling_all_reduce among n participants over `link`; `sustained` adds the floor of
// its bytes at the link's sustained rate (not when it is one phase of a larger schedule,
// whose floor counts every phase's bytes on the link).
double halving_doubling(const LinkCost& link, double n, double S, bool sustained) {
  const double p = power_of_two_below(n);
  const double time = log_latency(link, p, S) + (p < n ? 2 * link.time(S) : 0);
  return sustained ? std::max(time, halving_doubling_bytes(n, S) * link.beta_s_per_byte) : time;
}

// Pipelined hierarchical all-reduce of S bytes in `chunks` chunks, tick by tick: a step across
// groups moves S / (C l m) per flow and the l flows of a group share its uplink (and its
// burst allowance); a step inside moves S / (C l) per link.
double pipelined(const Topology& t, double S, double chunks) {
  const double m = t.nodes(), l = t.max_ranks_per_node();
  const LinkCost inside = in_step(t, t.local), across = in_step(t, t.remote);
  Bucket host(inside), uplink(across, 1 / l);
  const double in_steps = l - 1, across_steps = 2 * (m - 1), sub_steps = std::max(in_steps, across_steps);
  double total = 0;
  for (double tick = 0; tick < chunks + 2; ++tick) {
    for (double j = 0; j < sub_steps; ++j) {
      const double ins = (tick < chunks && j < in_steps) + (tick >= 2 && j >= sub_steps - in_steps);
      const bool crossing = tick >= 1 && tick <= chunks && j < across_steps;
      double on_host = 0;
      for (double k = 0; k < ins; ++k) on_host += host.send(S / (chunks * l));
      const double on_uplink = crossing ? uplink.send(S / (chunks * m)) : 0;
      const double step = std::max(on_host, on_uplink);
      host.rest(step - on_host);
      uplink.rest(step - on_uplink);
      total += step;
    }
  }
  // Every uplink carries 2(m-1)/m of the buffer each way, every rank's link inside the
  // group 2(l-1)/l, and where the group's messages go over tcp (hosts of a rack), its share
  // of the crossings too: 2(n-1)/n in all.
  const double n = t.world;
  const double on_host = t.local_transport == "tcp" ? 2 * (n - 1) / n : 2 * (l - 1) / l;
  return std::max({total, on_host * S * t.local.beta_s_per_byte, 2 * (m - 1) / m * S * t.remote.beta_s_per_byte});
}

// Hierarchical all-reduce (algorithms/hierarchical.h) in the form it runs for S bytes.
double hierarchical(const Topology& t, double S) {
  const double m = t.nodes(), l = t.max_ranks_per_node();
  const bool small = S <= kHierarchicalLeaderMaxBytes;
  if (small || m * l != t.world) {
    // Leader form: l-1 whole buffers into the leader one after another and out again (each
    // way through its own allowance of the leader's link), the leaders' all-reduce between.
    // The leader's link carries those buffers, and where the group's messages go over tcp
    // (hosts of a rack) its share of the leaders' all-reduce leaves through it too.
    const LinkCost local = among_few(t, t.local), remote = among_few(t, t.remote);
    const double across = small ? halving_doubling(remote, m, S, false) : in_sequence(remote, 2 * (m - 1), S / m);
    const double across_bytes = small ? halving_doubling_bytes(m, S) : 2 * (m - 1) / m * S;
    const double on_leader_link = (l - 1) * S + (t.local_transport == "tcp" ? across_bytes : 0);
    return std::max({2 * in_sequence(local, l - 1, S) + across, on_leader_link * local.beta_s_per_byte,
                     across_bytes * remote.beta_s_per_byte});
  }
  return pipelined(t, S, hierarchical_chunks(t, S));
}

double ring_steps(const Topology& t, double steps, double bytes) {
  const LinkCost link = in_step(t, worst(t));
  return std::max(in_sequence(link, steps, bytes / t.world), steps * bytes / t.world * link.beta_s_per_byte);
}

std::vector<Estimate> estimates(const Topology& t, CollectiveKind kind, double S) {
  const double n = t.world;
  const LinkCost& w = worst(t);
  const double log_n = std::ceil(std::log2(std::max(1.0, n)));
  std::vector<Estimate> out;
  switch (kind) {
    case tgrack::v1::COLLECTIVE_ALL_REDUCE: {
      out.push_back({"ring", ring_steps(t, 2 * (n - 1), S)});
      const double peers_alpha = concurrent_alpha(t, n - 1);
      const double mesh_one = peers_alpha + (n - 1) * S * w.beta_s_per_byte * t.mesh_contention;
      const double mesh_two =
          2 * (peers_alpha + (n - 1) / n * S * w.beta_s_per_byte * t.mesh_contention) + (n - 1) * 1e-6;
      // One process: each rank reduces its block from every input and copies it into every
      // output; the two flag exchanges cost less than one message.
      const double mesh_direct = w.alpha_s + 2 * (n - 1) / n * S * w.beta_s_per_byte;
      out.push_back({"mesh", t.one_process ? mesh_direct : std::min(mesh_one, mesh_two)});
      out.push_back({"halving_doubling", halving_doubling(w, n, S, true)});
      if (t.spans_nodes() && t.max_ranks_per_node() > 1) out.push_back({"hierarchical", hierarchical(t, S)});
      break;
    }
    case tgrack::v1::COLLECTIVE_REDUCE_SCATTER:
    case tgrack::v1::COLLECTIVE_ALL_GATHER:
      out.push_back({"ring", ring_steps(t, n - 1, S)});
      out.push_back({"mesh", concurrent_alpha(t, n - 1) +
                                 (n - 1) / n * S * w.beta_s_per_byte * t.mesh_contention + (n - 1) * 1e-6});
      break;
    case tgrack::v1::COLLECTIVE_BROADCAST: {
      out.push_back({"tree", log_n * w.time(S)});
      const double slice = 512 << 10, slices = std::max(1.0, std::ceil(S / slice));
      out.push_back({"chain", (n - 2 + slices) * w.time(std::min(S, slice))});
      break;
    }
    case tgrack::v1::COLLECTIVE_BARRIER:
      out.push_back({"dissemination", log_n * w.alpha_s});
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

size_t hierarchical_chunks(const Topology& t, uint64_t bytes) {
  size_t best = 1;
  for (size_t chunks = 2; chunks <= 64; chunks *= 2) {
    if (pipelined(t, bytes, chunks) < pipelined(t, bytes, best)) best = chunks;
  }
  return best;
}

uint32_t Topology::nodes() const { return std::set<uint32_t>(node_of.begin(), node_of.end()).size(); }

uint32_t Topology::max_ranks_per_node() const {
  std::vector<uint32_t> counts(world, 0);
  uint32_t best = 0;
  for (uint32_t node : node_of) best = std::max(best, ++counts[node]);
  return best;
}

std::vector<std::string> algorithms_for(CollectiveKind kind) {
  switch (kind) {
    case tgrack::v1::COLLECTIVE_ALL_REDUCE: return {"ring", "mesh", "halving_doubling", "hierarchical"};
    case tgrack::v1::COLLECTIVE_REDUCE_SCATTER:
    case tgrack::v1::COLLECTIVE_ALL_GATHER: return {"ring", "mesh"};
    case tgrack::v1::COLLECTIVE_BROADCAST: return {"tree", "chain"};
    case tgrack::v1::COLLECTIVE_BARRIER: return {"dissemination"};
    default: return {};
  }
}

absl::StatusOr<Choice> choose_algorithm(const Topology& topo, CollectiveKind kind, uint64_t bytes,
                                        const std::string& forced) {
  std::vector<Estimate> est = estimates(topo, kind, static_cast<double>(bytes));
  if (est.empty()) return absl::InvalidArgumentError(absl::StrCat("unsupported collective kind ", kind));
  std::string table = absl::StrJoin(est, ", ", [](std::string* s, const Estimate& e) {
    absl::StrAppend(s, e.name, absl::StrFormat(" %.1fus", e.seconds * 1e6));
  });
  if (!forced.empty()) {
    std::vector<std::string> names = algorithms_for(kind);
    if (std::find(names.begin(), names.end(), forced) == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat("algorithm '", forced, "' does not implement this collective; choose one of ",
                                                     absl::StrJoin(names, ", ")));
    }
    return Choice{forced, absl::StrCat("forced by the caller (model: ", table, ")")};
  }
  const std::string suited = topo.link_shape.empty() ? "" : absl::StrCat("; links suit ", topo.link_shape);
  if (kind != tgrack::v1::COLLECTIVE_BROADCAST && kind != tgrack::v1::COLLECTIVE_BARRIER &&
      (topo.link_shape == "ring" || topo.link_shape == "hierarchical")) {
    std::erase_if(est, [&](const Estimate& e) {
      return e.name != "ring" && !(topo.link_shape == "hierarchical" && e.name == "hierarchical");
    });
  }
  auto best = std::min_element(est.begin(), est.end(),
                               [](const Estimate& a, const Estimate& b) { return a.seconds < b.seconds; });
  return Choice{best->name,
                absl::StrCat("lowest estimate for ", bytes, " bytes over ", topo.world, " ranks on ",
                             topo.nodes(), topo.link_shape.empty() ? " daemon(s): " : " link group(s): ",
                             table, suited, topo.costs_from.empty() ? "" : "; ", topo.costs_from)};
}

}  // namespace tg::coll
