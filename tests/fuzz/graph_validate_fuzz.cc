// Fuzz target: graph validation and the type rules. The input is a binary tgrack.v1.Graph.
// Whatever validate_graph accepts must have a well-formed type for every node (known dtype,
// rank within the limit, no negative dimension, size within the limit), and must then run on
// a small cpu device without a crash: an error is fine, a wrong type or a crash is not.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "devices/cpu/cpu_device.h"
#include "devices/dtype.h"
#include "devices/graph/graph_api.h"
#include "devices/graph/type_rules.h"
#include "tests/fuzz/quiet_protobuf.h"

namespace {

using tgrack::v1::Graph;

[[noreturn]] void fail(const std::string& what, const tg::TensorType& type) {
  std::fprintf(stderr, "validator let through %s: %s\n", what.c_str(), type.str().c_str());
  std::abort();
}

void check_type(const std::string& node, const tg::TensorType& type, const tg::GraphLimits& limits) {
  if (tg::dtype_size(type.dtype) == 0) fail("node '" + node + "' with no dtype", type);
  if (static_cast<int64_t>(type.shape.size()) > limits.max_rank) fail("rank over the limit", type);
  for (int64_t dim : type.shape) {
    if (dim < 0) fail("node '" + node + "' with a negative dimension", type);
  }
  if (type.bytes() > limits.max_tensor_bytes) fail("node '" + node + "' over the size limit", type);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::fuzz::quiet_protobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Graph graph;
  if (!graph.ParseFromArray(data, static_cast<int>(size))) return -1;

  tg::GraphLimits limits;
  limits.max_tensor_bytes = 1 << 16;  // Small enough that accepted graphs run in microseconds.
  limits.max_nodes = 64;
  for (bool internal_ops : {false, true}) {
    limits.internal_ops = internal_ops;
    absl::StatusOr<tg::ValidatedGraph> validated = tg::validate_graph(graph, limits);
    if (!validated.ok()) {
      if (validated.status().code() != absl::StatusCode::kInvalidArgument) {
        std::fprintf(stderr, "validation failed with a code other than INVALID_ARGUMENT: %s\n",
                     validated.status().ToString().c_str());
        std::abort();
      }
      continue;
    }
    for (const auto& [name, type] : validated->types) check_type(name, type, limits);
  }

  // Run what a client may submit, with every INPUT fed zeros of its declared type.
  limits.internal_ops = false;
  absl::StatusOr<tg::ValidatedGraph> validated = tg::validate_graph(graph, limits);
  if (!validated.ok()) return 0;
  std::vector<tg::HostTensor> feeds;
  std::vector<std::string> feed_names;
  for (const tgrack::v1::Node& node : graph.nodes()) {
    if (node.op() != tgrack::v1::OP_INPUT) continue;
    feeds.emplace_back(validated->types.at(node.name()));
    feed_names.push_back(node.name());
  }
  static tg::CpuDevice device("cpu:fuzz", uint64_t{16} << 20, 1);
  absl::StatusOr<std::vector<tg::HostTensor>> outputs =
      tg::run_graph(device, graph, feeds, feed_names, limits);
  if (outputs.ok()) {
    for (int i = 0; i < graph.outputs_size(); ++i) {
      const tg::TensorType& want = validated->types.at(graph.outputs(i));
      if (!((*outputs)[i].type() == want)) {
        std::fprintf(stderr, "output '%s' came back as %s, validated as %s\n",
                     graph.outputs(i).c_str(), (*outputs)[i].type().str().c_str(),
                     want.str().c_str());
        std::abort();
      }
    }
  }
  return 0;
}
