// Graph-level entry points on one device: validation (types, shapes, limits) and execution.
// Both the controller (validate before placing) and tgd (validate, then run) use them.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/device.h"
#include "devices/tensor.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

struct GraphLimits {
  int64_t max_nodes = 100000;
  int64_t max_rank = 8;
  uint64_t max_tensor_bytes = uint64_t{16} << 30;
  // Allows the planner's internal ops (RECV, SEND, ALL_REDUCE, ALL_GATHER). Off for graphs
  // clients submit: those are refused with "node 'x': op RECV is internal to plans".
  bool internal_ops = false;
  // Order = the nodes as listed (a plan's fragments share one order so transfers and
  // collectives cannot deadlock); INVALID_ARGUMENT when a node is listed before an input.
  bool listed_order = false;
};

// A validated graph: each node's output type and an order in which every node follows its inputs.
struct ValidatedGraph {
  std::unordered_map<std::string, TensorType> types;  // By node name.
  std::vector<int> order;                              // Indices into graph.nodes().
};

// Checks the graph: unique non-empty names, known ops, inputs exist and arity fits, acyclic,
// dtype and shape rules (devices/graph/type_rules.h), attributes valid, outputs exist, sizes
// within limits. INVALID_ARGUMENT naming the node and the rule it broke.
absl::StatusOr<ValidatedGraph> validate_graph(const tgrack::v1::Graph& graph,
                                              const GraphLimits& limits = {});

// Checks that feeds match the INPUT nodes one to one (name, dtype, shape); inputs named in
// `bound` are given otherwise (stored tensors, checked by the caller) and must not be fed.
// INVALID_ARGUMENT naming the input and the difference.
absl::Status check_feeds(const tgrack::v1::Graph& graph, const ValidatedGraph& validated,
                         const std::vector<HostTensor>& feeds,
                         const std::vector<std::string>& feed_names,
                         const std::vector<std::string>& bound = {});

// Validates, uploads feeds, runs every node on `device` in order, downloads the outputs
// (in graph.outputs order) and frees every buffer it allocated, on success or failure.
// Client graphs only (no internal ops); devices/graph/executor.h has the general core.
absl::StatusOr<std::vector<HostTensor>> run_graph(Device& device, const tgrack::v1::Graph& graph,
                                                  const std::vector<HostTensor>& feeds,
                                                  const std::vector<std::string>& feed_names,
                                                  const GraphLimits& limits = {});

}  // namespace tg
