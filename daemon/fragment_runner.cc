#include "daemon/fragment_runner.h"

#include <absl/strings/str_cat.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <thread>

#include "collectives/collective_runtime.h"
#include "daemon/call_watch.h"
#include "devices/graph/executor.h"
#include "devices/job_usage.h"
#include "net/rpc.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using Clock = std::chrono::steady_clock;

std::string device_label(const v1::DeviceRef& ref) {
  return absl::StrCat(ref.node(), "/", ref.index());
}

absl::Status prefixed(const absl::Status& status, const std::string& prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

template <class Range>
std::vector<const tgrack::v1::Fragment*> fragments_of(const Range& range) {
  std::vector<const tgrack::v1::Fragment*> fragments;
  fragments.reserve(range.size());
  for (const tgrack::v1::Fragment& fragment : range) fragments.push_back(&fragment);
  return fragments;
}

GraphLimits fragment_limits() {
  GraphLimits limits;
  limits.internal_ops = true;
  limits.listed_order = true;
  return limits;
}

}  // namespace

// The internal ops of one fragment: transfers through the mailbox or PushTensor, collectives
// on this device's communicator rank. Every wait is bounded and woken by the run's token.
class FragmentRunner::Hooks final : public InternalOps {
 public:
  Hooks(FragmentRunner& runner, const std::string& job_id, uint32_t device_index,
        std::chrono::milliseconds timeout, CancelToken& token)
      : runner_(runner),
        job_id_(job_id),
        device_index_(device_index),
        timeout_(timeout),
        token_(token) {}

  absl::StatusOr<HostTensor> recv(const v1::Node& node, const TensorType&) override {
    return runner_.deps_.mailbox->take(job_id_, node.transfer().key(),
                                       device_label(node.transfer().peer()), timeout_, &token_);
  }

