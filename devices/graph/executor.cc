// run_graph: one graph on one device, in an order where each node follows its inputs.
#include <absl/strings/str_cat.h>

#include "devices/graph/graph_api.h"

namespace tg {
namespace {

using tgrack::v1::Graph;
using tgrack::v1::Node;

// Everything run_graph has put on the device: waits for every queued event before freeing
// the buffers, so no queued work outlives the host memory or buffers it uses.
class Run {
 public:
  explicit Run(Device& device) : device_(device) {}
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() {
    wait().IgnoreError();  // Only reached early on a path that already has its error.
    for (Buffer& b : buffers_) {
      if (b.id != 0) device_.release(b);
    }
  }

  std::vector<Buffer>& buffers() { return buffers_; }
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
  std::vector<Event> events_;
};

}  // namespace

absl::StatusOr<std::vector<HostTensor>> run_graph(Device& device, const Graph& graph,
                                                  const std::vector<HostTensor>& feeds,
                                                  const std::vector<std::string>& feed_names,
                                                  const GraphLimits& limits) {
  auto validated = validate_graph(graph, limits);
  if (!validated.ok()) return validated.status();
  if (absl::Status s = check_feeds(graph, *validated, feeds, feed_names); !s.ok()) return s;

  const int n = graph.nodes_size();
  std::unordered_map<std::string, int> index;
  for (int i = 0; i < n; ++i) index[graph.nodes(i).name()] = i;
  std::unordered_map<std::string, const HostTensor*> fed;
  for (size_t i = 0; i < feeds.size(); ++i) fed[feed_names[i]] = &feeds[i];

  // A buffer is freed after the last node reading it, unless it is an output.
  std::vector<int> last_use(n, -1);
  for (size_t step = 0; step < validated->order.size(); ++step) {
    for (const std::string& in : graph.nodes(validated->order[step]).inputs()) {
      last_use[index[in]] = static_cast<int>(step);
    }
  }
  for (const std::string& out : graph.outputs()) last_use[index[out]] = n;

  Run run(device);
  std::vector<Buffer>& buffers = run.buffers();
  buffers.resize(n);
  for (size_t step = 0; step < validated->order.size(); ++step) {
    const int i = validated->order[step];
    const Node& node = graph.nodes(i);
    Kernel kernel{&node, {}, validated->types.at(node.name())};
    auto buffer = device.allocate(kernel.output.bytes());
    if (!buffer.ok()) {
      return absl::Status(buffer.status().code(),
                          absl::StrCat("node '", node.name(), "': ", buffer.status().message()));
    }
    buffers[i] = *buffer;
    if (node.op() == tgrack::v1::OP_INPUT) {
      const HostTensor* feed = fed.at(node.name());
      run.track(device.upload(buffers[i], 0, feed->data(), feed->bytes()));
    } else {
      std::vector<Buffer> inputs;
      for (const std::string& in : node.inputs()) {
        inputs.push_back(buffers[index[in]]);
        kernel.inputs.push_back(validated->types.at(in));
      }
      run.track(device.launch(kernel, inputs, buffers[i]));
    }
    for (const std::string& in : node.inputs()) {
      const int j = index[in];
      if (last_use[j] == static_cast<int>(step) && buffers[j].id != 0) {
        device.release(buffers[j]);
        buffers[j] = {};
      }
    }
    if (last_use[i] == -1) {  // Read by nothing.
      device.release(buffers[i]);
      buffers[i] = {};
    }
  }

  std::vector<HostTensor> outputs;
  outputs.reserve(graph.outputs_size());
  for (const std::string& name : graph.outputs()) {
    outputs.emplace_back(validated->types.at(name));
    HostTensor& out = outputs.back();
    run.track(device.download(out.data(), buffers[index[name]], 0, out.bytes()));
  }
  if (absl::Status s = run.wait(); !s.ok()) return s;
  return outputs;
}

}  // namespace tg
