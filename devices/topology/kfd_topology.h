// The KFD topology of one host as the amdgpu driver publishes it in sysfs
// (<root>/nodes/N/properties, nodes/N/io_links/M/properties, nodes/N/p2p_links/M/properties),
// read from a configurable root so fixture trees can stand in for /sys. Nodes are CPU sockets
// (simd_count 0) and GPUs; links are directed (node_from -> node_to). Only what tgrack uses is
// kept. No HIP dependency: this runs, and is tested, on hosts without an AMD GPU.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

namespace tg {

inline constexpr char kKfdTopologyRoot[] = "/sys/class/kfd/kfd/topology";

// HSA IO-link types the link matrix understands; any other type is kept but not used.
inline constexpr uint32_t kKfdLinkTypePcie = 2;
inline constexpr uint32_t kKfdLinkTypeXgmi = 11;

struct KfdLink {
  uint32_t type = 0;
  uint32_t node_from = 0;
  uint32_t node_to = 0;
  uint32_t weight = 0;          // Relative cost; lower is closer.
  uint64_t min_bandwidth = 0;   // MB/s; 0 = not reported.
  uint64_t max_bandwidth = 0;   // MB/s; 0 = not reported.
  uint64_t min_latency = 0;     // ns; 0 = not reported.
  bool p2p = false;             // From p2p_links (an indirect peer path) rather than io_links.
  std::string source;           // "nodes/1/io_links/3/properties", for reports and errors.
};

struct KfdNode {
  uint32_t id = 0;
  uint32_t gpu_id = 0;              // From nodes/N/gpu_id; 0 for CPU nodes or when absent.
  uint64_t simd_count = 0;          // 0 = CPU node.
  uint64_t cpu_cores_count = 0;
  uint64_t hive_id = 0;             // XGMI hive; 0 = none.
  uint64_t gfx_target_version = 0;  // e.g. 90402 = gfx942; 0 when the kernel does not say.
  uint64_t drm_render_minor = 0;    // /dev/dri/renderD<minor>.
  uint64_t unique_id = 0;
  uint64_t location_id = 0;         // PCI bus << 8 | devfn.
  uint64_t domain = 0;              // PCI domain.
  uint64_t vendor_id = 0;
  uint64_t device_id = 0;
  std::vector<KfdLink> links;       // io_links, then p2p_links.

  bool is_gpu() const { return simd_count > 0; }
};

struct KfdTopology {
  std::vector<KfdNode> nodes;  // Indexed by node id (0..N-1).
};

// Reads the tree under `root`. NOT_FOUND naming the file for a missing nodes directory,
// properties file or link; INVALID_ARGUMENT naming file and line for bad numbers, missing
// keys a GPU node must have (simd_count, io_links_count, hive_id, drm_render_minor,
// location_id), node directories that are not 0..N-1, link counts that disagree with the
// link directories, a link whose node_from is not its own node, or node_to naming no node.
absl::StatusOr<KfdTopology> read_kfd_topology(const std::filesystem::path& root);

// "gfx942" for 90402, "gfx90a" for 90010; "" for 0.
std::string gfx_target_name(uint64_t gfx_target_version);

}  // namespace tg
