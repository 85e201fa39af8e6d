#include "collectives/coordinator.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>

#include "collectives/communicator.h"
#include "collectives/flight_trace.h"
#include "collectives/link_requirement.h"
#include "collectives/transport/tcp/handshake.h"
#include "net/rpc.h"

namespace tg::coll {
namespace {

using std::chrono::milliseconds;

milliseconds timeout_of(uint32_t ms) { return ms ? milliseconds(ms) : kDefaultTimeout; }

std::string device_name(const tgrack::v1::DeviceRef& ref) { return absl::StrCat(ref.node(), ":", ref.index()); }

}  // namespace

CollectiveCoordinator::CollectiveCoordinator(NodeLister nodes, StubFactory stubs)
    : nodes_(std::move(nodes)), stubs_(std::move(stubs)) {
  if (!stubs_) {
    stubs_ = [](const std::string& address) { return tgrack::v1::NodeService::NewStub(make_channel(address)); };
  }
}

std::vector<absl::Status> CollectiveCoordinator::fan_out(
    const std::vector<std::string>& addresses,
    const std::function<absl::Status(tgrack::v1::NodeService::StubInterface&, size_t)>& fn) {
  std::vector<absl::Status> out(addresses.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < addresses.size(); ++i) {
    threads.emplace_back([&, i] {
      auto stub = stubs_(addresses[i]);
      out[i] = fn(*stub, i);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

absl::StatusOr<tgrack::v1::CommunicatorSpec> CollectiveCoordinator::create(
    const tgrack::v1::CreateCommunicatorRequest& request) {
  std::map<std::string, tgrack::v1::NodeInfo> up;
  for (auto& node : nodes_()) {
    if (node.state() == tgrack::v1::NODE_STATE_UP) up[node.name()] = node;
  }
  std::vector<tgrack::v1::DeviceRef> devices(request.devices().begin(), request.devices().end());
  if (devices.empty()) {
    for (auto& [name, node] : up) {
      for (auto& d : node.devices()) {
        if (d.health() != tgrack::v1::HEALTH_UNHEALTHY) devices.push_back(d.ref());
      }
    }
    // Ranks of one rack next to each other: a ring crosses each rack uplink once each way.
    std::stable_sort(devices.begin(), devices.end(), [&](const auto& a, const auto& b) {
      return up[a.node()].rack() < up[b.node()].rack();
    });
    if (devices.empty()) return absl::FailedPreconditionError("no healthy device on any UP node");
  }
  std::set<std::string> seen;
  tgrack::v1::CommunicatorSpec spec;
  const milliseconds timeout = timeout_of(request.timeout_ms());
  spec.set_timeout_ms(request.timeout_ms());  // 0: each daemon's --collective-dead-after.
  spec.set_transport(request.transport());
  Comm comm;
  for (const auto& ref : devices) {
    auto node = up.find(ref.node());
    if (node == up.end()) {
      return absl::FailedPreconditionError(absl::StrCat("device ", device_name(ref), ": node '", ref.node(),
                                                        "' is not an UP node"));
    }
    const auto& infos = node->second.devices();
    auto dev = std::find_if(infos.begin(), infos.end(), [&](const auto& d) { return d.ref().index() == ref.index(); });
    if (dev == infos.end()) {
      return absl::NotFoundError(absl::StrCat("device ", device_name(ref), " does not exist (node has ",
                                              infos.size(), " devices)"));
    }
    if (dev->health() == tgrack::v1::HEALTH_UNHEALTHY) {
      return absl::FailedPreconditionError(absl::StrCat("device ", device_name(ref), " is unhealthy: ", dev->health_reason()));
    }
    if (!seen.insert(device_name(ref)).second) {
      return absl::InvalidArgumentError(absl::StrCat("device ", device_name(ref), " listed twice"));
    }
    if (node->second.data_address().empty()) {
      return absl::FailedPreconditionError(absl::StrCat("node ", ref.node(), " has no data plane address"));
    }
    auto* rank = spec.add_ranks();
    rank->set_rank(spec.ranks_size() - 1);
    *rank->mutable_device() = ref;
    rank->set_data_address(node->second.data_address());
    rank->set_rack(node->second.rack());
    if (std::find(comm.node_names.begin(), comm.node_names.end(), ref.node()) == comm.node_names.end()) {
      comm.node_names.push_back(ref.node());
      comm.node_addresses.push_back(node->second.address());
    }
  }
  if (absl::Status s = check_required_link(devices, up, request.require_link()); !s.ok()) return s;
  absl::StatusOr<std::string> secret = tcp::new_secret();
  if (!secret.ok()) return secret.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    spec.set_comm_id(absl::StrCat("comm-", next_id_++, "-", std::random_device{}() % 100000));
    spec.set_secret(*secret);
    comm.spec = spec;
    comms_[spec.comm_id()] = comm;
  }
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec;
  auto statuses = fan_out(comm.node_addresses, [&](tgrack::v1::NodeService::StubInterface& stub, size_t) {
    auto ctx = context_with_deadline(timeout + milliseconds(2000));
    tgrack::v1::JoinCommunicatorReply reply;
    return from_grpc(stub.JoinCommunicator(ctx.get(), join, &reply));
  });
  std::vector<std::string> errors;
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (!statuses[i].ok()) errors.push_back(absl::StrCat("node ", comm.node_names[i], ": ", statuses[i].message()));
  }
  if (!errors.empty()) {
    destroy(spec.comm_id()).IgnoreError();  // Tell the daemons that joined to leave.
    return absl::Status(statuses[0].ok() ? absl::StatusCode::kUnavailable : statuses[0].code(),
                        absl::StrCat("creating communicator ", spec.comm_id(), " failed: ", absl::StrJoin(errors, "; ")));
  }
  spec.clear_secret();  // Only the daemons of its ranks hold it.
  return spec;
}

absl::StatusOr<tgrack::v1::RunCollectiveReply> CollectiveCoordinator::run(
    const tgrack::v1::RunCollectiveRequest& request) {
  Comm comm;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = comms_.find(request.comm_id());
    if (it == comms_.end()) return absl::NotFoundError(absl::StrCat("no communicator ", request.comm_id()));
    comm = it->second;
  }
  const milliseconds timeout = timeout_of(comm.spec.timeout_ms());
  const auto limit = timeout * (request.warmup_iters() + std::max(1u, request.iters()) + 3);
  std::vector<tgrack::v1::RunCollectiveReply> replies(comm.node_addresses.size());
  auto statuses = fan_out(comm.node_addresses, [&](tgrack::v1::NodeService::StubInterface& stub, size_t i) {
    auto ctx = context_with_deadline(limit);
    return from_grpc(stub.RunCollective(ctx.get(), request, &replies[i]));
  });
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (!statuses[i].ok()) {
      return absl::Status(statuses[i].code(), absl::StrCat("node ", comm.node_names[i], ": ", statuses[i].message()));
    }
  }
  tgrack::v1::RunCollectiveReply merged;
  std::set<std::string> transports;
  for (auto& reply : replies) {
    for (auto& r : reply.results()) *merged.add_results() = r;
    for (auto t : absl::StrSplit(reply.transport(), '+')) transports.insert(std::string(t));
  }
  transports.erase("none");
  std::sort(merged.mutable_results()->begin(), merged.mutable_results()->end(),
            [](const auto& a, const auto& b) { return a.rank() < b.rank(); });
  merged.set_algorithm(replies[0].algorithm());
  merged.set_reason(replies[0].reason());
  merged.set_transport(transports.empty() ? "none" : absl::StrJoin(transports, "+"));
  return merged;
}

absl::Status CollectiveCoordinator::destroy(const std::string& comm_id) {
  Comm comm;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = comms_.find(comm_id);
    if (it == comms_.end()) return absl::NotFoundError(absl::StrCat("no communicator ", comm_id));
    comm = it->second;
    comms_.erase(it);
  }
  tgrack::v1::DestroyCommunicatorRequest req;
  req.set_comm_id(comm_id);
  const milliseconds timeout = timeout_of(comm.spec.timeout_ms());
  auto statuses = fan_out(comm.node_addresses, [&](tgrack::v1::NodeService::StubInterface& stub, size_t) {
    auto ctx = context_with_deadline(timeout + milliseconds(2000));
    tgrack::v1::DestroyCommunicatorReply reply;
    absl::Status s = from_grpc(stub.DestroyCommunicator(ctx.get(), req, &reply));
    return s.code() == absl::StatusCode::kNotFound ? absl::OkStatus() : s;
  });
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (!statuses[i].ok()) {
      return absl::Status(statuses[i].code(), absl::StrCat("node ", comm.node_names[i], ": ", statuses[i].message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CollectiveCoordinator::Comm> CollectiveCoordinator::find(const std::string& comm_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = comms_.find(comm_id);
  if (it == comms_.end()) return absl::NotFoundError(absl::StrCat("no communicator ", comm_id));
  return it->second;
}

std::map<std::string, absl::StatusOr<tgrack::v1::GetFlightRecordsReply>> CollectiveCoordinator::records(
    const std::vector<std::string>& addresses, const std::vector<std::string>& names) {
  std::vector<tgrack::v1::GetFlightRecordsReply> replies(addresses.size());
  auto statuses = fan_out(addresses, [&](tgrack::v1::NodeService::StubInterface& stub, size_t i) {
    auto ctx = context_with_deadline(kRecordsDeadline);
    return from_grpc(stub.GetFlightRecords(ctx.get(), tgrack::v1::GetFlightRecordsRequest(), &replies[i]));
  });
  std::map<std::string, absl::StatusOr<tgrack::v1::GetFlightRecordsReply>> out;
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (statuses[i].ok()) {
      out.emplace(names[i], std::move(replies[i]));
    } else {
      out.emplace(names[i], absl::Status(statuses[i].code(), absl::StrCat("node ", names[i], " at ", addresses[i],
                                                                          ": ", statuses[i].message())));
    }
  }
  return out;
}

tgrack::v1::TraceCommunicatorReply CollectiveCoordinator::trace_of(
    const Comm& comm,
    const std::map<std::string, absl::StatusOr<tgrack::v1::GetFlightRecordsReply>>& records) {
  std::vector<NodeRecords> nodes;
  for (const std::string& name : comm.node_names) {
    auto it = records.find(name);
    if (it == records.end()) continue;
    if (!it->second.ok()) {
      nodes.push_back({name, it->second.status()});
      continue;
    }
    absl::StatusOr<tgrack::v1::CommunicatorFlight> flight =
        absl::NotFoundError(absl::StrCat("node ", name, " holds no communicator ", comm.spec.comm_id()));
    for (const auto& c : it->second->communicators()) {
      if (c.comm_id() == comm.spec.comm_id()) flight = c;
    }
    nodes.push_back({name, std::move(flight)});
  }
  return trace_communicator(comm.spec, nodes, std::chrono::system_clock::now());
}

std::vector<tgrack::v1::CommunicatorSummary> CollectiveCoordinator::list() {
  std::vector<Comm> comms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, comm] : comms_) comms.push_back(comm);
  }
  std::vector<std::string> addresses, names;
  for (const Comm& comm : comms) {
    for (size_t i = 0; i < comm.node_names.size(); ++i) {
      if (std::find(names.begin(), names.end(), comm.node_names[i]) != names.end()) continue;
      names.push_back(comm.node_names[i]);
      addresses.push_back(comm.node_addresses[i]);
    }
  }
  const auto by_node = records(addresses, names);
  std::vector<tgrack::v1::CommunicatorSummary> out;
  for (const Comm& comm : comms) out.push_back(summarize(comm.spec, trace_of(comm, by_node)));
  return out;
}

