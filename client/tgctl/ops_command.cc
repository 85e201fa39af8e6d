// tgctl cordon / uncordon / drain / reset: taking nodes and devices out of service and back.
// With --json each prints the node or device it acted on (docs/cli-json.md).
#include <iostream>

#include <nlohmann/json.hpp>

#include <absl/status/statusor.h>
#include <absl/strings/numbers.h>
#include <absl/time/time.h>

#include "client/device_name.h"
#include "client/tgctl/command.h"
#include "net/flag_checks.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::tgctl {
namespace {

using Stub = tgrack::v1::ControllerService::Stub;

std::unique_ptr<Stub> stub(const GlobalOptions& options) {
  return tgrack::v1::ControllerService::NewStub(make_channel(options.controller));
}

// "1500ms", "30s", "2m" -> milliseconds.
absl::StatusOr<uint32_t> parse_ms(const std::string& text, const std::string& flag) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(flag + ": '" + text + "' is not a duration (e.g. 30s)");
  }
  return static_cast<uint32_t>(absl::ToInt64Milliseconds(duration));
}

absl::Status cordon(const GlobalOptions& options, const std::string& node,
                    const std::string& reason) {
  tgrack::v1::CordonNodeRequest request;
  request.set_node(node);
  request.set_reason(reason);
  tgrack::v1::CordonNodeReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  absl::Status status = from_grpc(stub(options)->CordonNode(context.get(), request, &reply));
  if (!status.ok()) return status;
  if (options.json) {
    std::cout << nlohmann::json({{"id", node}, {"cordoned", true}, {"cordon_reason", reason}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << "node " << node << " cordoned: " << reason << "\n";
  }
  return absl::OkStatus();
}

absl::Status uncordon(const GlobalOptions& options, const std::string& node) {
  tgrack::v1::UncordonNodeRequest request;
  request.set_node(node);
  tgrack::v1::UncordonNodeReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  absl::Status status = from_grpc(stub(options)->UncordonNode(context.get(), request, &reply));
  if (!status.ok()) return status;
  if (options.json) {
    std::cout << nlohmann::json({{"id", node}, {"cordoned", false}}).dump(2) << "\n";
  } else {
    std::cout << "node " << node << " uncordoned\n";
  }
  return absl::OkStatus();
}

absl::Status drain(const GlobalOptions& options, const std::string& node,
                   const std::string& deadline, const std::string& reason) {
  auto ms = parse_ms(deadline, "--deadline");
  if (!ms.ok()) return ms.status();
  tgrack::v1::DrainNodeRequest request;
  request.set_node(node);
  request.set_deadline_ms(*ms);
  request.set_reason(reason.empty() ? "draining" : reason);
  tgrack::v1::DrainNodeReply reply;
  auto context = context_with_deadline(std::chrono::milliseconds(*ms) + std::chrono::seconds(30));
  absl::Status status = from_grpc(stub(options)->DrainNode(context.get(), request, &reply));
  if (!status.ok()) return status;
  if (options.json) {
    std::cout << nlohmann::json({{"id", node},
                                 {"cordoned", true},
                                 {"cordon_reason", request.reason()},
                                 {"finished_job_count", reply.finished()},
                                 {"cancelled_job_count", reply.cancelled()}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << "node " << node << " drained: " << reply.finished() << " job(s) finished, "
              << reply.cancelled() << " cancelled at the deadline\n";
  }
  return absl::OkStatus();
}

absl::Status reset(const GlobalOptions& options, const std::string& target,
                   const std::string& drain_timeout) {
  auto device = parse_device_name(target);
  if (!device.ok()) {
    return absl::InvalidArgumentError("reset: " + std::string(device.status().message()));
  }
  if (device->old_form) std::cerr << "tgctl: " << old_device_form_hint("reset", device->ref) << "\n";
  auto ms = parse_ms(drain_timeout, "--drain-timeout");
  if (!ms.ok()) return ms.status();
  tgrack::v1::ResetDeviceRequest request;
  *request.mutable_device() = device->ref;
  request.set_drain_timeout_ms(*ms);
  tgrack::v1::ResetDeviceReply reply;
  auto context = context_with_deadline(std::chrono::milliseconds(*ms) + std::chrono::seconds(60));
  absl::Status status = from_grpc(stub(options)->ResetDevice(context.get(), request, &reply));
  if (!status.ok()) return status;
  if (options.json) {
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& device : reply.devices()) {
      devices.push_back(device.node() + "/" + std::to_string(device.index()));
    }
    std::cout << nlohmann::json({{"id", target}, {"hive_id", reply.hive_id()},
                                 {"reset_device_ids", devices}})
                     .dump(2)
              << "\n";
    return absl::OkStatus();
  }
  std::cout << (reply.hive_id().empty() ? "reset" : "reset hive " + reply.hive_id() + ":");
  for (const auto& device : reply.devices()) std::cout << " " << device.node() << "/" << device.index();
  std::cout << "\n";
  return absl::OkStatus();
}

}  // namespace

void add_ops_commands(CLI::App& app, const GlobalOptions& options, Action& action) {
  struct Args {
    std::string node, reason, deadline = "60s", target, drain_timeout = "10s";
  };
  auto args = std::make_shared<Args>();

  CLI::App* c = app.add_subcommand("cordon", "Stop placing new work on a node");
  c->add_option("NODE", args->node, "Node name")->required();
  c->add_option("--reason", args->reason, "Why (shown in tgctl nodes)")->required();
  c->callback([&options, &action, args] {
    action = [&options, args] { return cordon(options, args->node, args->reason); };
  });

  CLI::App* u = app.add_subcommand("uncordon", "Place work on a cordoned node again");
  u->add_option("NODE", args->node, "Node name")->required();
  u->callback([&options, &action, args] {
    action = [&options, args] { return uncordon(options, args->node); };
  });

  CLI::App* d = app.add_subcommand("drain", "Cordon a node and wait for its jobs; cancel the rest at the deadline");
  d->add_option("NODE", args->node, "Node name")->required();
  d->add_option("--deadline", args->deadline, "Cancel jobs still running after this")
      ->capture_default_str()
      ->check(flags::duration(flags::kZeroAllowed));
  d->add_option("--reason", args->reason, "Why (shown in tgctl nodes)");
  d->callback([&options, &action, args] {
    action = [&options, args] { return drain(options, args->node, args->deadline, args->reason); };
  });

  CLI::App* r = app.add_subcommand("reset", "Warm-reset a device (and the rest of its hive)");
  r->add_option("DEVICE", args->target, "NODE/INDEX, e.g. node-a/0")->required();
  r->add_option("--drain-timeout", args->drain_timeout, "How long running work may finish")
      ->capture_default_str()
      ->check(flags::duration(flags::kPositive));
  r->callback([&options, &action, args] {
    action = [&options, args] { return reset(options, args->target, args->drain_timeout); };
  });
}

}  // namespace tg::tgctl
