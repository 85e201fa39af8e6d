#include "devices/op_flops.h"

#include <vector>

#include <absl/strings/str_cat.h>

#include "devices/graph/type_rules.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

absl::Status too_many(const v1::Node& node) {
  return absl::InvalidArgumentError(
      absl::StrCat("node '", node.name(), "': its FLOP count does not fit in 64 bits"));
}

// Element count of a validated type (dims are non-negative and their product fits int64).
uint64_t elements(const TensorType& type) { return static_cast<uint64_t>(type.elements()); }

}  // namespace

absl::StatusOr<uint64_t> op_flops(const v1::Node& node, std::span<const TensorType> inputs,
                                  const TensorType& output) {
  const v1::OpKind op = node.op();
  if (op == v1::OP_MATMUL) {
    if (inputs.empty() || inputs[0].shape.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", node.name(), "': matmul needs a first input of rank >= 2"));
    }
    const uint64_t k = static_cast<uint64_t>(inputs[0].shape.back());
    uint64_t per_element = 0;
    uint64_t flops = 0;
    if (__builtin_mul_overflow(uint64_t{2}, k, &per_element) ||
        __builtin_mul_overflow(per_element, elements(output), &flops)) {
      return too_many(node);
    }
    return flops;
  }
  if (is_unary_op(op) || is_binary_op(op) || op == v1::OP_WHERE) return elements(output);
  if (is_reduction_op(op)) {
    if (inputs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", node.name(), "': a reduction needs an input"));
    }
    return elements(inputs[0]);
  }
  return uint64_t{0};
}

absl::StatusOr<std::vector<uint64_t>> node_flops(const v1::Graph& graph,
                                                 const ValidatedGraph& validated) {
  std::vector<uint64_t> flops;
  flops.reserve(graph.nodes_size());
  uint64_t total = 0;
  std::vector<TensorType> inputs;
  for (const v1::Node& node : graph.nodes()) {
    inputs.clear();
    for (const std::string& in : node.inputs()) inputs.push_back(validated.types.at(in));
    auto count = op_flops(node, inputs, validated.types.at(node.name()));
    if (!count.ok()) return count.status();
    if (__builtin_add_overflow(total, *count, &total)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the graph's FLOP count does not fit in 64 bits (at node '", node.name(), "')"));
    }
    flops.push_back(*count);
  }
  return flops;
}

absl::StatusOr<uint64_t> graph_flops(const v1::Graph& graph, const ValidatedGraph& validated) {
  auto flops = node_flops(graph, validated);
  if (!flops.ok()) return flops.status();
  uint64_t total = 0;
  for (uint64_t f : *flops) total += f;  // Fits: node_flops checked the sum.
  return total;
}

}  // namespace tg
