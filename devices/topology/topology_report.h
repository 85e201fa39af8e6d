// Human and machine views of a host's link matrix, for `tgctl topology` and logs: a matrix in
// the manner of `nvidia-smi topo -m` (X / XGMI / PCIE / HOST cells, per-device hive and target,
// a legend and the collective shape), and the same facts as JSON.
#pragma once

#include <string>

#include "devices/topology/link_policy.h"

namespace tg {

// Each row ends in a newline. Cells show the class the policy chooses for the pair.
std::string format_topology_matrix(const LinkPolicy& policy);

// {"devices": [{"index", "name", "hive_id", "gfx_target", "drm_render_minor", "kfd_node",
//   "location_id"}], "pairs": [{"a", "b", "class", "latency_s", "bandwidth_bytes_per_s",
//   "reason"}], "collective_shape", "full_xgmi_mesh", "reason"}
// pairs lists every unordered pair a < b once. Indented by 2.
std::string format_topology_json(const LinkPolicy& policy);

}  // namespace tg