  absl::Status send(const v1::Node& node, const HostTensor& value) override {
    const auto started = std::chrono::steady_clock::now();
    const bool local = node.transfer().peer().node() == runner_.deps_.node_name;
    absl::Status status = local ? send_local(node, value) : push(node, value);
    if (status.ok()) bytes_sent_ += value.bytes();
    if (runner_.deps_.transfer_done) {
      runner_.deps_.transfer_done(
          device_label(node.transfer().peer()), local ? "host_staged" : "tcp", value.bytes(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
          status.code());
    }
    return status;
  }

  // Delivers the value to the RECV on another device of this daemon (the mailbox).
  absl::Status send_local(const v1::Node& node, const HostTensor& value) {
    const v1::Transfer& transfer = node.transfer();
    if (transfer.peer().index() >= runner_.deps_.device_count) {
      return absl::InvalidArgumentError(
          absl::StrCat("sends to ", device_label(transfer.peer()), ", a device this node lacks"));
    }
    return runner_.deps_.mailbox->put(job_id_, transfer.key(), value);
  }

  // Delivers the value to the RECV on another daemon (NodeService.PushTensor).
  absl::Status push(const v1::Node& node, const HostTensor& value) {
    const v1::Transfer& transfer = node.transfer();
    v1::PushTensorRequest request;
    request.set_job_id(job_id_);
    request.set_key(transfer.key());
    *request.mutable_to() = transfer.peer();
    *request.mutable_tensor() = value.to_proto();
    v1::PushTensorReply reply;
    auto context = context_with_deadline(timeout_);
    grpc::ClientContext* raw = context.get();
    const uint64_t wake = token_.on_cancel([raw] { raw->TryCancel(); });
    const grpc::Status status =
        runner_.stub(transfer.peer_address()).PushTensor(raw, request, &reply);
    token_.remove(wake);
    if (token_.cancelled()) return token_.status();
    if (!status.ok()) {
      return prefixed(from_grpc(status), absl::StrCat("transfer '", transfer.key(), "' to ",
                                                      device_label(transfer.peer()), " at ",
                                                      transfer.peer_address(), ": "));
    }
    return absl::OkStatus();
  }

  // Bytes this fragment's SENDs delivered and its collectives sent.
  uint64_t bytes_sent() const { return bytes_sent_; }

  absl::Status all_reduce(const v1::Node& node, HostTensor& value) override {
    return on_communicator(node, [&](coll::Communicator& comm) {
      return comm.all_reduce(value.data(), value.data(), value.elements(), value.dtype(),
                             node.collective().op());
    });
  }

  absl::Status all_gather(const v1::Node& node, const HostTensor& in, HostTensor& out) override {
    return on_communicator(node, [&](coll::Communicator& comm) -> absl::Status {
      if (comm.size() != node.collective().world_size()) {
        return absl::FailedPreconditionError(
            absl::StrCat("collective.world_size is ", node.collective().world_size(),
                         " but communicator ", comm.id(), " has ", comm.size(), " ranks"));
      }
      return comm.all_gather(out.data(), in.data(), out.elements(), out.dtype());
    });
  }

 private:
  // Runs `op` on this device's rank of the node's communicator; a cancellation meanwhile
  // cancels the communicator (from the canceller's thread), which tells its peers.
  absl::Status on_communicator(const v1::Node& node,
                               const std::function<absl::Status(coll::Communicator&)>& op) {
    auto comm = runner_.deps_.collectives->communicator(node.collective().comm_id(), device_index_);
    if (!comm.ok()) return comm.status();
    std::shared_ptr<coll::Communicator> shared = *comm;
    const uint64_t abort =
        token_.on_cancel([shared, this] { shared->cancel(std::string(token_.status().message())); });
    const uint64_t sent_before = link_bytes_sent(*shared);
    absl::Status status = op(*shared);
    bytes_sent_ += link_bytes_sent(*shared) - sent_before;  // Only this thread drives the rank.
    token_.remove(abort);
    if (!status.ok() && token_.cancelled()) return token_.status();
    return status;
  }

  static uint64_t link_bytes_sent(const coll::Communicator& comm) {
    uint64_t bytes = 0;
    for (const coll::PeerLink& link : comm.links()) bytes += link.counters.sent_bytes;
    return bytes;
  }

  FragmentRunner& runner_;
  const std::string& job_id_;
  const uint32_t device_index_;
  const std::chrono::milliseconds timeout_;
  CancelToken& token_;
  uint64_t bytes_sent_ = 0;
};

FragmentRunner::FragmentRunner(FragmentRunnerDeps deps) : deps_(std::move(deps)) {}

absl::Status FragmentRunner::check_fragments(const Fragments& fragments) const {
  std::set<uint32_t> devices;
  for (const v1::Fragment* each : fragments) {
    const v1::Fragment& fragment = *each;
    const std::string device = absl::StrCat(deps_.node_name, "/", fragment.device_index());
    if (fragment.device_index() >= deps_.device_count) {
      return absl::InvalidArgumentError(absl::StrCat("fragment for device ", device, ": node ",
                                                     deps_.node_name, " has ", deps_.device_count,
                                                     " devices"));
    }
    if (!devices.insert(fragment.device_index()).second) {
      return absl::InvalidArgumentError(absl::StrCat("two fragments for device ", device));
    }
    auto validated = validate_graph(fragment.graph(), fragment_limits());
    if (!validated.ok()) {
      return prefixed(validated.status(), absl::StrCat("fragment for device ", device, ": "));
    }
  }
  return absl::OkStatus();
}

absl::Status FragmentRunner::install(const v1::InstallPlanRequest& request) {
  if (request.plan_id().empty()) return absl::InvalidArgumentError("InstallPlan needs a plan_id");
  auto plan = std::make_shared<Plan>(request.fragments().begin(), request.fragments().end());
  if (absl::Status s = check_fragments(fragments_of(*plan)); !s.ok()) {
    return prefixed(s, absl::StrCat("plan '", request.plan_id(), "': "));
  }
  std::lock_guard lock(mu_);
  auto [it, fresh] = plans_.try_emplace(request.plan_id(), plan);
  if (fresh) {
    plan_tenants_[request.plan_id()] = request.tenant();
    return absl::OkStatus();
  }
  const Plan& known = *it->second;
  bool same = known.size() == plan->size();
  for (size_t i = 0; same && i < known.size(); ++i) {
    same = known[i].SerializeAsString() == (*plan)[i].SerializeAsString();
  }
  if (same) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat("plan '", request.plan_id(),
                                               "' is already installed on node ", deps_.node_name,
                                               " with other fragments"));
}

absl::Status FragmentRunner::drop(const std::string& plan_id) {
  std::lock_guard lock(mu_);
  plan_tenants_.erase(plan_id);
  if (plans_.erase(plan_id) == 0) {
    return absl::NotFoundError(
        absl::StrCat("plan '", plan_id, "' is not installed on node ", deps_.node_name));
  }
  return absl::OkStatus();
}

