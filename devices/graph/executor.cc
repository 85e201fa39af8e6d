// The executor core (executor.h) and run_graph on it: one graph on one device, in an order
// where each node follows its inputs.
#include "devices/graph/executor.h"

#include <algorithm>
#include <set>

#include <absl/strings/str_cat.h>

#include "devices/graph/type_rules.h"
#include "devices/op_flops.h"

namespace tg {
namespace {

using tgrack::v1::Graph;
using tgrack::v1::Node;
namespace v1 = tgrack::v1;

// Everything a run has put on the device: waits for every queued event before freeing the
// buffers it owns, so no queued work outlives the host memory or buffers it uses. Borrowed
// buffers (stored tensors) are never freed.
class Run {
 public:
  Run(Device& device, size_t nodes, ExecuteUsage& usage)
      : device_(device), buffers_(nodes), owned_(nodes, false), usage_(usage) {}
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() {
    wait().IgnoreError();  // Only reached early on a path that already has its error.
    for (size_t i = 0; i < buffers_.size(); ++i) drop(i);
  }

  Buffer& buffer(size_t i) { return buffers_[i]; }
  void borrow(size_t i, Buffer b) {
    buffers_[i] = b;
    owned_[i] = false;
  }
  bool owned(size_t i) const { return owned_[i]; }
  // Node i's buffer is `b`, allocated by the run.
  void own(size_t i, Buffer b) {
    buffers_[i] = b;
    owned_[i] = true;
    held_ += b.bytes;
    usage_.peak_memory_bytes = std::max(usage_.peak_memory_bytes, held_);
  }
  // Frees node i's buffer (after the work queued on it) unless it is borrowed.
  void drop(size_t i) {
    if (buffers_[i].id != 0 && owned_[i]) {
      device_.release(buffers_[i]);
      held_ -= buffers_[i].bytes;
    }
    buffers_[i] = {};
  }
  // Hands node i's buffer to the caller: the run no longer frees it.
  Buffer take(size_t i) {
    Buffer b = buffers_[i];
    buffers_[i] = {};
    held_ -= b.bytes;
    return b;
  }
  void track(Event event) { events_.push_back(std::move(event)); }
  // Waits for everything queued; returns the first failure in queue order.
  absl::Status wait() {
    absl::Status first;
    for (const Event& e : events_) first.Update(e.wait());
    events_.clear();
    return first;
  }

 private:
  Device& device_;
  std::vector<Buffer> buffers_;
  std::vector<bool> owned_;
  std::vector<Event> events_;
  ExecuteUsage& usage_;
  uint64_t held_ = 0;  // Bytes of the owned buffers not yet freed or handed out.
};

absl::Status at_node(const Node& node, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("node '", node.name(), "': ", status.message()));
}

// OK while the run may go on; otherwise why it stops, naming `node`, where it stopped.
absl::Status stop_status(const ExecuteOptions& options, const Node& node) {
  if (!options.check) return absl::OkStatus();
  if (options.stop != nullptr && !options.stop->load(std::memory_order_relaxed)) {
    return absl::OkStatus();
  }
  absl::Status status = options.check();
  return status.ok() ? status : at_node(node, status);
}

absl::Status check_request(const Graph& graph, const ValidatedGraph& validated,
                           const std::vector<HostTensor>& feeds,
                           const std::vector<std::string>& feed_names,
                           const ExecuteOptions& options) {
  std::vector<std::string> bound;
  for (const auto& [name, input] : options.borrowed) bound.push_back(name);
  if (absl::Status s = check_feeds(graph, validated, feeds, feed_names, bound); !s.ok()) return s;
  for (const auto& [name, input] : options.borrowed) {
    const TensorType& declared = validated.types.at(name);
    if (input.type != declared) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "' is declared ",
                                                     declared.str(), " but bound to a stored ",
                                                     input.type.str(), " tensor"));
    }
  }
  std::set<std::string> kept;
  for (const std::string& name : options.keep) {
    if (std::find(graph.outputs().begin(), graph.outputs().end(), name) == graph.outputs().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot keep '", name, "': it is not an output of the graph"));
    }
    if (!kept.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("output '", name, "' is kept twice"));
    }
  }
  if (options.internal == nullptr) {
    for (const Node& node : graph.nodes()) {
      if (is_internal_op(node.op())) {
        return absl::FailedPreconditionError(
            absl::StrCat("node '", node.name(), "': ", op_name(node.op()),
                         " needs the internal-op hooks of a plan run, and none were given"));
      }
    }
  }
  return absl::OkStatus();
}

