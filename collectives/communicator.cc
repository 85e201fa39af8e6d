#include "collectives/communicator.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <absl/strings/str_cat.h>
#include <spdlog/spdlog.h>

#include "collectives/algorithms/broadcast.h"
#include "collectives/algorithms/halving_doubling.h"
#include "collectives/algorithms/hierarchical.h"
#include "collectives/algorithms/mesh.h"
#include "collectives/algorithms/ring.h"
#include "collectives/calibration.h"
#include "collectives/link_costs.h"
#include "collectives/rack_groups.h"
#include "collectives/transport/local/pair.h"
#ifdef TG_HAVE_IBVERBS
#include "collectives/transport/ibverbs/device.h"
#endif
#include "devices/dtype.h"

namespace tg::coll {

using tgrack::v1::CollectiveKind;

// Mesh all-reduce switches from one-shot to two-shot above this size.
constexpr uint64_t kMeshOneShotMax = 64 << 10;

absl::StatusOr<std::string> rdma_available() {
#ifdef TG_HAVE_IBVERBS
  static const absl::StatusOr<std::string> device = ibverbs::rdma_device();
  return device;
#else
  return absl::UnimplementedError("built without libibverbs");
#endif
}

const char* collective_name(CollectiveKind kind) {
  switch (kind) {
    case tgrack::v1::COLLECTIVE_ALL_REDUCE: return "all_reduce";
    case tgrack::v1::COLLECTIVE_REDUCE_SCATTER: return "reduce_scatter";
    case tgrack::v1::COLLECTIVE_ALL_GATHER: return "all_gather";
    case tgrack::v1::COLLECTIVE_BROADCAST: return "broadcast";
    case tgrack::v1::COLLECTIVE_BARRIER: return "barrier";
    default: return "unknown";
  }
}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::create(
    const tgrack::v1::CommunicatorSpec& spec, uint32_t rank, tcp::Listener* listener,
    std::shared_ptr<local::LocalHub> hub, const CommOptions& options) {
  const uint32_t n = spec.ranks_size();
  if (rank >= n) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, " outside communicator ", spec.comm_id(),
                                                   " of ", n, " ranks"));
  }
  const auto timeout = spec.timeout_ms() ? std::chrono::milliseconds(spec.timeout_ms()) : options.dead_after;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const bool force_tcp = spec.transport() == "tcp";
  CommOptions opts = options;
  if (spec.transport() == "ibverbs") {
    absl::StatusOr<std::string> device = rdma_available();
    if (!device.ok()) return absl::FailedPreconditionError(absl::StrCat("transport ibverbs requested: ", device.status().message()));
    opts.tcp.rdma = true;
  } else if (spec.transport().empty()) {
    opts.tcp.rdma = rdma_available().ok();
  } else if (!force_tcp) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown transport '", spec.transport(), "'; expected tcp, ibverbs or empty (automatic)"));
  }

  auto addresses = std::make_shared<std::vector<std::string>>();
  std::map<std::string, uint32_t> node_ids;
  std::unique_ptr<Communicator> comm(new Communicator());
  comm->id_ = spec.comm_id();
  comm->topo_.world = n;
  comm->topo_.local = options.local;
  comm->topo_.remote = options.remote;
  // Every rank must model the same transports, so ibverbs counts only when the spec asks for
  // it: the automatic choice depends on each daemon's hardware, per pair.
  comm->topo_.remote_transport = spec.transport() == "ibverbs" ? "ibverbs" : "tcp";
  if (force_tcp) comm->topo_.local_transport = "tcp";
  for (uint32_t r = 0; r < n; ++r) {
    if (spec.ranks(r).rank() != r) {
      return absl::InvalidArgumentError(absl::StrCat("communicator ", spec.comm_id(), ": entry ", r, " holds rank ",
                                                     spec.ranks(r).rank()));
    }
    addresses->push_back(spec.ranks(r).data_address());
    comm->topo_.node_of.push_back(node_ids.try_emplace(spec.ranks(r).data_address(), r).first->second);
  }
  // Racks named: the model's groups are racks, whose hosts reach each other over tcp.
  std::vector<uint32_t> daemon_of;
  if (std::optional<std::vector<uint32_t>> racks = rack_groups(spec)) {
    daemon_of = std::move(comm->topo_.node_of);
    comm->topo_.node_of = std::move(*racks);
    for (uint32_t r = 0; r < n; ++r) {
      const uint32_t first = comm->topo_.node_of[r];
      if (daemon_of[r] != daemon_of[first]) comm->topo_.local_transport = "tcp";
    }
    comm->topo_.link_shape = "hierarchical";
  }
  comm->ctx_ = std::make_unique<Context>(rank, n, timeout);
  std::vector<std::string> rank_devices;
  for (const auto& info : spec.ranks()) {
    rank_devices.push_back(absl::StrCat(info.device().node(), "/", info.device().index()));
  }
  comm->ctx_->set_rank_devices(std::move(rank_devices));
  comm->recorder_ = std::make_shared<FlightRecorder>(options.flight_records);
  comm->on_stall_ = options.on_stall;
  comm->stall_after_ = options.stall_after;
  Communicator* self = comm.get();
  comm->ctx_->set_watch(Context::WaitWatch{
      comm->recorder_.get(), options.stall_after, options.keepalive_interval,
      [self](uint32_t peer, const PeerVerdict& verdict) { self->report_stall(peer, verdict); }});
  std::vector<uint32_t> local_peers, remote_peers;
  for (uint32_t r = 0; r < n; ++r) {
    if (r == rank) continue;
    const bool same = (*addresses)[r] == (*addresses)[rank];
    (same && !force_tcp ? local_peers : remote_peers).push_back(r);
  }
  if (!local_peers.empty() && !hub) {
    return absl::InvalidArgumentError("ranks share a daemon but no local hub was given");
  }
  if (!remote_peers.empty() && listener == nullptr) {
    return absl::InvalidArgumentError("remote ranks but no data-plane listener");
  }
  // Local ranks attach while the remote ones connect: a rank that never joins then fails to
  // connect to the other daemons itself, and they name it rather than this daemon's ranks
  // that would otherwise still be waiting for it.
  absl::Status local_status;
  std::thread local_join;
  if (!local_peers.empty()) {
    local_join = std::thread([&] { local_status = hub->attach(rank, comm->ctx_->doorbell(), deadline); });
  }
  absl::Status remote_status;
  if (!remote_peers.empty()) {
    remote_status = tcp::connect_pairs(*comm->ctx_, *listener, spec.comm_id(), spec.secret(),
                                       addresses, remote_peers, opts.tcp, deadline);
  }
  if (local_join.joinable()) local_join.join();
  if (!local_status.ok()) {
    return absl::Status(local_status.code(), absl::StrCat("rank ", rank, ": creating communicator ", spec.comm_id(),
                                                          " over local failed: ", local_status.message()));
  }
  for (uint32_t peer : local_peers) {
    comm->ctx_->set_pair(peer, std::make_unique<local::LocalPair>(rank, peer, hub, (*addresses)[peer]));
  }
  if (!local_peers.empty() && remote_peers.empty()) {
    comm->direct_ = std::make_unique<DirectAllReduce>(*comm->ctx_, hub);
  }
  if (!remote_status.ok()) {
    comm->ctx_->abort(remote_status, rank);
    return remote_status;
  }
  std::vector<size_t> devices;
  for (const auto& r : spec.ranks()) devices.push_back(r.device().index());
  const bool matrix = options.links != nullptr && comm->topo_.nodes() == 1 &&
                      std::all_of(devices.begin(), devices.end(), [&](size_t d) { return d < options.links->size(); }) &&
                      std::set<size_t>(devices.begin(), devices.end()).size() == n;
  if (matrix) {
    // The device link matrix knows the devices' links; nothing to measure.
    comm->topo_ = link_topology(*options.links, devices, comm->topo_);
    comm->topo_.costs_from = "links from the device link matrix";
  } else if (options.calibrate) {
    absl::StatusOr<Calibration> measured =
        calibrate(*comm->ctx_, comm->topo_.node_of, comm->topo_.local, comm->topo_.remote,
                  daemon_of);
    if (!measured.ok()) return measured.status();
    comm->topo_.local = measured->local;
    comm->topo_.remote = measured->remote;
    comm->topo_.step_alpha_s = measured->step_alpha_s;
    comm->topo_.costs_from = measured->summary;
    if (!daemon_of.empty()) {
      comm->topo_.costs_from += "; groups are racks: local inside a rack, remote over the rack uplinks";
    }
  }
  comm->topo_.one_process = comm->direct_ != nullptr;
  return comm;
}