absl::StatusOr<tgrack::v1::TraceCommunicatorReply> CollectiveCoordinator::trace(const std::string& comm_id) {
  absl::StatusOr<Comm> comm = find(comm_id);
  if (!comm.ok()) return comm.status();
  return trace_of(*comm, records(comm->node_addresses, comm->node_names));
}

absl::StatusOr<tgrack::v1::CommunicatorSpec> CollectiveCoordinator::replace(
    const Comm& old, const std::vector<tgrack::v1::DeviceRef>& devices, const std::set<std::string>& skip_nodes) {
  tgrack::v1::CreateCommunicatorRequest create;
  for (const auto& d : devices) *create.add_devices() = d;
  create.set_timeout_ms(old.spec.timeout_ms());
  create.set_transport(old.spec.transport());
  absl::StatusOr<tgrack::v1::CommunicatorSpec> made = this->create(create);
  if (!made.ok()) return made.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    comms_.erase(old.spec.comm_id());
  }
  std::vector<std::string> addresses, names;
  for (size_t i = 0; i < old.node_names.size(); ++i) {
    if (skip_nodes.count(old.node_names[i])) continue;
    names.push_back(old.node_names[i]);
    addresses.push_back(old.node_addresses[i]);
  }
  tgrack::v1::DestroyCommunicatorRequest leave;
  leave.set_comm_id(old.spec.comm_id());
  const milliseconds timeout = timeout_of(old.spec.timeout_ms());
  // A survivor still failing a run on the old communicator leaves it when that run ends.
  fan_out(addresses, [&](tgrack::v1::NodeService::StubInterface& stub, size_t) {
    auto ctx = context_with_deadline(timeout + milliseconds(2000));
    tgrack::v1::DestroyCommunicatorReply reply;
    return from_grpc(stub.DestroyCommunicator(ctx.get(), leave, &reply));
  });
  return made;
}