// Runs one internal op: waits for the device, stages the input through host memory, calls
// the hook and uploads the result into `out`.
absl::Status run_internal(Device& device, Run& run, InternalOps& hooks, const Node& node,
                          const TensorType& type, const Buffer* input,
                          const TensorType* input_type, Buffer out) {
  if (absl::Status s = run.wait(); !s.ok()) return s;
  HostTensor in;
  if (input != nullptr) {
    in = HostTensor(*input_type);
    if (absl::Status s = device.download(in.data(), *input, 0, in.bytes()).wait(); !s.ok()) {
      return s;
    }
  }
  HostTensor result;
  switch (node.op()) {
    case v1::OP_RECV: {
      auto value = hooks.recv(node, type);
      if (!value.ok()) return value.status();
      if (value->type() != type) {
        return absl::InvalidArgumentError(absl::StrCat("received ", value->type().str(),
                                                       " but declared ", type.str()));
      }
      result = *std::move(value);
      break;
    }
    case v1::OP_SEND:
      if (absl::Status s = hooks.send(node, in); !s.ok()) return s;
      result = std::move(in);
      break;
    case v1::OP_ALL_REDUCE:
      if (absl::Status s = hooks.all_reduce(node, in); !s.ok()) return s;
      result = std::move(in);
      break;
    case v1::OP_ALL_GATHER:
      result = HostTensor(type);
      if (absl::Status s = hooks.all_gather(node, in, result); !s.ok()) return s;
      break;
    default:
      return absl::InternalError(absl::StrCat(op_name(node.op()), " is not an internal op"));
  }
  return device.upload(out, 0, result.data(), result.bytes()).wait();
}

}  // namespace