Communicator::~Communicator() = default;

absl::StatusOr<Choice> Communicator::choose(CollectiveKind kind, uint64_t bytes,
                                            const std::string& forced) const {
  return choose_algorithm(topo_, kind, bytes, forced);
}

absl::Status Communicator::start(CollectiveKind kind, const char* name, uint64_t bytes,
                                 const std::string& forced, std::string* algorithm) {
  if (!forced.empty() || !last_ || last_->kind != kind || last_->bytes != bytes) {
    absl::StatusOr<Choice> choice = choose(kind, bytes, forced);
    if (!choice.ok()) return choice.status();
    *algorithm = choice->algorithm;
    if (forced.empty()) last_ = Cached{kind, bytes, choice->algorithm};
  } else {
    *algorithm = last_->algorithm;
  }
  if (absl::Status s = ctx_->begin(name, *algorithm); !s.ok()) return s;
  recorder_->begin(ctx_->sequence(), name, *algorithm, bytes);
  return absl::OkStatus();
}

absl::Status Communicator::finish(absl::Status status) {
  recorder_->end(status);
  if (!status.ok()) {
    spdlog::error("communicator {} rank {} ({}): {}; flight recorder, oldest first:\n{}", id_, rank(),
                  ctx_->rank_device(rank()), std::string(status.message()), recorder_->dump());
  }
  return status;
}

