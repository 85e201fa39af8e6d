// Planner: turns one validated graph into fragments, one per device, that together compute
// it across the pool. A pure function of its inputs; the callers (plan_runner.h) resolve
// placements, create communicators and run the fragments.
//
// Layouts. Every value is Single (whole, on one device), Replicated (whole, on each of a
// list of devices) or Sharded (split along one axis into S equal shards over a list of
// devices, device i holding shards [i*k, (i+1)*k), k = S / devices). INPUTs take theirs from
// their `sharding` (or the remote tensor that feeds them); constants, and values computed
// from constants only, are recomputed wherever they are read; every other node's follows
// from its inputs:
//   - Single inputs only: Single, on the node's placement, else its first input's device,
//     else the graph's default device. Inputs elsewhere arrive by transfer (SEND -> RECV).
//   - Replicated and Sharded inputs must share one device list (and shard count); Single
//     inputs are sent to every device of it. Only Replicated inputs: Replicated.
//   - A Sharded input: the op runs per shard when it keeps the sharded axis (elementwise
//     ops — a whole operand spanning that axis is sliced to each shard's part —,
//     reductions over other axes, matmul
//     over rows or columns, permute, reshape and expand that keep it, slice and pad that
//     leave it whole, concat along another axis), giving a Sharded result. A reduction over
//     the sharded axis (sum, mean, max, min — of bool too, as or and and —, or matmul
//     contracting it) runs per shard and the partial results are combined into a Replicated
//     result: summed on each device and all-reduced (bool as i32 0/1), or — deterministic —
//     stacked in shard order, all-gathered and reduced over the stack, so the bits do not
//     depend on how many devices hold the shards. A mean divides the combined sum by the
//     element count, in f32 for f16 and bf16.
//   - Anything else is INVALID_ARGUMENT naming the node, its op and the layout problem.
// Fragments list their nodes in one global topological order, so receives and collectives
// cannot deadlock. Physical names: a value keeps its node's name on each device holding
// it whole; shard s of a Sharded value is "<name>#<s>".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "controller/layout.h"
#include "devices/graph/graph_api.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

// One piece of an input or output: which fragment holds it and under which node name.
struct PlannedPiece {
  tgrack::v1::DeviceRef device;
  std::string node;  // Physical node name in that device's fragment.
  int index = 0;     // Shard (Sharded) or copy number.
};

struct PlannedValue {
  std::string name;   // Logical node name.
  TensorType type;    // The whole value's type.
  Layout layout;
  std::vector<PlannedPiece> pieces;  // Sharded: one per shard in order; else one per device.
};

struct Plan {
  std::vector<tgrack::v1::DeviceRef> devices;  // Devices with a fragment, in first-use order.
  std::vector<tgrack::v1::Graph> fragments;    // fragments[i] runs on devices[i].
  std::vector<PlannedValue> inputs;            // Every INPUT node, in graph order.
  std::vector<PlannedValue> outputs;           // In graph.outputs order.
  std::vector<std::string> comm_ids;           // Communicators the fragments use.
};

struct PlanOptions {
  bool deterministic = false;
  // Layouts of INPUT nodes fed from remote tensors (they win over the node's sharding,
  // which must then agree).
  std::map<std::string, Layout> input_layouts;
  // Resolves a placement (a node's, or the graph's when the node has none) to a device.
  std::function<absl::StatusOr<tgrack::v1::DeviceRef>(const tgrack::v1::Placement&)> place;
  // A daemon's NodeService address, for SEND nodes.
  std::function<std::string(const std::string& node)> address_of;
  // The id of a communicator over `devices` (rank i = devices[i]).
  std::function<absl::StatusOr<std::string>(const std::vector<tgrack::v1::DeviceRef>& devices)>
      communicator;
};

absl::StatusOr<Plan> plan_graph(const tgrack::v1::Graph& graph, const ValidatedGraph& validated,
                                const tgrack::v1::Placement& placement, const PlanOptions& options);

}  // namespace tg
