// validate_graph and check_feeds: everything about a graph that can be known before it runs.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "devices/checked_size.h"
#include "devices/graph/graph_api.h"
#include "devices/graph/type_rules.h"

namespace tg {
namespace {

using tgrack::v1::Graph;
using tgrack::v1::Node;
namespace v1 = tgrack::v1;

absl::Status invalid(auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); }

std::string label(const Node& node) {
  return absl::StrCat("node '", node.name(), "' (", op_name(node.op()), ")");
}

// Which attributes an op may set; anything else set is a mistake the caller should hear about.
enum Attr : unsigned {
  kDtype = 1,
  kShape = 2,
  kAxes = 4,
  kKeepdims = 8,
  kSlice = 16,
  kPad = 32,
  kAxis = 64,
  kValue = 128,
  kSharding = 256,
  kTransfer = 512,
  kCollective = 1024
};

unsigned allowed_attrs(OpKind op) {
  if (is_reduction_op(op)) return kAxes | kKeepdims;
  switch (op) {
    case v1::OP_INPUT: return kDtype | kShape | kSharding;
    case v1::OP_RECV: return kDtype | kShape | kTransfer;
    case v1::OP_SEND: return kTransfer;
    case v1::OP_ALL_REDUCE:
    case v1::OP_ALL_GATHER: return kCollective;
    case v1::OP_CONSTANT: return kValue;
    case v1::OP_CAST: return kDtype;
    case v1::OP_RESHAPE:
    case v1::OP_EXPAND: return kShape;
    case v1::OP_PERMUTE: return kAxes;
    case v1::OP_SLICE: return kSlice;
    case v1::OP_PAD: return kPad;
    case v1::OP_CONCAT: return kAxis;
    default: return 0;
  }
}

// What the internal ops need to run: a transfer key, a communicator, a reduction.
absl::Status check_internal_attrs(const Node& node) {
  switch (node.op()) {
    case v1::OP_RECV:
    case v1::OP_SEND:
      if (node.transfer().key().empty()) return invalid(label(node), ": transfer.key is empty");
      if (node.transfer().peer().node().empty())
        return invalid(label(node), ": transfer.peer names no node");
      if (node.op() == v1::OP_SEND && node.transfer().peer_address().empty())
        return invalid(label(node), ": transfer.peer_address is empty");
      return absl::OkStatus();
    case v1::OP_ALL_REDUCE:
      if (node.collective().op() == v1::REDUCE_OP_UNSPECIFIED)
        return invalid(label(node), ": collective.op is unspecified");
      [[fallthrough]];
    case v1::OP_ALL_GATHER:
      if (node.collective().comm_id().empty())
        return invalid(label(node), ": collective.comm_id is empty");
      return absl::OkStatus();
    default: return absl::OkStatus();
  }
}

absl::Status check_attrs(const Node& node) {
  const unsigned allowed = allowed_attrs(node.op());
  const std::pair<unsigned, std::pair<const char*, bool>> present[] = {
      {kDtype, {"dtype", node.dtype() != v1::DTYPE_UNSPECIFIED}},
      {kShape, {"shape", !node.shape().empty()}},
      {kAxes, {"axes", !node.axes().empty()}},
      {kKeepdims, {"keepdims", node.keepdims()}},
      {kSlice,
       {"starts/ends/steps",
        !node.starts().empty() || !node.ends().empty() || !node.steps().empty()}},
      {kPad,
       {"pad_before/pad_after/pad_value",
        !node.pad_before().empty() || !node.pad_after().empty() || node.pad_value() != 0}},
      {kAxis, {"axis", node.axis() != 0}},
      {kValue, {"value", node.has_value()}},
      {kSharding, {"sharding", node.has_sharding()}},
      {kTransfer, {"transfer", node.has_transfer()}},
      {kCollective, {"collective", node.has_collective()}},
  };
  for (const auto& [bit, field] : present) {
    if (field.second && !(allowed & bit)) {
      return invalid(label(node), ": attribute ", field.first, " is not used by this op");
    }
  }
  return check_internal_attrs(node);
}

// Orders nodes so every node follows its inputs; names a node on a cycle otherwise.
absl::StatusOr<std::vector<int>> topological_order(const Graph& graph,
                                                   const std::vector<std::vector<int>>& inputs) {
  const int n = graph.nodes_size();
  std::vector<int> order, state(n, 0);  // 0 = unvisited, 1 = on the stack, 2 = done.
  std::vector<std::pair<int, size_t>> stack;
  for (int root = 0; root < n; ++root) {
    if (state[root] != 0) continue;
    stack.push_back({root, 0});
    state[root] = 1;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == inputs[node].size()) {
        state[node] = 2;
        order.push_back(node);
        stack.pop_back();
        continue;
      }
      const int in = inputs[node][next++];
      if (state[in] == 1) {
        std::vector<std::string> cycle;
        auto it = std::find_if(stack.begin(), stack.end(), [&](auto& e) { return e.first == in; });
        for (; it != stack.end(); ++it) cycle.push_back(graph.nodes(it->first).name());
        std::reverse(cycle.begin(), cycle.end());  // Follow data flow: producer first.
        cycle.push_back(cycle.front());
        return invalid("node '", graph.nodes(in).name(),
                       "' is part of a cycle: ", absl::StrJoin(cycle, " -> "));
      }
      if (state[in] == 0) {
        state[in] = 1;
        stack.push_back({in, 0});
      }
    }
  }
  return order;
}

