#include "devices/topology/topology_proto.h"

#include <set>
#include <utility>

#include <absl/strings/str_cat.h>

namespace tg {

tgrack::v1::LinkClass link_class_to_proto(LinkClass link_class) {
  switch (link_class) {
    case LinkClass::kXgmi: return tgrack::v1::LINK_CLASS_XGMI;
    case LinkClass::kPcie: return tgrack::v1::LINK_CLASS_PCIE;
    case LinkClass::kHost: return tgrack::v1::LINK_CLASS_HOST;
  }
  return tgrack::v1::LINK_CLASS_HOST;
}

LinkClass link_class_from_proto(tgrack::v1::LinkClass link_class) {
  switch (link_class) {
    case tgrack::v1::LINK_CLASS_XGMI: return LinkClass::kXgmi;
    case tgrack::v1::LINK_CLASS_PCIE: return LinkClass::kPcie;
    default: return LinkClass::kHost;
  }
}

tgrack::v1::NodeTopology topology_to_proto(const LinkPolicy& policy, const std::string& source) {
  tgrack::v1::NodeTopology out;
  out.set_source(source);
  for (size_t a = 0; a < policy.size(); ++a) {
    for (size_t b = a + 1; b < policy.size(); ++b) {
      const AlphaBeta estimate = policy.estimate(a, b);
      tgrack::v1::DeviceLink* link = out.add_links();
      link->set_a(static_cast<uint32_t>(a));
      link->set_b(static_cast<uint32_t>(b));
      link->set_link_class(link_class_to_proto(policy.choose(a, b)));
      link->set_latency_s(estimate.latency);
      link->set_bandwidth_bytes_per_s(estimate.bandwidth);
      link->set_reason(policy.explain(a, b));
    }
  }
  if (policy.size() > 0) {
    const MeshAnalysis analysis = policy.analyze(policy.all_devices());
    out.set_collective_shape(collective_shape_name(analysis.shape));
    out.set_reason(analysis.reason);
  }
  return out;
}

absl::StatusOr<LinkPolicy> topology_from_proto(const tgrack::v1::NodeInfo& node) {
  std::vector<TopologyDevice> devices;
  for (int i = 0; i < node.devices_size(); ++i) {
    const tgrack::v1::DeviceInfo& info = node.devices(i);
    TopologyDevice device;
    device.name = absl::StrCat(info.kind() == tgrack::v1::DEVICE_KIND_HIP ? "GPU" : "cpu", i);
    device.hive_id = info.hive_id();
    devices.push_back(std::move(device));
  }
  LinkMatrix matrix(std::move(devices));
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (const tgrack::v1::DeviceLink& entry : node.topology().links()) {
    const uint32_t a = std::min(entry.a(), entry.b()), b = std::max(entry.a(), entry.b());
    if (b >= matrix.size() || a == b || !seen.insert({a, b}).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node '", node.name(), "' reports a bad link ", entry.a(), "-", entry.b(), " (it has ",
          matrix.size(), " devices; each pair of distinct devices once)"));
    }
    Link link;
    link.link_class = link_class_from_proto(entry.link_class());
    link.bandwidth = entry.bandwidth_bytes_per_s();
    link.latency = entry.latency_s();
    link.source = entry.reason();
    matrix.set_link(a, b, link);
    matrix.set_link(b, a, link);
  }
  return LinkPolicy(std::move(matrix));
}

}  // namespace tg