absl::StatusOr<tgrack::v1::ShrinkCommunicatorReply> CollectiveCoordinator::shrink(
    const tgrack::v1::ShrinkCommunicatorRequest& request) {
  absl::StatusOr<Comm> comm = find(request.comm_id());
  if (!comm.ok()) return comm.status();
  std::set<std::string> removed, silent_nodes;
  for (const auto& ref : request.remove()) {
    const auto& ranks = comm->spec.ranks();
    if (std::none_of(ranks.begin(), ranks.end(), [&](const auto& r) { return device_name(r.device()) == device_name(ref); })) {
      return absl::InvalidArgumentError(absl::StrCat("device ", ref.node(), "/", ref.index(), " has no rank in communicator ",
                                                     request.comm_id()));
    }
    removed.insert(device_name(ref));
  }
  if (request.remove().empty()) {
    for (const auto& [node, reply] : records(comm->node_addresses, comm->node_names)) {
      if (reply.ok()) continue;
      silent_nodes.insert(node);
      for (const auto& r : comm->spec.ranks()) {
        if (r.device().node() == node) removed.insert(device_name(r.device()));
      }
    }
    if (removed.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("every daemon of communicator ", request.comm_id(),
                                                        " answers; name the devices to remove"));
    }
  }
  tgrack::v1::ShrinkCommunicatorReply reply;
  std::vector<tgrack::v1::DeviceRef> survivors;
  for (const auto& r : comm->spec.ranks()) {
    (removed.count(device_name(r.device())) ? *reply.add_removed() : survivors.emplace_back()) = r.device();
  }
  if (survivors.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("communicator ", request.comm_id(), " would have no rank left"));
  }
  absl::StatusOr<tgrack::v1::CommunicatorSpec> spec = replace(*comm, survivors, silent_nodes);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat("shrinking communicator ", request.comm_id(), ": ",
                                                           spec.status().message()));
  }
  *reply.mutable_spec() = std::move(*spec);
  return reply;
}

absl::StatusOr<tgrack::v1::GrowCommunicatorReply> CollectiveCoordinator::grow(
    const tgrack::v1::GrowCommunicatorRequest& request) {
  absl::StatusOr<Comm> comm = find(request.comm_id());
  if (!comm.ok()) return comm.status();
  if (request.add().empty()) return absl::InvalidArgumentError("grow needs devices to add");
  std::vector<tgrack::v1::DeviceRef> devices;
  for (const auto& r : comm->spec.ranks()) devices.push_back(r.device());
  devices.insert(devices.end(), request.add().begin(), request.add().end());
  absl::StatusOr<tgrack::v1::CommunicatorSpec> spec = replace(*comm, devices, {});
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat("growing communicator ", request.comm_id(), ": ",
                                                           spec.status().message()));
  }
  tgrack::v1::GrowCommunicatorReply reply;
  *reply.mutable_spec() = std::move(*spec);
  return reply;
}

}  // namespace tg::coll
