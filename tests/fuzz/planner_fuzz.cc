// Fuzz target: the planner. The input is a binary tgrack.v1.SubmitRequest; its graph (once
// validated), placement and deterministic flag are planned over a fixed fake pool of two
// nodes, "a" and "b", with two devices each. The plan must be an error (INVALID_ARGUMENT,
// or NOT_FOUND for a device the pool lacks) or well formed: one fragment per device, each
// fragment a valid graph with internal ops in listed order, and every input and output
// piece on a device that has a fragment.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <absl/strings/str_cat.h>

#include "controller/planner.h"
#include "devices/graph/graph_api.h"
#include "tgrack/v1/controller.pb.h"
#include "tests/fuzz/quiet_protobuf.h"

namespace {

using tgrack::v1::DeviceRef;

constexpr int kDevicesPerNode = 2;

bool in_pool(const DeviceRef& device) {
  return (device.node() == "a" || device.node() == "b") && device.index() < kDevicesPerNode;
}

absl::StatusOr<DeviceRef> place(const tgrack::v1::Placement& placement) {
  DeviceRef device;
  if (!placement.device().node().empty()) {
    device = placement.device();
  } else {
    device.set_node(placement.node().empty() ? "a" : placement.node());
  }
  if (!in_pool(device)) return absl::NotFoundError(absl::StrCat("no device ", device.node()));
  return device;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "planner: %s\n", what.c_str());
  std::abort();
}

void check_pieces(const std::vector<tg::PlannedValue>& values, const tg::Plan& plan) {
  for (const tg::PlannedValue& value : values) {
    if (value.pieces.empty()) fail("value '" + value.name + "' has no pieces");
    for (const tg::PlannedPiece& piece : value.pieces) {
      bool has_fragment = false;
      for (const DeviceRef& device : plan.devices) {
        has_fragment |= device.node() == piece.device.node() && device.index() == piece.device.index();
      }
      if (!has_fragment) fail("value '" + value.name + "' on a device without a fragment");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::fuzz::quiet_protobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tgrack::v1::SubmitRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return -1;
  tg::GraphLimits limits;
  limits.max_nodes = 64;
  absl::StatusOr<tg::ValidatedGraph> validated = tg::validate_graph(request.graph(), limits);
  if (!validated.ok()) return 0;

  int communicators = 0;
  tg::PlanOptions options;
  options.deterministic = request.deterministic();
  options.place = place;
  options.address_of = [](const std::string& node) { return node + ".pool:7000"; };
  options.communicator = [&](const std::vector<DeviceRef>& devices) -> absl::StatusOr<std::string> {
    for (const DeviceRef& device : devices) {
      if (!in_pool(device)) return absl::NotFoundError(absl::StrCat("no device ", device.node()));
    }
    return absl::StrCat("comm-", communicators++);
  };
  absl::StatusOr<tg::Plan> plan =
      tg::plan_graph(request.graph(), *validated, request.placement(), options);
  if (!plan.ok()) {
    const absl::StatusCode code = plan.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kNotFound) {
      fail("unexpected error " + plan.status().ToString());
    }
    return 0;
  }
  if (plan->fragments.size() != plan->devices.size()) fail("fragments and devices differ in number");
  if (plan->outputs.size() != static_cast<size_t>(request.graph().outputs_size())) {
    fail("outputs and graph outputs differ in number");
  }
  check_pieces(plan->inputs, *plan);
  check_pieces(plan->outputs, *plan);
  tg::GraphLimits fragment_limits;
  fragment_limits.internal_ops = true;
  fragment_limits.listed_order = true;
  for (size_t i = 0; i < plan->fragments.size(); ++i) {
    absl::StatusOr<tg::ValidatedGraph> fragment = tg::validate_graph(plan->fragments[i], fragment_limits);
    if (!fragment.ok()) fail("fragment " + std::to_string(i) + " is invalid: " + fragment.status().ToString());
  }
  return 0;
}
