#include "devices/topology/link_matrix.h"

#include <cassert>
#include <map>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

namespace tg {

LinkMatrix::LinkMatrix(std::vector<TopologyDevice> devices)
    : devices_(std::move(devices)), links_(devices_.size() * devices_.size()) {}

const TopologyDevice& LinkMatrix::device(size_t i) const {
  assert(i < size());
  return devices_[i];
}

const Link& LinkMatrix::link(size_t from, size_t to) const {
  assert(from < size() && to < size() && from != to);
  return links_[from * size() + to];
}

void LinkMatrix::set_link(size_t from, size_t to, Link link) {
  assert(from < size() && to < size() && from != to);
  links_[from * size() + to] = std::move(link);
}

absl::StatusOr<LinkMatrix> link_matrix_from_kfd(const KfdTopology& topology) {
  std::map<uint32_t, size_t> index_of_node;
  std::vector<TopologyDevice> devices;
  for (const KfdNode& node : topology.nodes) {
    if (!node.is_gpu()) continue;
    index_of_node[node.id] = devices.size();
    TopologyDevice d;
    d.name = absl::StrCat("GPU", devices.size());
    d.hive_id = node.hive_id ? absl::StrFormat("0x%016x", node.hive_id) : "";
    d.kfd_node = node.id;
    d.gfx_target_version = node.gfx_target_version;
    d.drm_render_minor = static_cast<int64_t>(node.drm_render_minor);
    d.unique_id = node.unique_id;
    d.location_id = node.location_id;
    devices.push_back(std::move(d));
  }
  if (devices.empty()) {
    return absl::InvalidArgumentError("kfd topology: no GPU nodes (every node has simd_count 0)");
  }
  LinkMatrix matrix(std::move(devices));
  for (const KfdNode& node : topology.nodes) {
    if (!node.is_gpu()) continue;
    const size_t from = index_of_node.at(node.id);
    for (const KfdLink& kfd : node.links) {
      auto to = index_of_node.find(kfd.node_to);
      if (to == index_of_node.end()) continue;  // A link to a CPU node.
      Link link;
      if (kfd.type == kKfdLinkTypeXgmi) {
        link.link_class = LinkClass::kXgmi;
      } else if (kfd.type == kKfdLinkTypePcie) {
        link.link_class = LinkClass::kPcie;
      } else {
        continue;  // A bus tgrack cannot drive peer copies over.
      }
      link.weight = kfd.weight;
      link.bandwidth = static_cast<double>(kfd.max_bandwidth) * 1e6;
      link.min_bandwidth = static_cast<double>(kfd.min_bandwidth) * 1e6;
      link.latency = static_cast<double>(kfd.min_latency) * 1e-9;
      link.source = kfd.source;
      const Link& current = matrix.link(from, to->second);
      const bool better = current.source.empty() || link.link_class > current.link_class ||
                          (link.link_class == current.link_class &&
                           link.bandwidth > current.bandwidth);
      if (better) matrix.set_link(from, to->second, std::move(link));
    }
  }
  return matrix;
}

absl::StatusOr<LinkMatrix> read_kfd_link_matrix(const std::filesystem::path& root) {
  auto topology = read_kfd_topology(root);
  if (!topology.ok()) return topology.status();
  return link_matrix_from_kfd(*topology);
}

}  // namespace tg