absl::StatusOr<ExecuteResult> execute_graph(Device& device, const Graph& graph,
                                            const std::vector<HostTensor>& feeds,
                                            const std::vector<std::string>& feed_names,
                                            const ExecuteOptions& options) {
  auto validated = validate_graph(graph, options.limits);
  if (!validated.ok()) return validated.status();
  if (absl::Status s = check_request(graph, *validated, feeds, feed_names, options); !s.ok()) {
    return s;
  }
  auto flops = node_flops(graph, *validated);
  if (!flops.ok()) return flops.status();
  ExecuteUsage unused;
  ExecuteUsage& usage = options.usage != nullptr ? *options.usage : unused;

  const int n = graph.nodes_size();
  std::unordered_map<std::string, int> index;
  for (int i = 0; i < n; ++i) index[graph.nodes(i).name()] = i;
  std::unordered_map<std::string, const HostTensor*> fed;
  for (size_t i = 0; i < feeds.size(); ++i) fed[feed_names[i]] = &feeds[i];
  const std::set<std::string> keep(options.keep.begin(), options.keep.end());

  // A buffer is freed after the last node reading it, unless it is an output.
  std::vector<int> last_use(n, -1);
  for (size_t step = 0; step < validated->order.size(); ++step) {
    for (const std::string& in : graph.nodes(validated->order[step]).inputs()) {
      last_use[index[in]] = static_cast<int>(step);
    }
  }
  for (const std::string& out : graph.outputs()) last_use[index[out]] = n;

  Run run(device, n, usage);
  const Node* last_kernel = nullptr;  // Where a run stopped inside queued work is reported.
  for (size_t step = 0; step < validated->order.size(); ++step) {
    const int i = validated->order[step];
    const Node& node = graph.nodes(i);
    if (absl::Status s = stop_status(options, node); !s.ok()) return s;
    Kernel kernel{&node, {}, validated->types.at(node.name()), options.stop};
    if (auto b = options.borrowed.find(node.name()); b != options.borrowed.end()) {
      run.borrow(i, b->second.buffer);
    } else {
      auto buffer = device.allocate(kernel.output.bytes());
      if (!buffer.ok()) return at_node(node, buffer.status());
      run.own(i, *buffer);
      if (node.op() == v1::OP_INPUT) {
        const HostTensor* feed = fed.at(node.name());
        run.track(device.upload(run.buffer(i), 0, feed->data(), feed->bytes()));
      } else if (is_internal_op(node.op())) {
        const bool has_input = node.inputs_size() == 1;
        const int j = has_input ? index[node.inputs(0)] : -1;
        const TensorType* input_type = has_input ? &validated->types.at(node.inputs(0)) : nullptr;
        absl::Status s = run_internal(device, run, *options.internal, node, kernel.output,
                                      has_input ? &run.buffer(j) : nullptr, input_type,
                                      run.buffer(i));
        if (!s.ok()) {
          absl::Status stopped = stop_status(options, node);
          return stopped.ok() ? at_node(node, s) : stopped;
        }
      } else {
        std::vector<Buffer> inputs;
        for (const std::string& in : node.inputs()) {
          inputs.push_back(run.buffer(index[in]));
          kernel.inputs.push_back(validated->types.at(in));
        }
        run.track(device.launch(kernel, inputs, run.buffer(i)));
        usage.flops += (*flops)[i];
        last_kernel = &node;
        if (options.stop != nullptr) {  // A kernel that was held or cut short stops here.
          if (absl::Status s = stop_status(options, node); !s.ok()) return s;
        }
      }
    }
    for (const std::string& in : node.inputs()) {
      const int j = index[in];
      if (last_use[j] == static_cast<int>(step)) run.drop(j);
    }
    if (last_use[i] == -1) run.drop(i);  // Read by nothing.
  }

  ExecuteResult result;
  for (const std::string& name : graph.outputs()) {
    if (keep.contains(name)) continue;
    result.outputs.emplace_back(validated->types.at(name));
    result.output_names.push_back(name);
    HostTensor& out = result.outputs.back();
    run.track(device.download(out.data(), run.buffer(index[name]), 0, out.bytes()));
  }
  // A kept output that is a borrowed input is copied: the store keeps its own buffer.
  for (const std::string& name : options.keep) {
    const int j = index[name];
    if (run.owned(j)) continue;
    auto copy = device.allocate(run.buffer(j).bytes);
    if (!copy.ok()) return at_node(graph.nodes(j), copy.status());
    run.track(device.copy(*copy, 0, run.buffer(j), 0, run.buffer(j).bytes));
    run.own(j, *copy);
  }
  if (absl::Status s = run.wait(); !s.ok()) {
    if (last_kernel == nullptr) return s;
    absl::Status stopped = stop_status(options, *last_kernel);
    return stopped.ok() ? s : stopped;
  }
  for (const std::string& name : options.keep) {
    result.kept.push_back({name, run.take(index[name]), validated->types.at(name)});
  }
  return result;
}

absl::StatusOr<std::vector<HostTensor>> run_graph(Device& device, const Graph& graph,
                                                  const std::vector<HostTensor>& feeds,
                                                  const std::vector<std::string>& feed_names,
                                                  const GraphLimits& limits) {
  ExecuteOptions options;
  options.limits = limits;
  auto result = execute_graph(device, graph, feeds, feed_names, options);
  if (!result.ok()) return result.status();
  return std::move(result->outputs);
}

}  // namespace tg
