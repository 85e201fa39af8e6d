// The executor core: runs one graph on one device, node by node. run_graph (graph_api.h) is
// this core with default options; a daemon's plan fragments use the rest: INPUT nodes bound
// to stored device buffers (borrowed: read, never written or freed), outputs kept (handed to
// the caller as buffers instead of downloaded), hooks for the internal ops (RECV, SEND,
// ALL_REDUCE, ALL_GATHER) and a cancellation check before every node and inside kernels.
//
// Buffers: every buffer the core allocates is freed on success, failure or cancellation,
// except kept outputs on success, which the caller then owns (Device::release). Errors from
// a node carry "node 'x': " before their cause, with the cause's code.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/device.h"
#include "devices/graph/graph_api.h"
#include "devices/tensor.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

// The internal ops, done by the caller on host tensors: before a hook runs the core waits
// for the device's queued work and downloads the node's input; afterwards it uploads the
// result. Hooks run on the executing thread and may block (bounded by their own timeouts).
class InternalOps {
 public:
  virtual ~InternalOps() = default;
  // RECV: the value sent for `node`; it must have `type` (the declared type).
  virtual absl::StatusOr<HostTensor> recv(const tgrack::v1::Node& node, const TensorType& type) = 0;
  // SEND: delivers `value`, the node's input (which is also its output).
  virtual absl::Status send(const tgrack::v1::Node& node, const HostTensor& value) = 0;
  // ALL_REDUCE: reduces `value` with the other ranks, in place.
  virtual absl::Status all_reduce(const tgrack::v1::Node& node, HostTensor& value) = 0;
  // ALL_GATHER: fills `out` (the output type, zero-filled) with every rank's `in`.
  virtual absl::Status all_gather(const tgrack::v1::Node& node, const HostTensor& in,
                                  HostTensor& out) = 0;
};

// A stored tensor an INPUT node reads: a buffer on the executing device and its type.
struct BorrowedInput {
  Buffer buffer;
  TensorType type;
};

// What a run used on its device, filled in as it goes, so it holds what ran also when the
// run fails or is stopped.
struct ExecuteUsage {
  uint64_t flops = 0;              // Of the kernels launched (devices/op_flops.h).
  uint64_t peak_memory_bytes = 0;  // Most device memory the run's own buffers held at once.
};

struct ExecuteOptions {
  GraphLimits limits;                            // internal_ops, listed_order live here.
  std::map<std::string, BorrowedInput> borrowed;  // By INPUT node name; its type must match.
  std::vector<std::string> keep;                 // Outputs handed out as buffers.
  InternalOps* internal = nullptr;               // Needed when the graph has internal ops.
  // Whether the run must stop: called before every node (and, once `stop` is true, after
  // it); a non-OK status stops the run and is returned as "node 'x': <status>", naming the
  // node the run stopped at, with the status's code.
  std::function<absl::Status()> check;
  // Set (true) by whoever stops the run, read without locking: `check` is then only called
  // once it is true, and kernels see it (Kernel::stop) so a held or long one ends early.
  const std::atomic<bool>* stop = nullptr;
  ExecuteUsage* usage = nullptr;                 // Receives what the run used; may be null.
};

// An output handed out as a device buffer, now owned by the caller.
struct KeptOutput {
  std::string name;
  Buffer buffer;
  TensorType type;
};

struct ExecuteResult {
  std::vector<HostTensor> outputs;        // graph.outputs not kept, in order,
  std::vector<std::string> output_names;  // and their names.
  std::vector<KeptOutput> kept;           // In keep's order.
};

// Validates with options.limits, checks feeds and borrowed inputs (together one per INPUT
// node), keep (each a graph output, once), then runs. INVALID_ARGUMENT for what is wrong
// with the request (also a graph whose FLOP count does not fit in 64 bits);
// FAILED_PRECONDITION when the graph needs `internal` and has none.
absl::StatusOr<ExecuteResult> execute_graph(Device& device, const tgrack::v1::Graph& graph,
                                            const std::vector<HostTensor>& feeds,
                                            const std::vector<std::string>& feed_names,
                                            const ExecuteOptions& options);

}  // namespace tg
