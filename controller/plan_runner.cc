#include "controller/plan_runner.h"

#include <algorithm>
#include <set>
#include <thread>

#include <absl/strings/str_cat.h>
#include <spdlog/spdlog.h>

#include "controller/device_quota.h"
#include "controller/job_failure.h"
#include "controller/plan_inputs.h"
#include "controller/placement.h"
#include "controller/reply_size.h"
#include "devices/graph/graph_api.h"
#include "devices/job_usage.h"
#include "devices/shard.h"
#include "net/rpc.h"

namespace tg {

namespace v1 = tgrack::v1;

struct PlanRunner::Captured {
  std::string id;
  std::string session;
  std::string tenant;
  Plan unbound;              // As planned, with communicator placeholders.
  std::string placement;     // The unbound plan's devices and fragments, to compare captures.
  Plan bound;                // As installed on the daemons.
  std::mutex rebinding;
};

namespace {

// How long a daemon may take to answer GetNodeInfo before the controller takes it for lost.
constexpr std::chrono::seconds kLostProbeTimeout(2);

std::string name_of(const v1::DeviceRef& d) { return device_name(d.node(), d.index()); }

// What a plan's placement is, for comparing two captures of one graph.
std::string placement_text(const Plan& plan) {
  std::string text;
  for (size_t i = 0; i < plan.devices.size(); ++i) {
    absl::StrAppend(&text, name_of(plan.devices[i]), ":", plan.fragments[i].SerializeAsString(), ";");
  }
  return text;
}

// The devices of a plan as a short description, e.g. "a/0,b/0".
std::string plan_devices(const Plan& plan) { return devices_str(plan.devices); }

std::string tenant_of(const Caller& caller) {
  return caller.tenant.empty() ? "default" : caller.tenant;
}

}  // namespace

PlanRunner::PlanRunner(const Membership& membership, coll::CollectiveCoordinator& coordinator,
                       NodeStubs& stubs, JobRegistry& jobs, std::chrono::milliseconds run_timeout,
                       const GrantSigner& signer, std::chrono::milliseconds grant_lifetime)
    : membership_(membership),
      coordinator_(coordinator),
      stubs_(stubs),
      jobs_(jobs),
      run_timeout_(run_timeout),
      grants_(signer, grant_lifetime) {}

std::string PlanRunner::address_of(const std::string& node) const {
  auto info = membership_.node(node);
  return info.ok() ? info->address() : "";
}

bool PlanRunner::lost(const std::string& node, const std::string& address) {
  auto info = membership_.node(node);
  if (info.ok() && info->state() == v1::NODE_STATE_DOWN) return true;
  v1::NodeInfo reply;
  auto context = context_with_deadline(kLostProbeTimeout);
  const grpc::Status probe = stubs_.at(address).GetNodeInfo(context.get(), {}, &reply);
  return probe.error_code() == grpc::StatusCode::UNAVAILABLE ||
         probe.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

absl::StatusOr<Plan> PlanRunner::make_plan(const Ask& ask,
                                           const std::map<std::string, Layout>& fed_layouts) {
  auto validated = validate_graph(ask.graph);
  if (!validated.ok()) return validated.status();
  PlanOptions options;
  options.deterministic = ask.deterministic;
  options.input_layouts = fed_layouts;
  options.place = [this](const v1::Placement& placement) -> absl::StatusOr<v1::DeviceRef> {
    auto choice = tg::place(membership_.nodes(), placement,
                            [this](const std::string& node, uint32_t index) {
                              return jobs_.running_on(node, index);
                            });
    if (!choice.ok()) return choice.status();
    v1::DeviceRef device;
    device.set_node(choice->node);
    device.set_index(choice->index);
    return device;
  };
  options.address_of = [this](const std::string& node) { return address_of(node); };
  options.communicator = [](const std::vector<v1::DeviceRef>& devices) -> absl::StatusOr<std::string> {
    return comm_placeholder(devices);
  };
  return plan_graph(ask.graph, *validated, ask.placement, options);
}

absl::Status PlanRunner::check_devices(const Plan& plan, const Caller& caller) const {
  if (tenants_ == nullptr) return absl::OkStatus();
  return check_devices_quota(*tenants_, jobs_, caller, plan.devices, "the plan");
}

absl::Status PlanRunner::install(const std::string& plan_id, const Plan& plan,
                                 const std::string& tenant) {
  std::map<std::string, v1::InstallPlanRequest> per_node;
  for (size_t i = 0; i < plan.devices.size(); ++i) {
    v1::InstallPlanRequest& request = per_node[plan.devices[i].node()];
    request.set_plan_id(plan_id);
    request.set_tenant(tenant);
    v1::Fragment* fragment = request.add_fragments();
    fragment->set_device_index(plan.devices[i].index());
    *fragment->mutable_graph() = plan.fragments[i];
  }
  for (const auto& [node, request] : per_node) {
    v1::InstallPlanReply reply;
    auto context = context_with_deadline(run_timeout_);
    absl::Status status = from_grpc(stubs_.at(address_of(node)).InstallPlan(context.get(), request, &reply));
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("installing plan ", plan_id, " on node '",
                                                      node, "': ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<PlanRunner::Captured>> PlanRunner::capture(
    const Ask& ask, const std::map<std::string, Layout>& fed_layouts, Plan plan) {
  std::string fingerprint = ask.graph.SerializeAsString();
  absl::StrAppend(&fingerprint, "|", ask.placement.SerializeAsString(), "|",
                  ask.deterministic ? "deterministic" : "fast", "|", tenant_of(ask.caller));
  for (const auto& [name, layout] : fed_layouts) {  // Layouts of remote inputs.
    absl::StrAppend(&fingerprint, "|", name, "=", layout.str());
  }
  const std::string placement = placement_text(plan);
  {
    std::lock_guard lock(mu_);
    if (auto known = plan_by_fingerprint_.find(fingerprint); known != plan_by_fingerprint_.end()) {
      std::shared_ptr<Captured> existing = plans_.at(known->second);
      if (existing->placement == placement) return existing;
      return absl::FailedPreconditionError(absl::StrCat(
          "capture refused: this graph was captured as plan ", existing->id, " on ",
          plan_devices(existing->unbound), ", but planning it now places it differently (on ",
          plan_devices(plan), "); pin it with a placement, or drop plan ", existing->id, " first"));
    }
  }
  auto captured = std::make_shared<Captured>();
  captured->session = ask.session;
  captured->tenant = tenant_of(ask.caller);
  captured->unbound = plan;
  captured->placement = placement;
  if (absl::Status status = bind_communicators(plan); !status.ok()) return status;
  captured->bound = std::move(plan);
  {
    std::lock_guard lock(mu_);
    captured->id = "plan-" + std::to_string(next_plan_++);
  }
  if (absl::Status status = install(captured->id, captured->bound, captured->tenant);
      !status.ok()) {
    return status;
  }
  {
    std::lock_guard lock(mu_);
    plans_[captured->id] = captured;
    plan_by_fingerprint_[fingerprint] = captured->id;
  }
  if (sessions_ != nullptr && !captured->session.empty()) {
    sessions_->add_plan(captured->session, captured->id);
  }
  spdlog::info("captured {} over {}", captured->id, plan_devices(captured->bound));
  return captured;
}

absl::Status PlanRunner::drop(const std::string& plan_id, const std::string& scope) {
  std::shared_ptr<Captured> captured;
  {
    std::lock_guard lock(mu_);
    auto it = plans_.find(plan_id);
    if (it == plans_.end() || !in_scope(scope, it->second->tenant)) return absl::NotFoundError("plan '" + plan_id + "' is unknown");
    captured = it->second;
    plans_.erase(it);
    std::erase_if(plan_by_fingerprint_, [&](const auto& entry) { return entry.second == plan_id; });
  }
  std::set<std::string> nodes;
  for (const v1::DeviceRef& d : captured->bound.devices) nodes.insert(d.node());
  for (const std::string& node : nodes) {
    v1::DropPlanRequest request;
    request.set_plan_id(plan_id);
    v1::DropPlanReply reply;
    auto context = context_with_deadline(std::chrono::seconds(5));
    stubs_.at(address_of(node)).DropPlan(context.get(), request, &reply);
  }
  return absl::OkStatus();
}

void PlanRunner::drop_all(const std::vector<std::string>& plan_ids) {
  for (const std::string& id : plan_ids) drop(id).IgnoreError();
}

void PlanRunner::free_pieces(const std::vector<v1::TensorPiece>& pieces) {
  std::map<std::string, v1::FreeTensorsRequest> per_address;
  for (const v1::TensorPiece& piece : pieces) {
    per_address[piece.address()].add_tensor_ids(piece.tensor_id());
  }
  for (const auto& [address, request] : per_address) {
    v1::FreeTensorsReply reply;
    auto context = context_with_deadline(std::chrono::seconds(5));
    absl::Status status = from_grpc(stubs_.at(address).FreeTensors(context.get(), request, &reply));
    if (!status.ok()) spdlog::warn("freeing tensors on {}: {}", address, status.ToString());
  }
}

absl::StatusOr<v1::SubmitReply> PlanRunner::submit(const v1::SubmitRequest& request,
                                                   std::chrono::milliseconds caller_timeout,
                                                   const Caller& caller) {
  if (metrics_ != nullptr) metrics_->job_submitted();
  QueuedJob queued(metrics_);
  const auto submitted = std::chrono::steady_clock::now();
  auto reply = [&]() -> absl::StatusOr<v1::SubmitReply> {
    if ((request.inputs_size() > 0 || request.keep_size() > 0) && request.session().empty()) {
      return absl::InvalidArgumentError("remote tensors (inputs, keep) need a session");
    }
    if (!request.session().empty()) {
      if (sessions_ == nullptr) return absl::InternalError("sessions are not set up");
      if (absl::Status status = sessions_->check(request.session(), caller.scope());
          !status.ok()) {
        return status;
      }
    }
    std::map<std::string, v1::RemoteTensor> fed;
    for (const v1::NamedHandle& handle : request.inputs()) {
      auto tensor = sessions_->tensor(request.session(), handle.tensor_id());
      if (!tensor.ok()) {
        return absl::Status(tensor.status().code(), absl::StrCat("input '", handle.name(), "': ",
                                                                 tensor.status().message()));
      }
      if (!fed.emplace(handle.name(), *tensor).second) {
        return absl::InvalidArgumentError("input '" + handle.name() + "' is fed twice");
      }
    }

    if (!request.plan_id().empty()) {
      std::shared_ptr<Captured> captured = this->captured(request.plan_id(), caller.scope());
      if (captured == nullptr) {
        return absl::NotFoundError("plan '" + request.plan_id() + "' is unknown (never "
                                   "captured, or dropped)");
      }
      if (absl::Status status = check_inputs(captured->unbound, request, fed); !status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("replay of ", captured->id, " refused: ",
                                                       status.message()));
      }
      if (absl::Status status = check_devices(captured->unbound, caller); !status.ok()) {
        return status;
      }
      std::lock_guard rebinding(captured->rebinding);
      if (absl::Status status = refresh_communicators(*captured); !status.ok()) return status;
      return execute(request, captured->bound, captured->id, fed, caller_timeout, queued, caller);
    }

    std::map<std::string, Layout> fed_layouts;
    for (const auto& [name, tensor] : fed) {
      auto layout = Layout::from_sharding(tensor.layout(), tensor.shape_size());
      if (!layout.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("input '", name, "': ", layout.status().message()));
      }
      fed_layouts[name] = *layout;
    }
    const Ask ask{request.graph(), request.placement(), request.deterministic(), request.session(),
                  caller};
    auto plan = make_plan(ask, fed_layouts);
    if (!plan.ok()) return plan.status();
    if (absl::Status status = check_inputs(*plan, request, fed); !status.ok()) return status;
    if (absl::Status status = check_devices(*plan, caller); !status.ok()) return status;
    if (request.capture()) {
      auto captured = capture(ask, fed_layouts, *plan);
      if (!captured.ok()) return captured.status();
      std::lock_guard rebinding((*captured)->rebinding);
      return execute(request, (*captured)->bound, (*captured)->id, fed, caller_timeout, queued,
                     caller);
    }
    if (absl::Status status = bind_communicators(*plan); !status.ok()) return status;
    return execute(request, *plan, "", fed, caller_timeout, queued, caller);
  }();
  if (metrics_ != nullptr) {
    metrics_->job_done(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count(),
        reply.status().code());
  }
  return reply;
}

absl::StatusOr<v1::SubmitReply> PlanRunner::execute(
    const v1::SubmitRequest& request, const Plan& plan, const std::string& plan_id,
    const std::map<std::string, v1::RemoteTensor>& fed, std::chrono::milliseconds caller_timeout,
    QueuedJob& queued, const Caller& caller) {
  // The caller's deadline, when it comes first, is the daemons' too: a RunFragments call
  // whose deadline passes stops itself there.
  const bool caller_first = caller_timeout < run_timeout_ + std::chrono::seconds(5);
  const std::chrono::milliseconds run_timeout = std::min(run_timeout_, caller_timeout);
  auto fragment_of = [&](const v1::DeviceRef& device) {
    for (size_t i = 0; i < plan.devices.size(); ++i) {
      if (same_device(plan.devices[i], device)) return i;
    }
    return plan.devices.size();
  };
  std::vector<v1::FragmentRun> runs(plan.devices.size());
  for (size_t i = 0; i < runs.size(); ++i) runs[i].set_device_index(plan.devices[i].index());

  std::map<std::string, const v1::NamedTensor*> by_value;
  for (const v1::NamedTensor& feed : request.feeds()) by_value[feed.name()] = &feed;
  for (const PlannedValue& input : plan.inputs) {
    if (auto handle = fed.find(input.name); handle != fed.end()) {
      for (const PlannedPiece& piece : input.pieces) {
        v1::NamedTensorId* bound = runs[fragment_of(piece.device)].add_inputs();
        bound->set_name(piece.node);
        bound->set_tensor_id(handle->second.pieces(piece.index).tensor_id());
      }
      continue;
    }
    const v1::Tensor& whole = by_value.at(input.name)->tensor();
    std::vector<v1::Tensor> parts;
    if (input.layout.kind == Layout::Kind::kSharded) {
      auto tensor = HostTensor::from_proto(whole, "input '" + input.name + "'");
      if (!tensor.ok()) return tensor.status();
      auto shards = split_shards(*tensor, input.layout.axis, static_cast<uint32_t>(input.layout.shards));
      if (!shards.ok()) return shards.status();
      for (const HostTensor& shard : *shards) parts.push_back(shard.to_proto());
    }
    for (const PlannedPiece& piece : input.pieces) {
      v1::NamedTensor* feed = runs[fragment_of(piece.device)].add_feeds();
      feed->set_name(piece.node);
      *feed->mutable_tensor() = parts.empty() ? whole : parts[piece.index];
    }
  }

  std::vector<v1::RemoteTensor> kept;
  std::set<std::string> kept_names;
  for (const std::string& name : request.keep()) {
    auto output = std::find_if(plan.outputs.begin(), plan.outputs.end(),
                               [&](const PlannedValue& v) { return v.name == name; });
    if (output == plan.outputs.end()) {
      return absl::InvalidArgumentError("keep '" + name + "' is not an output of the graph");
    }
    if (!kept_names.insert(name).second) {
      return absl::InvalidArgumentError("keep '" + name + "' is listed twice");
    }
    v1::RemoteTensor tensor;
    tensor.set_id(sessions_->new_tensor_id());
    tensor.set_dtype(output->type.dtype);
    for (int64_t d : output->type.shape) tensor.add_shape(d);
    *tensor.mutable_layout() = output->layout.to_sharding();
    tensor.set_session(request.session());
    for (const PlannedPiece& piece : output->pieces) {
      const std::string local_id = absl::StrCat(tensor.id(), "/", piece.index);
      v1::NamedTensorId* keep = runs[fragment_of(piece.device)].add_keep();
      keep->set_name(piece.node);
      keep->set_tensor_id(local_id);
      v1::TensorPiece* stored = tensor.add_pieces();
      *stored->mutable_device() = piece.device;
      stored->set_address(address_of(piece.device.node()));
      stored->set_tensor_id(local_id);
      stored->set_shard(static_cast<uint32_t>(piece.index));
      *stored->mutable_grant() = grants_.read(piece.device, request.session(), caller);
    }
    kept.push_back(std::move(tensor));
  }
  std::vector<std::pair<std::string, TensorType>> returned_types;
  for (const PlannedValue& output : plan.outputs) {
    if (!kept_names.contains(output.name)) returned_types.emplace_back(output.name, output.type);
  }
  if (absl::Status status = check_returned_outputs(returned_types); !status.ok()) return status;

  const std::string job_id = jobs_.next_id();
  std::map<std::string, v1::RunFragmentsRequest> per_node;
  for (size_t i = 0; i < plan.devices.size(); ++i) {
    v1::RunFragmentsRequest& run = per_node[plan.devices[i].node()];
    run.set_job_id(job_id);
    run.set_plan_id(plan_id);
    if (plan_id.empty()) {
      v1::Fragment* fragment = run.add_fragments();
      fragment->set_device_index(plan.devices[i].index());
      *fragment->mutable_graph() = plan.fragments[i];
    }
    *run.add_runs() = std::move(runs[i]);
    run.set_timeout_ms(static_cast<uint32_t>(run_timeout.count()));
    run.set_session(request.session());
  }
  for (auto& [node, run] : per_node) {
    std::vector<uint32_t> devices;
    for (const v1::FragmentRun& r : run.runs()) devices.push_back(r.device_index());
    *run.mutable_grant() = grants_.work(node, devices, plan_id, request.session(),
                                        /*client_driven=*/false,
                                        run_timeout_ + std::chrono::seconds(30), caller);
  }
  std::vector<std::string> nodes;
  std::map<std::string, std::string> addresses;
  std::map<std::string, v1::SignedGrant> grants;  // The run's grant per node, for its cancel.
  for (const auto& [node, run] : per_node) {
    nodes.push_back(node);
    addresses[node] = address_of(node);
    grants[node] = run.grant();
  }
  auto cancel_on = [this, job_id, addresses, grants](const std::string& reason,
                                                     const std::string& except) {
    for (const auto& [node, address] : addresses) {
      if (node == except) continue;
      v1::CancelJobRequest cancel;
      cancel.set_job_id(job_id);
      cancel.set_reason(reason);
      *cancel.mutable_grant() = grants.at(node);
      v1::CancelJobReply reply;
      auto context = context_with_deadline(std::chrono::seconds(2));
      stubs_.at(address).CancelJob(context.get(), cancel, &reply);
    }
  };

  // Hold the job's communicators, in one global order so jobs cannot deadlock.
  std::vector<std::shared_ptr<std::mutex>> comm_locks;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, comm] : comms_) {
      if (std::find(plan.comm_ids.begin(), plan.comm_ids.end(), comm.id) != plan.comm_ids.end()) {
        comm_locks.push_back(comm.in_use);
      }
    }
  }
  std::vector<std::unique_lock<std::mutex>> held;
  for (auto& m : comm_locks) held.emplace_back(*m);

  jobs_.start(job_id, plan.devices, plan_id, request.session(),
              [cancel_on](const std::string& reason) { cancel_on(reason, ""); },
              tenant_of(caller));
  queued.started();
  spdlog::debug("{}: plan {} over {}", job_id, plan_id.empty() ? "(inline)" : plan_id,
                plan_devices(plan));

  struct Outcome {
    absl::Status status;
    v1::RunFragmentsReply reply;
    std::chrono::steady_clock::time_point done;
  };
  std::vector<Outcome> outcomes(nodes.size());
  std::mutex failure_mu;
  bool failed = false;
  auto run_on = [&](size_t i) {
    auto context = context_with_deadline(caller_first ? caller_timeout
                                                      : run_timeout_ + std::chrono::seconds(5));
    Outcome& out = outcomes[i];
    out.status = from_grpc(stubs_.at(addresses[nodes[i]])
                               .RunFragments(context.get(), per_node[nodes[i]], &out.reply));
    out.done = std::chrono::steady_clock::now();
    if (out.status.ok()) return;
    {
      std::lock_guard lock(failure_mu);
      if (failed) return;
      failed = true;
    }
    cancel_on(absl::StrCat(job_id, " failed on node '", nodes[i], "': ", out.status.message()),
              nodes[i]);
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < nodes.size(); ++i) threads.emplace_back(run_on, i);
  if (!nodes.empty()) run_on(0);  // A graph with no nodes plans no fragments.
  for (std::thread& t : threads) t.join();
  held.clear();

  std::vector<NodeOutcome> ended(nodes.size());
  size_t failures = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    ended[i].node = nodes[i];
    ended[i].address = addresses[nodes[i]];
    for (const v1::DeviceRef& d : plan.devices) {
      if (d.node() == nodes[i]) ended[i].devices.push_back(d);
    }
    ended[i].status = outcomes[i].status;
    ended[i].done = outcomes[i].done;
    if (!ended[i].status.ok()) ++failures;
  }
  // A lost daemon and the survivors that lost it as a peer all fail UNAVAILABLE: ask which
  // of them is gone.
  for (NodeOutcome& out : ended) {
    if (failures > 1 && out.status.code() == absl::StatusCode::kUnavailable) {
      out.lost = lost(out.node, out.address);
    }
  }
  absl::Status status = job_failure(job_id, ended);
  // A daemon whose run failed returns no usage: a failed job counts its other daemons' parts.
  v1::JobUsage usage;
  for (const Outcome& out : outcomes) add_usage(usage, out.reply.usage());
  const std::string cancelled = jobs_.finish(job_id, status, usage);
  if (metrics_ != nullptr) {
    metrics_->tenant_usage(tenant_of(caller), usage.flops(), usage.device_seconds(),
                           usage.bytes_moved());
  }
  if (!cancelled.empty()) status = absl::CancelledError(job_id + " cancelled: " + cancelled);
  if (!status.ok()) {
    spdlog::warn("{}", status.ToString());
    if (!plan.comm_ids.empty()) forget_communicators(plan);
    std::vector<v1::TensorPiece> pieces;
    for (const v1::RemoteTensor& tensor : kept) {
      pieces.insert(pieces.end(), tensor.pieces().begin(), tensor.pieces().end());
    }
    if (!pieces.empty()) free_pieces(pieces);
    return status;
  }

  // Outputs by (device, node name).
  std::map<std::pair<std::string, std::string>, const v1::Tensor*> returned;
  for (const Outcome& out : outcomes) {
    for (const v1::FragmentOutputs& fragment : out.reply.fragments()) {
      for (const v1::NamedTensor& t : fragment.outputs()) {
        const std::string node = nodes[&out - outcomes.data()];
        returned[{device_name(node, fragment.device_index()), t.name()}] = &t.tensor();
      }
    }
  }
  v1::SubmitReply reply;
  for (const PlannedValue& output : plan.outputs) {
    v1::Tensor* slot = reply.add_outputs();
    if (kept_names.contains(output.name)) continue;
    std::vector<HostTensor> parts;
    for (const PlannedPiece& piece : output.pieces) {
      auto it = returned.find({name_of(piece.device), piece.node});
      if (it == returned.end()) {
        return absl::InternalError(absl::StrCat(job_id, ": output '", output.name, "' piece ",
                                                piece.index, " did not come back from ",
                                                name_of(piece.device)));
      }
      if (output.layout.kind != Layout::Kind::kSharded) {
        *slot = *it->second;
        break;
      }
      auto part = HostTensor::from_proto(*it->second, "output '" + output.name + "'");
      if (!part.ok()) return part.status();
      parts.push_back(std::move(*part));
    }
    if (!parts.empty()) {
      auto whole = join_shards(parts, output.layout.axis);
      if (!whole.ok()) return whole.status();
      *slot = whole->to_proto();
    }
  }
  for (v1::RemoteTensor& tensor : kept) {
    if (absl::Status s = sessions_->add_tensor(tensor); !s.ok()) return s;
    *reply.add_kept() = std::move(tensor);
  }
  reply.set_job_id(job_id);
  reply.set_plan_id(plan_id);
  if (!plan.devices.empty()) *reply.mutable_device() = plan.devices.front();
  for (const v1::DeviceRef& d : plan.devices) *reply.add_devices() = d;
  return reply;
}

