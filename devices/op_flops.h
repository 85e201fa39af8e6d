// FLOPs per op, from its shapes: the unit the pool's usage is counted in. It matches how a
// device's peak FLOP/s is stated (DeviceProperties::peak_flops, `tgctl pool`): a fused
// multiply-add is 2 FLOPs. The rule, per op:
//   MATMUL [..., m, k] x [..., k, n] -> [..., m, n]: 2 * k per output element
//     (2*m*k*n per matrix, times the broadcast batch);
//   elementwise unary and binary ops, comparisons and WHERE: 1 per output element
//     (exp, tanh, pow and the others count as one each);
//   reductions (SUM, MEAN, REDUCE_MAX, REDUCE_MIN): 1 per input element;
//   INPUT, CONSTANT, CAST and movement (RESHAPE, PERMUTE, EXPAND, SLICE, PAD, CONCAT): 0;
//   internal ops (SEND, RECV, ALL_REDUCE, ALL_GATHER): 0 (what they move is counted in
//     bytes, not FLOPs).
// Counts are exact integers; a count that does not fit in 64 bits is INVALID_ARGUMENT
// naming the node.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/graph/graph_api.h"
#include "devices/tensor.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

// FLOPs of `node` whose inputs have types `inputs` and whose output has type `output`
// (as validation inferred them).
absl::StatusOr<uint64_t> op_flops(const tgrack::v1::Node& node, std::span<const TensorType> inputs,
                                  const TensorType& output);

// FLOPs of every node of a validated graph, in graph.nodes() order; INVALID_ARGUMENT when
// their sum does not fit in 64 bits, so a running sum of any of them cannot overflow.
absl::StatusOr<std::vector<uint64_t>> node_flops(const tgrack::v1::Graph& graph,
                                                 const ValidatedGraph& validated);
// Their sum.
absl::StatusOr<uint64_t> graph_flops(const tgrack::v1::Graph& graph,
                                     const ValidatedGraph& validated);

}  // namespace tg
