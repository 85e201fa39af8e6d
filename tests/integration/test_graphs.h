// Graphs, feeds and placements the integration tests share, and ASSERT_OK_POOL for a pool that
// must start.
//   relu_graph(name)  y = relu(x) + relu(x) on x f32[2,3], the relu named `name`: one named
//                     "test_hold..." waits on a daemon started after pool.hold_kernels_on(...)
//                     until the test releases it; the add after it is where a cancelled job
//                     stops. held_graph() names it "test_hold_job".
//   x_feeds()         x = [[1, 2, 3], [-1, 0, 4]].
//   device_ref(node, index) that device; on_device(node, index) a placement on it alone.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "devices/tensor.h"
#include "tgrack/v1/controller.pb.h"

#define ASSERT_OK_POOL(started)               \
  do {                                         \
    const absl::Status status_ = (started);    \
    ASSERT_TRUE(status_.ok()) << status_;      \
  } while (0)

namespace tg::testing {

inline tgrack::v1::Graph relu_graph(const std::string& relu_name) {
  GraphBuilder g;
  Value x = g.input("x", tgrack::v1::DTYPE_F32, {2, 3});
  tgrack::v1::Node relu;
  relu.set_name(relu_name);
  Value h = g.add(tgrack::v1::OP_RELU, {x}, relu);
  g.output(h + h, "y");
  return *g.build();
}

inline tgrack::v1::Graph held_graph() { return relu_graph("test_hold_job"); }

inline std::map<std::string, HostTensor> x_feeds() {
  HostTensor x(TensorType{tgrack::v1::DTYPE_F32, {2, 3}});
  const std::vector<float> values = {1, 2, 3, -1, 0, 4};
  std::copy(values.begin(), values.end(), x.values<float>().begin());
  return {{"x", std::move(x)}};
}

inline tgrack::v1::DeviceRef device_ref(const std::string& node, uint32_t index) {
  tgrack::v1::DeviceRef device;
  device.set_node(node);
  device.set_index(index);
  return device;
}

inline tgrack::v1::Placement on_device(const std::string& node, uint32_t index) {
  tgrack::v1::Placement placement;
  *placement.mutable_device() = device_ref(node, index);
  return placement;
}

}  // namespace tg::testing