std::shared_ptr<PlanRunner::Captured> PlanRunner::captured(const std::string& plan_id,
                                                           const std::string& scope) {
  std::lock_guard lock(mu_);
  auto it = plans_.find(plan_id);
  return it == plans_.end() || !in_scope(scope, it->second->tenant) ? nullptr : it->second;
}

absl::Status PlanRunner::refresh_communicators(Captured& captured) {
  bool stale = false;
  {
    std::lock_guard lock(mu_);
    for (const std::string& id : captured.bound.comm_ids) {
      stale |= std::none_of(comms_.begin(), comms_.end(),
                            [&](const auto& entry) { return entry.second.id == id; });
    }
  }
  if (!stale) return absl::OkStatus();
  Plan rebound = captured.unbound;
  if (absl::Status status = bind_communicators(rebound); !status.ok()) return status;
  if (absl::Status status = install(captured.id, rebound, captured.tenant); !status.ok()) {
    return status;
  }
  captured.bound = std::move(rebound);
  return absl::OkStatus();
}

absl::StatusOr<v1::PlaceReply> PlanRunner::place(const v1::PlaceRequest& request,
                                                  const Caller& caller) {
  if (!request.session().empty()) {
    if (sessions_ == nullptr) return absl::InternalError("sessions are not set up");
    if (absl::Status status = sessions_->check(request.session(), caller.scope());
        !status.ok()) {
      return status;
    }
  }
  Plan plan;
  std::string plan_id;
  std::shared_ptr<Captured> held;
  if (!request.plan_id().empty()) {
    held = captured(request.plan_id(), caller.scope());
    if (held == nullptr) {
      return absl::NotFoundError("plan '" + request.plan_id() +
                                 "' is unknown (never captured, dropped, or captured by a "
                                 "controller that has restarted since)");
    }
    if (absl::Status status = check_devices(held->unbound, caller); !status.ok()) return status;
  } else {
    const Ask ask{request.graph(), request.placement(), request.deterministic(), request.session(),
                  caller};
    auto made = make_plan(ask, {});
    if (!made.ok()) return made.status();
    if (absl::Status status = check_devices(*made, caller); !status.ok()) return status;
    if (request.capture()) {
      auto captured = capture(ask, {}, *std::move(made));
      if (!captured.ok()) return captured.status();
      held = *std::move(captured);
    } else {
      if (absl::Status status = bind_communicators(*made); !status.ok()) return status;
      plan = *std::move(made);
    }
  }
  if (held != nullptr) {
    std::lock_guard rebinding(held->rebinding);
    if (absl::Status status = refresh_communicators(*held); !status.ok()) return status;
    plan = held->bound;
    plan_id = held->id;
  }
  std::vector<std::pair<std::string, TensorType>> returned;
  for (const PlannedValue& output : plan.outputs) returned.emplace_back(output.name, output.type);
  if (absl::Status status = check_returned_outputs(returned); !status.ok()) return status;

  v1::PlaceReply reply;
  std::map<std::string, uint32_t> daemon_of;  // Node -> index in reply.daemons.
  for (size_t i = 0; i < plan.devices.size(); ++i) {
    const std::string& node = plan.devices[i].node();
    auto [it, fresh] = daemon_of.emplace(node, reply.daemons_size());
    if (fresh) {
      v1::PlacedDaemon* daemon = reply.add_daemons();
      daemon->set_node(node);
      daemon->set_address(address_of(node));
      if (daemon->address().empty()) {
        return absl::UnavailableError("node '" + node + "' of the plan is no longer in the pool");
      }
    }
    v1::PlacedDaemon* daemon = reply.mutable_daemons(static_cast<int>(it->second));
    daemon->add_device_indices(plan.devices[i].index());
    if (plan_id.empty()) {
      v1::Fragment* fragment = daemon->add_fragments();
      fragment->set_device_index(plan.devices[i].index());
      *fragment->mutable_graph() = std::move(plan.fragments[i]);
    }
  }
  for (v1::PlacedDaemon& daemon : *reply.mutable_daemons()) {
    *daemon.mutable_grant() = grants_.work(daemon.node(), {daemon.device_indices().begin(),
                                                           daemon.device_indices().end()},
                                           plan_id, request.session(), /*client_driven=*/true,
                                           grants_.lifetime(), caller);
  }
  auto describe = [&](const PlannedValue& value, v1::PlacedValue* placed) {
    placed->set_name(value.name);
    placed->set_shard_axis(value.layout.kind == Layout::Kind::kSharded ? value.layout.axis : -1);
    placed->set_dtype(value.type.dtype);
    for (int64_t d : value.type.shape) placed->add_shape(d);
    for (const PlannedPiece& piece : value.pieces) {
      v1::PlacedPiece* out = placed->add_pieces();
      out->set_daemon(daemon_of.at(piece.device.node()));
      out->set_device_index(piece.device.index());
      out->set_node(piece.node);
      out->set_index(static_cast<uint32_t>(piece.index));
    }
  };
  for (const PlannedValue& input : plan.inputs) describe(input, reply.add_inputs());
  for (const PlannedValue& output : plan.outputs) describe(output, reply.add_outputs());
  reply.set_plan_id(plan_id);
  reply.set_expires_unix_ms(grants_.expires_unix_ms());
  reply.set_timeout_ms(static_cast<uint32_t>(run_timeout_.count()));
  return reply;
}

}  // namespace tg
