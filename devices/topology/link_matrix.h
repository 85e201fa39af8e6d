// The link matrix of one host's devices: for every ordered pair (from, to) of distinct devices
// the class of path a copy from `from` to `to` can take and what is known of its speed. Built
// from the KFD topology on AMD hosts (GPU nodes only, in node order) or from config for cpu
// devices (topology_config.h). A value type; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/topology/kfd_topology.h"
#include "devices/topology/link_class.h"

namespace tg {

struct TopologyDevice {
  std::string name;                 // "GPU0", "cpu1".
  std::string hive_id;              // Devices with one hive id reset together; "" = none.
  uint32_t kfd_node = 0;            // KFD node id (AMD only).
  uint64_t gfx_target_version = 0;  // 0 = unknown or not a GPU.
  int64_t drm_render_minor = -1;    // -1 = none.
  uint64_t unique_id = 0;
  uint64_t location_id = 0;         // PCI bus << 8 | devfn.
};

struct Link {
  LinkClass link_class = LinkClass::kHost;
  uint32_t weight = 0;              // KFD weight; 0 = none or not reported.
  double bandwidth = 0;             // Peak bytes/s; 0 = not reported.
  double min_bandwidth = 0;         // Bytes/s; 0 = not reported.
  double latency = 0;               // Seconds; 0 = not reported.
  std::string source;               // Where it came from, e.g. "nodes/1/io_links/3/properties".
};

class LinkMatrix {
 public:
  LinkMatrix() = default;
  // Every pair starts host-staged with nothing known.
  explicit LinkMatrix(std::vector<TopologyDevice> devices);

  size_t size() const { return devices_.size(); }
  const std::vector<TopologyDevice>& devices() const { return devices_; }
  const TopologyDevice& device(size_t i) const;
  // The directed link from -> to. Requires from != to, both < size().
  const Link& link(size_t from, size_t to) const;
  void set_link(size_t from, size_t to, Link link);

 private:
  std::vector<TopologyDevice> devices_;
  std::vector<Link> links_;  // size() * size(), row-major; the diagonal is unused.
};

// GPU nodes become devices GPU0..GPUn-1 in node order; CPU nodes are left out. A GPU's link to
// another GPU is XGMI for an XGMI (type 11) io/p2p link, PCIe peer for a PCIe (type 2) one, and
// host-staged when there is neither; where several links join a pair the best class wins, then
// the higher bandwidth. Bandwidths are converted from MB/s (10^6 bytes). INVALID_ARGUMENT when
// there are no GPU nodes.
absl::StatusOr<LinkMatrix> link_matrix_from_kfd(const KfdTopology& topology);

// Reads the tree under `root` and builds its matrix.
absl::StatusOr<LinkMatrix> read_kfd_link_matrix(const std::filesystem::path& root);

}  // namespace tg
