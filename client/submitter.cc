#include "client/submitter.h"

#include <algorithm>
#include <future>
#include <tuple>

#include <absl/strings/str_cat.h>

#include "devices/shard.h"
#include "devices/tensor.h"
#include "net/random_id.h"
#include "net/rpc.h"

namespace tg {

namespace v1 = tgrack::v1;

struct Submitter::Placed {
  v1::PlaceReply reply;
  std::chrono::system_clock::time_point renew_at;  // A fifth of the grants' lifetime before expiry.
};

namespace {

std::chrono::system_clock::time_point from_unix_ms(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

// Whether the controller runs `request` itself (Submit): graphs that read or keep remote
// tensors (it keeps their books), and one-off graphs spread over several devices (it holds
// their communicators while they run and names the daemon at fault when one dies). Every
// other graph, and every captured plan, runs on the daemons directly.
bool controller_drives(const v1::SubmitRequest& request) {
  if (request.inputs_size() > 0 || request.keep_size() > 0) return true;
  if (request.capture() || !request.plan_id().empty()) return false;
  return request.deterministic() ||
         std::any_of(request.graph().nodes().begin(), request.graph().nodes().end(),
                     [](const v1::Node& node) {
                       return node.has_placement() || node.sharding().devices_size() > 0;
                     });
}

// Every INPUT of the plan fed once, with its planned dtype and shape, and every feed an INPUT.
absl::Status check_feeds(const v1::PlaceReply& plan,
                         const std::map<std::string, v1::NamedTensor*>& feeds) {
  for (const v1::PlacedValue& input : plan.inputs()) {
    const TensorType planned{input.dtype(), {input.shape().begin(), input.shape().end()}};
    auto feed = feeds.find(input.name());
    if (feed == feeds.end()) {
      return absl::InvalidArgumentError("input '" + input.name() + "' (" + planned.str() +
                                        ") is not fed");
    }
    const v1::Tensor& tensor = feed->second->tensor();
    const TensorType got{tensor.dtype(), {tensor.shape().begin(), tensor.shape().end()}};
    if (!(got == planned)) {
      return absl::InvalidArgumentError("input '" + input.name() + "': expected " +
                                        planned.str() + ", got " + got.str());
    }
  }
  for (const auto& [name, feed] : feeds) {
    if (std::none_of(plan.inputs().begin(), plan.inputs().end(),
                     [&](const v1::PlacedValue& input) { return input.name() == name; })) {
      return absl::InvalidArgumentError("feed '" + name + "' names no INPUT of the graph");
    }
  }
  return absl::OkStatus();
}

// A placement's reply, with the time to renew its grants.
std::shared_ptr<Submitter::Placed> with_renewal(v1::PlaceReply reply) {
  auto placed = std::make_shared<Submitter::Placed>();
  const auto now = std::chrono::system_clock::now();
  const auto expires = from_unix_ms(reply.expires_unix_ms());
  placed->renew_at = expires <= now ? now : expires - (expires - now) / 5;
  placed->reply = std::move(reply);
  return placed;
}

}  // namespace

Submitter::Submitter(std::shared_ptr<v1::ControllerService::Stub> stub)
    : stub_(std::move(stub)) {}

v1::NodeService::Stub& Submitter::daemon(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = daemons_[address];
  if (!stub) stub = v1::NodeService::NewStub(make_channel(address));
  return *stub;
}

absl::StatusOr<v1::SubmitReply> Submitter::submit(v1::SubmitRequest& request,
                                                  std::chrono::milliseconds timeout) {
  if (controller_drives(request)) {
    v1::SubmitReply reply;
    auto context = context_with_deadline(timeout);
    absl::Status status = from_grpc(stub_->Submit(context.get(), request, &reply));
    if (!status.ok()) return status;
    return reply;
  }
  auto placed = request.plan_id().empty() ? place(request, timeout)
                                          : captured(request.plan_id(), request.session(), timeout);
  if (!placed.ok()) return placed.status();
  return run(**placed, request, timeout);
}

absl::StatusOr<std::shared_ptr<Submitter::PlacedRuns>> Submitter::place_once(
    const v1::SubmitRequest& request, std::chrono::milliseconds timeout) {
  auto runs = std::make_shared<PlacedRuns>();
  *runs->request.mutable_graph() = request.graph();
  *runs->request.mutable_placement() = request.placement();
  runs->request.set_session(request.session());
  runs->request.set_deterministic(request.deterministic());
  if (controller_drives(runs->request) || request.inputs_size() > 0 || request.keep_size() > 0) {
    return absl::FailedPreconditionError(
        "this graph cannot be placed once and run many times: it reads or keeps remote tensors, "
        "is deterministic, or is spread over several devices, so the controller runs it (run it "
        "with Client::run, or capture it and replay it)");
  }
  v1::SubmitRequest placing = runs->request;
  auto placed = place(placing, timeout);
  if (!placed.ok()) return placed.status();
  runs->placed = *std::move(placed);
  return runs;
}

absl::StatusOr<v1::SubmitReply> Submitter::run_placed(PlacedRuns& runs, v1::SubmitRequest& request,
                                                      std::chrono::milliseconds timeout) {
  std::shared_ptr<const Placed> placed;
  {
    std::lock_guard lock(runs.mu);
    placed = runs.placed;
  }
  const auto now = std::chrono::system_clock::now();
  if (now >= placed->renew_at) {
    v1::SubmitRequest placing = runs.request;
    auto fresh = place(placing, timeout);
    if (fresh.ok()) {
      std::lock_guard lock(runs.mu);
      runs.placed = placed = *std::move(fresh);
    } else if (now >= from_unix_ms(placed->reply.expires_unix_ms())) {
      // The controller is away and the grants in hand have expired.
      return fresh.status();
    }
  }
  request.set_session(runs.request.session());
  return run(*placed, request, timeout);
}

absl::StatusOr<std::shared_ptr<const Submitter::Placed>> Submitter::place(
    v1::SubmitRequest& request, std::chrono::milliseconds timeout) {
  v1::PlaceRequest place;
  place.mutable_graph()->Swap(request.mutable_graph());  // Lent for the call, not copied.
  *place.mutable_placement() = request.placement();
  place.set_session(request.session());
  place.set_deterministic(request.deterministic());
  place.set_capture(request.capture());
  v1::PlaceReply reply;
  auto context = context_with_deadline(timeout);
  absl::Status status = from_grpc(stub_->Place(context.get(), place, &reply));
  request.mutable_graph()->Swap(place.mutable_graph());
  if (!status.ok()) return status;
  std::shared_ptr<Placed> placed = with_renewal(std::move(reply));
  if (!placed->reply.plan_id().empty()) {
    std::lock_guard lock(mu_);
    plans_[placed->reply.plan_id()] = placed;
  }
  return placed;
}

absl::StatusOr<std::shared_ptr<const Submitter::Placed>> Submitter::captured(
    const std::string& plan_id, const std::string& session, std::chrono::milliseconds timeout) {
  std::shared_ptr<const Placed> known;
  {
    std::lock_guard lock(mu_);
    if (auto it = plans_.find(plan_id); it != plans_.end()) known = it->second;
  }
  const auto now = std::chrono::system_clock::now();
  if (known != nullptr && now < known->renew_at) return known;
  v1::PlaceRequest renew;
  renew.set_plan_id(plan_id);
  renew.set_session(session);
  v1::PlaceReply reply;
  auto context = context_with_deadline(timeout);
  absl::Status status = from_grpc(stub_->Place(context.get(), renew, &reply));
  if (!status.ok()) {
    // The controller is away: the grants in hand are good until they expire.
    if (known != nullptr && now < from_unix_ms(known->reply.expires_unix_ms())) return known;
    return status;
  }
  std::shared_ptr<Placed> placed = with_renewal(std::move(reply));
  std::lock_guard lock(mu_);
  plans_[plan_id] = placed;
  return std::shared_ptr<const Placed>(placed);
}

absl::StatusOr<v1::SubmitReply> Submitter::run(const Placed& placed, v1::SubmitRequest& request,
                                               std::chrono::milliseconds timeout) {
  const v1::PlaceReply& plan = placed.reply;
  const std::string job_id = random_id("job-");
  std::vector<v1::RunFragmentsRequest> runs(plan.daemons_size());
  std::vector<std::map<uint32_t, v1::FragmentRun*>> by_device(runs.size());
  for (int d = 0; d < plan.daemons_size(); ++d) {
    const v1::PlacedDaemon& daemon = plan.daemons(d);
    v1::RunFragmentsRequest& run = runs[d];
    run.set_job_id(job_id);
    run.set_plan_id(plan.plan_id());
    *run.mutable_fragments() = daemon.fragments();
    *run.mutable_grant() = daemon.grant();
    run.set_timeout_ms(plan.timeout_ms());
    run.set_session(request.session());
    for (uint32_t index : daemon.device_indices()) {
      v1::FragmentRun* fragment = run.add_runs();
      fragment->set_device_index(index);
      by_device[d][index] = fragment;
    }
  }

  std::map<std::string, v1::NamedTensor*> feeds;
  for (v1::NamedTensor& feed : *request.mutable_feeds()) feeds.emplace(feed.name(), &feed);
  if (absl::Status status = check_feeds(plan, feeds); !status.ok()) {
    if (request.plan_id().empty()) return status;
    return absl::InvalidArgumentError(
        absl::StrCat("replay of ", plan.plan_id(), " refused: ", status.message()));
  }
  for (const v1::PlacedValue& input : plan.inputs()) {
    auto feed = feeds.find(input.name());
    v1::Tensor& whole = *feed->second->mutable_tensor();
    std::vector<v1::Tensor> shards;
    if (input.shard_axis() >= 0) {
      auto tensor = HostTensor::from_proto(whole, "input '" + input.name() + "'");
      if (!tensor.ok()) return tensor.status();
      auto split = split_shards(*tensor, input.shard_axis(), input.pieces_size());
      if (!split.ok()) return split.status();
      for (const HostTensor& shard : *split) shards.push_back(shard.to_proto());
    }
    for (int p = 0; p < input.pieces_size(); ++p) {
      const v1::PlacedPiece& piece = input.pieces(p);
      v1::NamedTensor* fed = by_device.at(piece.daemon()).at(piece.device_index())->add_feeds();
      fed->set_name(piece.node());
      if (!shards.empty()) {
        *fed->mutable_tensor() = std::move(shards[piece.index()]);
      } else if (p + 1 == input.pieces_size()) {
        *fed->mutable_tensor() = std::move(whole);  // The last piece takes the feed itself.
      } else {
        *fed->mutable_tensor() = whole;
      }
    }
  }

  std::vector<v1::RunFragmentsReply> replies(runs.size());
  std::vector<absl::Status> statuses(runs.size());
  auto cancel_others = [&](size_t failed) {
    for (size_t d = 0; d < runs.size(); ++d) {
      if (d == failed) continue;
      v1::CancelJobRequest cancel;
      cancel.set_job_id(job_id);
      cancel.set_reason(absl::StrCat(job_id, " failed on node '", plan.daemons(failed).node(),
                                     "': ", statuses[failed].message()));
      *cancel.mutable_grant() = plan.daemons(d).grant();
      v1::CancelJobReply reply;
      auto context = context_with_deadline(std::chrono::seconds(2));
      daemon(plan.daemons(d).address()).CancelJob(context.get(), cancel, &reply);
    }
  };
  std::mutex failure_mu;
  bool failed = false;
  auto run_on = [&](size_t d) {
    auto context = context_with_deadline(timeout);
    statuses[d] = from_grpc(
        daemon(plan.daemons(d).address()).RunFragments(context.get(), runs[d], &replies[d]));
    if (statuses[d].ok() || runs.size() == 1) return;
    {
      std::lock_guard lock(failure_mu);
      if (failed) return;
      failed = true;
    }
    cancel_others(d);
  };
  std::vector<std::future<void>> others;
  for (size_t d = 1; d < runs.size(); ++d) others.push_back(std::async(std::launch::async, run_on, d));
  if (!runs.empty()) run_on(0);
  for (auto& other : others) other.get();
  for (size_t d = 0; d < runs.size(); ++d) {
    if (statuses[d].ok()) continue;
    const v1::PlacedDaemon& daemon = plan.daemons(d);
    std::string where = absl::StrCat(job_id, " on node '", daemon.node(), "'");
    if (absl::IsUnavailable(statuses[d])) {
      absl::StrAppend(&where, " at ", daemon.address(), " is unreachable");
    }
    return absl::Status(statuses[d].code(), absl::StrCat(where, ": ", statuses[d].message()));
  }

  // Outputs by (daemon, device, node name).
  std::map<std::tuple<uint32_t, uint32_t, std::string>, v1::Tensor*> returned;
  for (size_t d = 0; d < replies.size(); ++d) {
    for (v1::FragmentOutputs& fragment : *replies[d].mutable_fragments()) {
      for (v1::NamedTensor& output : *fragment.mutable_outputs()) {
        returned[{static_cast<uint32_t>(d), fragment.device_index(), output.name()}] =
            output.mutable_tensor();
      }
    }
  }
  v1::SubmitReply reply;
  for (const v1::PlacedValue& output : plan.outputs()) {
    v1::Tensor* slot = reply.add_outputs();
    std::vector<HostTensor> shards;
    for (const v1::PlacedPiece& piece : output.pieces()) {
      auto it = returned.find({piece.daemon(), piece.device_index(), piece.node()});
      if (it == returned.end()) {
        return absl::InternalError(absl::StrCat(job_id, ": output '", output.name(), "' piece ",
                                                piece.index(), " did not come back from node '",
                                                plan.daemons(piece.daemon()).node(), "'"));
      }
      if (output.shard_axis() < 0) {
        *slot = std::move(*it->second);
        break;
      }
      auto shard = HostTensor::from_proto(*it->second, "output '" + output.name() + "'");
      if (!shard.ok()) return shard.status();
      shards.push_back(*std::move(shard));
    }
    if (!shards.empty()) {
      auto whole = join_shards(shards, output.shard_axis());
      if (!whole.ok()) return whole.status();
      *slot = whole->to_proto();
    }
  }
  reply.set_job_id(job_id);
  reply.set_plan_id(plan.plan_id());
  for (const v1::PlacedDaemon& daemon : plan.daemons()) {
    for (uint32_t index : daemon.device_indices()) {
      v1::DeviceRef* device = reply.add_devices();
      device->set_node(daemon.node());
      device->set_index(index);
    }
  }
  if (reply.devices_size() > 0) *reply.mutable_device() = reply.devices(0);
  return reply;
}

}  // namespace tg