void Communicator::report_stall(uint32_t peer, const PeerVerdict& verdict) {
  const Pair* pair = ctx_->pair(peer);
  StallReport report{id_,
                     rank(),
                     ctx_->rank_device(rank()),
                     peer,
                     ctx_->rank_device(peer),
                     pair != nullptr ? pair->peer_address() : "?",
                     pair != nullptr ? pair->transport() : "?",
                     ctx_->sequence(),
                     ctx_->operation(),
                     verdict};
  spdlog::warn("communicator {} rank {} ({}): {} stalled: waiting for peer rank {} ({}) at {} over {} "
               "for more than {} ms; {}",
               id_, rank(), report.device, report.operation, peer, report.peer_device, report.peer_address,
               report.transport, stall_after_.count(), describe_verdict(verdict, report.sequence));
  if (on_stall_) on_stall_(report);
}

absl::Status Communicator::all_reduce(std::byte* out, const std::byte* in, size_t count,
                                      tgrack::v1::DType dtype, tgrack::v1::ReduceOp op,
                                      const std::string& forced) {
  std::lock_guard<std::mutex> driving(driving_);
  absl::StatusOr<Reducer> reducer = make_reducer(dtype, op);
  if (!reducer.ok()) return reducer.status();
  const uint64_t bytes = count * reducer->elem_size;
  std::string algo;
  if (absl::Status s = start(tgrack::v1::COLLECTIVE_ALL_REDUCE, "all_reduce", bytes, forced, &algo); !s.ok()) return s;
  ReduceArgs args{out, in, count, &*reducer, size()};
  if (algo == "mesh" && direct_) return finish(direct_->run(args));
  Group g = Group::all(*ctx_);
  if (algo == "mesh") {
    return finish(bytes <= kMeshOneShotMax ? mesh_all_reduce_one_shot(g, args, scratch_)
                                           : mesh_all_reduce_two_shot(g, args, scratch_));
  }
  if (algo == "halving_doubling") return finish(halving_doubling_all_reduce(g, args));
  if (algo == "hierarchical") return finish(hierarchical_all_reduce(g, args, topo_.node_of, hierarchical_chunks(topo_, bytes)));
  return finish(ring_all_reduce(g, args));
}