v1::NodeService::Stub& FragmentRunner::stub(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = v1::NodeService::NewStub(make_channel(address));
  return *stub;
}

absl::Status FragmentRunner::deliver(const v1::PushTensorRequest& request) {
  if (request.to().node() != deps_.node_name || request.to().index() >= deps_.device_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("transfer '", request.key(), "' of job ", request.job_id(), " is for ",
                     device_label(request.to()), ", not a device of node ", deps_.node_name));
  }
  auto tensor =
      HostTensor::from_proto(request.tensor(), absl::StrCat("transfer '", request.key(), "'"));
  if (!tensor.ok()) return tensor.status();
  return deps_.mailbox->put(request.job_id(), request.key(), *std::move(tensor));
}

namespace {

// What one fragment's thread leaves behind: its outputs, or its error; kept buffers wait
// for the whole run to succeed before they enter the store.
struct FragmentResult {
  absl::Status status;
  v1::FragmentOutputs outputs;
  std::shared_ptr<Device> device;  // Entered while kept buffers are pending.
  std::vector<KeptOutput> kept;
  std::vector<std::string> kept_ids;
  v1::JobUsage usage;
};

}  // namespace

absl::StatusOr<v1::RunFragmentsReply> FragmentRunner::run(const v1::RunFragmentsRequest& request,
                                                          const grpc::ServerContextBase* caller,
                                                          const std::string& tenant,
                                                          v1::JobUsage* usage) {
  const std::string& job = request.job_id();
  std::shared_ptr<const Plan> installed;  // Holds an installed plan's fragments while they run.
  Fragments plan_fragments;                // The installed plan's, or the request's (not copied).
  if (!request.plan_id().empty()) {
    std::lock_guard lock(mu_);
    auto it = plans_.find(request.plan_id());
    auto owner = plan_tenants_.find(request.plan_id());
    const bool foreign = owner != plan_tenants_.end() && !tenant.empty() &&
                         !owner->second.empty() && owner->second != tenant;
    if (it == plans_.end() || foreign) {
      return absl::NotFoundError(absl::StrCat("job ", job, ": plan '", request.plan_id(),
                                              "' is not installed on node ", deps_.node_name));
    }
    installed = it->second;
    plan_fragments = fragments_of(*installed);
  } else {
    plan_fragments = fragments_of(request.fragments());
    if (absl::Status s = check_fragments(plan_fragments); !s.ok())
      return prefixed(s, absl::StrCat("job ", job, ": "));
  }
  const Fragments* plan = &plan_fragments;
  std::map<uint32_t, const v1::FragmentRun*> bindings;
  for (const v1::FragmentRun& binding : request.runs()) {
    const bool known = std::any_of(plan->begin(), plan->end(), [&](const v1::Fragment* f) {
      return f->device_index() == binding.device_index();
    });
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat("job ", job, ": bindings for device ",
                                                     deps_.node_name, "/", binding.device_index(),
                                                     ", which runs no fragment"));
    }
    if (!bindings.emplace(binding.device_index(), &binding).second) {
      return absl::InvalidArgumentError(absl::StrCat("job ", job, ": two bindings for device ",
                                                     deps_.node_name, "/", binding.device_index()));
    }
  }
  const std::chrono::milliseconds timeout(request.timeout_ms() == 0 ? 10000 : request.timeout_ms());
  auto scope = deps_.cancels->enter(job, tenant);
  CancelToken& token = *scope->token();
  auto watched = deps_.call_watch->watch(caller, scope->token(), "job " + job);

  std::vector<FragmentResult> results(plan->size());
  std::mutex first_mu;
  absl::Status first;  // The failure that cancelled the others. Guarded by first_mu.
  auto run_one = [&](size_t k) {
    const v1::Fragment& fragment = *(*plan)[k];
    FragmentResult& result = results[k];
    const uint32_t index = fragment.device_index();
    const std::string prefix =
        absl::StrCat("job ", job, ", device ", deps_.node_name, "/", index, ": ");
    const auto start = Clock::now();
    result.status = [&]() -> absl::Status {
      auto device = deps_.enter_device(index, job, tenant);
      if (!device.ok()) return device.status();
      result.device = *device;
      const auto entered = Clock::now();
      static const v1::FragmentRun kNoBindings;
      auto bound = bindings.find(index);
      const v1::FragmentRun& binding = bound == bindings.end() ? kNoBindings : *bound->second;
      ExecuteOptions options;
      options.limits = fragment_limits();
      std::vector<TensorStore::Lease> leases;  // Held until the fragment is done.
      for (const v1::NamedTensorId& input : binding.inputs()) {
        auto lease = deps_.store->get(input.tensor_id(), tenant);
        if (!lease.ok()) return lease.status();
        if ((*lease)->device_index != index) {
          return absl::InvalidArgumentError(absl::StrCat(
              "input '", input.name(), "' is bound to tensor '", input.tensor_id(), "' on ",
              deps_.node_name, "/", (*lease)->device_index, ", not on this device"));
        }
        options.borrowed[input.name()] = {(*lease)->buffer, (*lease)->type};
        leases.push_back(*std::move(lease));
      }
      std::vector<HostTensor> feeds;
      std::vector<std::string> names;
      for (const v1::NamedTensor& feed : binding.feeds()) {
        auto tensor = HostTensor::from_proto(feed.tensor(), "feed '" + feed.name() + "'");
        if (!tensor.ok()) return tensor.status();
        feeds.push_back(*std::move(tensor));
        names.push_back(feed.name());
      }
      for (const v1::NamedTensorId& keep : binding.keep()) {
        options.keep.push_back(keep.name());
        result.kept_ids.push_back(keep.tensor_id());
      }
      Hooks hooks(*this, job, index, timeout, token);
      options.internal = &hooks;
      options.check = [&token] { return token.status(); };
      options.stop = token.stop_flag();
      ExecuteUsage used;
      options.usage = &used;
      auto executed = execute_graph(**device, fragment.graph(), feeds, names, options);
      result.usage.set_flops(used.flops);
      result.usage.set_peak_memory_bytes(used.peak_memory_bytes);
      result.usage.set_bytes_moved(hooks.bytes_sent());
      result.usage.set_device_seconds(
          std::chrono::duration<double>(Clock::now() - entered).count());
      if (!executed.ok()) return executed.status();
      result.outputs.set_device_index(index);
      for (size_t i = 0; i < executed->outputs.size(); ++i) {
        v1::NamedTensor* out = result.outputs.add_outputs();
        out->set_name(executed->output_names[i]);
        *out->mutable_tensor() = executed->outputs[i].to_proto();
      }
      result.kept = std::move(executed->kept);
      return absl::OkStatus();
    }();
    if (!result.status.ok()) {
      result.status = prefixed(result.status, prefix);
      {
        std::lock_guard lock(first_mu);
        if (first.ok()) first = result.status;
      }
      token.cancel(
          absl::CancelledError(absl::StrCat("cancelled: fragment on ", deps_.node_name, "/", index,
                                            " failed: ", result.status.message())));
    }
    if (deps_.fragment_done) {
      deps_.fragment_done(std::chrono::duration<double>(Clock::now() - start).count(),
                          result.status.code());
    }
  };
  if (plan->size() == 1) {
    run_one(0);  // Alone, it runs on the caller's thread: no thread to start and join.
  } else {
    std::vector<std::thread> threads;
    for (size_t k = 0; k < plan->size(); ++k) threads.emplace_back(run_one, k);
    for (std::thread& thread : threads) thread.join();
  }
  deps_.mailbox->end_job(job);
  v1::JobUsage total;
  for (const FragmentResult& result : results) add_usage(total, result.usage);
  if (usage != nullptr) *usage = total;

  if (!first.ok()) {
    for (FragmentResult& result : results) {
      for (const KeptOutput& kept : result.kept) result.device->release(kept.buffer);
    }
    spdlog::warn("{}", first.ToString());
    return first;
  }
  v1::RunFragmentsReply reply;
  for (size_t k = 0; k < results.size(); ++k) {
    FragmentResult& result = results[k];
    for (size_t i = 0; i < result.kept.size(); ++i) {
      KeptOutput& kept = result.kept[i];
      // The id's session owns it. put() fails only for a device index the node lacks or
      // an id another tenant holds; the buffer is then let go.
      absl::Status stored = deps_.store->put(result.kept_ids[i], (*plan)[k]->device_index(),
                                             kept.buffer, kept.type, request.session(), tenant);
      if (!stored.ok() && result.device != nullptr) result.device->release(kept.buffer);
    }
    *reply.add_fragments() = std::move(result.outputs);
  }
  *reply.mutable_usage() = std::move(total);
  return reply;
}

}  // namespace tg