// The nodes as listed, when each follows its inputs; names the first that does not.
absl::StatusOr<std::vector<int>> listed_order(const Graph& graph,
                                              const std::vector<std::vector<int>>& inputs) {
  std::vector<int> order;
  for (int i = 0; i < graph.nodes_size(); ++i) {
    for (int in : inputs[i]) {
      if (in >= i) {
        return invalid("node '", graph.nodes(i).name(), "' (#", i, ") is listed before its input '",
                       graph.nodes(in).name(), "' (#", in, "); the listed order must be topological");
      }
    }
    order.push_back(i);
  }
  return order;
}

absl::Status check_limits(const Node& node, const TensorType& type, const GraphLimits& limits) {
  if (static_cast<int64_t>(type.shape.size()) > limits.max_rank) {
    return invalid(label(node), ": rank ", type.shape.size(), " of ", type.str(),
                   " exceeds the limit of ", limits.max_rank);
  }
  // Every shape leaving the validator has non-negative dims and a byte size that fits.
  auto bytes = checked_bytes(type, label(node));
  if (!bytes.ok()) return bytes.status();
  if (*bytes > limits.max_tensor_bytes) {
    return invalid(label(node), ": ", type.str(), " needs ", *bytes,
                   " bytes, more than the limit of ", limits.max_tensor_bytes);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ValidatedGraph> validate_graph(const Graph& graph, const GraphLimits& limits) {
  const int n = graph.nodes_size();
  if (n > limits.max_nodes) {
    return invalid("graph has ", n, " nodes, more than the limit of ", limits.max_nodes);
  }
  std::unordered_map<std::string, int> index;
  for (int i = 0; i < n; ++i) {
    const Node& node = graph.nodes(i);
    if (node.name().empty()) return invalid("node #", i, " (", op_name(node.op()), ") has no name");
    auto [it, fresh] = index.emplace(node.name(), i);
    if (!fresh)
      return invalid("node '", node.name(), "' is defined twice (nodes #", it->second, " and #", i,
                     ")");
  }
  std::vector<std::vector<int>> inputs(n);
  for (int i = 0; i < n; ++i) {
    const Node& node = graph.nodes(i);
    const int arity = op_arity(node.op());
    if (arity == -2)
      return invalid("node '", node.name(), "': unknown op ", static_cast<int>(node.op()));
    if (is_internal_op(node.op()) && !limits.internal_ops) {
      return invalid("node '", node.name(), "': op ", op_name(node.op()).substr(3),
                     " is internal to plans");
    }
    const int got = node.inputs_size();
    if ((arity >= 0 && got != arity) || (arity == -1 && got == 0)) {
      return invalid(label(node), ": takes ", arity >= 0 ? absl::StrCat(arity) : "one or more",
                     " inputs, got ", got);
    }
    for (const std::string& name : node.inputs()) {
      auto it = index.find(name);
      if (it == index.end()) return invalid(label(node), ": input '", name, "' does not exist");
      inputs[i].push_back(it->second);
    }
    if (absl::Status s = check_attrs(node); !s.ok()) return s;
  }
  auto order = limits.listed_order ? listed_order(graph, inputs) : topological_order(graph, inputs);
  if (!order.ok()) return order.status();

  ValidatedGraph validated;
  validated.order = *std::move(order);
  std::vector<TensorType> types(n);
  for (int i : validated.order) {
    const Node& node = graph.nodes(i);
    std::vector<TensorType> in;
    for (int j : inputs[i]) in.push_back(types[j]);
    auto type = infer_type(node, in);
    if (!type.ok()) return invalid(label(node), ": ", type.status().message());
    if (absl::Status s = check_limits(node, *type, limits); !s.ok()) return s;
    types[i] = *type;
  }
  for (const std::string& output : graph.outputs()) {
    if (!index.contains(output)) return invalid("output '", output, "' does not exist");
  }
  for (int i = 0; i < n; ++i) validated.types[graph.nodes(i).name()] = std::move(types[i]);
  return validated;
}

absl::Status check_feeds(const Graph& graph, const ValidatedGraph& validated,
                         const std::vector<HostTensor>& feeds,
                         const std::vector<std::string>& feed_names,
                         const std::vector<std::string>& bound) {
  if (feeds.size() != feed_names.size()) {
    return invalid("got ", feeds.size(), " feeds but ", feed_names.size(), " feed names");
  }
  std::unordered_set<std::string> inputs, fed;
  for (const Node& node : graph.nodes()) {
    if (node.op() == v1::OP_INPUT) inputs.insert(node.name());
  }
  for (const std::string& name : bound) {
    if (!inputs.contains(name)) return invalid("'", name, "' is bound but is not an input of the graph");
    if (!fed.insert(name).second) return invalid("input '", name, "' is bound twice");
  }
  for (size_t i = 0; i < feeds.size(); ++i) {
    const std::string& name = feed_names[i];
    if (!inputs.contains(name)) return invalid("feed '", name, "' is not an input of the graph");
    if (!fed.insert(name).second) {
      const bool was_bound = std::find(bound.begin(), bound.end(), name) != bound.end();
      return invalid("input '", name, "' is ",
                     was_bound ? "both fed and bound to a stored tensor" : "fed twice");
    }
    const TensorType& declared = validated.types.at(name);
    if (feeds[i].type() != declared) {
      return invalid("input '", name, "' is declared ", declared.str(), " but fed ",
                     feeds[i].type().str());
    }
  }
  for (const Node& node : graph.nodes()) {
    if (node.op() == v1::OP_INPUT && !fed.contains(node.name())) {
      return invalid("input '", node.name(), "' is not fed");
    }
  }
  return absl::OkStatus();
}

}  // namespace tg