absl::Status Communicator::reduce_scatter(std::byte* out, const std::byte* in, size_t count,
                                          tgrack::v1::DType dtype, tgrack::v1::ReduceOp op,
                                          const std::string& forced) {
  std::lock_guard<std::mutex> driving(driving_);
  absl::StatusOr<Reducer> reducer = make_reducer(dtype, op);
  if (!reducer.ok()) return reducer.status();
  std::string algo;
  if (absl::Status s = start(tgrack::v1::COLLECTIVE_REDUCE_SCATTER, "reduce_scatter",
                             count * reducer->elem_size, forced, &algo);
      !s.ok()) {
    return s;
  }
  ReduceArgs args{out, in, count, &*reducer, size()};
  if (algo == "mesh") {
    // The two-shot mesh's first half is exactly a direct reduce-scatter.
    return finish(mesh_all_reduce_two_shot(Group::all(*ctx_), args, scratch_, /*gather=*/false));
  }
  return finish(ring_reduce_scatter(Group::all(*ctx_), args));
}

absl::Status Communicator::all_gather(std::byte* out, const std::byte* in, size_t count,
                                      tgrack::v1::DType dtype, const std::string& forced) {
  std::lock_guard<std::mutex> driving(driving_);
  const size_t es = dtype_size(dtype);
  if (es == 0) return absl::InvalidArgumentError("all_gather needs a dtype");
  std::string algo;
  if (absl::Status s = start(tgrack::v1::COLLECTIVE_ALL_GATHER, "all_gather", count * es, forced, &algo); !s.ok()) {
    return s;
  }
  if (algo == "mesh") return finish(mesh_all_gather(Group::all(*ctx_), out, in, count, es));
  return finish(ring_all_gather(Group::all(*ctx_), out, in, count, es));
}

absl::Status Communicator::broadcast(std::byte* data, size_t count, tgrack::v1::DType dtype,
                                     uint32_t root, const std::string& forced) {
  std::lock_guard<std::mutex> driving(driving_);
  const size_t es = dtype_size(dtype);
  if (es == 0) return absl::InvalidArgumentError("broadcast needs a dtype");
  if (root >= size()) {
    return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root, " outside ", size(), " ranks"));
  }
  std::string algo;
  if (absl::Status s = start(tgrack::v1::COLLECTIVE_BROADCAST, "broadcast", count * es, forced, &algo); !s.ok()) {
    return s;
  }
  if (algo == "chain") return finish(chain_broadcast(Group::all(*ctx_), data, count * es, root));
  return finish(tree_broadcast(Group::all(*ctx_), data, count * es, root));
}

absl::Status Communicator::barrier() {
  std::lock_guard<std::mutex> driving(driving_);
  std::string algo;
  if (absl::Status s = start(tgrack::v1::COLLECTIVE_BARRIER, "barrier", 0, "", &algo); !s.ok()) return s;
  return finish(coll::barrier(Group::all(*ctx_)));
}

void Communicator::abort(const std::string& why) {
  std::lock_guard<std::mutex> driving(driving_);
  ctx_->abort(absl::AbortedError(absl::StrCat("rank ", rank(), " aborted: ", why)), rank());
}

void Communicator::drop() {
  std::lock_guard<std::mutex> driving(driving_);
  ctx_->drop();
}

void Communicator::keep_alive_if_idle() {
  std::unique_lock<std::mutex> driving(driving_, std::try_to_lock);
  if (driving.owns_lock()) ctx_->keep_alive_between_operations();
}

void Communicator::cancel(const std::string& why) {
  ctx_->cancel(absl::AbortedError(absl::StrCat("rank ", rank(), " aborted: ", why)));
}

std::vector<PeerLink> Communicator::links() const {
  std::vector<PeerLink> out;
  for (uint32_t peer = 0; peer < size(); ++peer) {
    const Pair* p = ctx_->pair(peer);
    if (p == nullptr) continue;
    out.push_back(PeerLink{peer, p->transport(), p->peer_address(), p->counters()});
  }
  return out;
}

}  // namespace tg::coll
