#include "devices/topology/topology_report.h"

#include <algorithm>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <nlohmann/json.hpp>

namespace tg {
namespace {

std::string pad(std::string_view text, size_t width) {
  std::string out(text);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

}  // namespace

std::string format_topology_matrix(const LinkPolicy& policy) {
  const LinkMatrix& m = policy.matrix();
  size_t width = 6;
  for (const TopologyDevice& d : m.devices()) width = std::max(width, d.name.size() + 2);
  std::string out = pad("", width);
  for (const TopologyDevice& d : m.devices()) absl::StrAppend(&out, pad(d.name, width));
  absl::StrAppend(&out, pad("Hive", 20), pad("Target", 9), "Render\n");
  for (size_t a = 0; a < m.size(); ++a) {
    absl::StrAppend(&out, pad(m.device(a).name, width));
    for (size_t b = 0; b < m.size(); ++b) {
      absl::StrAppend(&out, pad(a == b ? " X" : link_class_label(policy.choose(a, b)), width));
    }
    const TopologyDevice& d = m.device(a);
    const std::string target = gfx_target_name(d.gfx_target_version);
    absl::StrAppend(&out, pad(d.hive_id.empty() ? "-" : d.hive_id, 20),
                    pad(target.empty() ? "-" : target, 9),
                    d.drm_render_minor >= 0 ? absl::StrCat("renderD", d.drm_render_minor) : "-",
                    "\n");
  }
  const MeshAnalysis mesh = policy.analyze(policy.all_devices());
  absl::StrAppend(&out, "\nLegend:\n\n",
                  "  X    = Self\n",
                  "  XGMI = Direct XGMI (Infinity Fabric) link between the GPUs\n",
                  "  PCIE = PCIe peer-to-peer copies, no XGMI link\n",
                  "  HOST = No peer path: copies are staged through host memory\n",
                  "\nCollective shape: ", collective_shape_name(mesh.shape), " (", mesh.reason,
                  ")\n");
  return out;
}

std::string format_topology_json(const LinkPolicy& policy) {
  using nlohmann::json;
  const LinkMatrix& m = policy.matrix();
  json devices = json::array();
  for (size_t i = 0; i < m.size(); ++i) {
    const TopologyDevice& d = m.device(i);
    devices.push_back({{"index", i},
                       {"name", d.name},
                       {"hive_id", d.hive_id},
                       {"gfx_target", gfx_target_name(d.gfx_target_version)},
                       {"drm_render_minor", d.drm_render_minor},
                       {"kfd_node", d.kfd_node},
                       {"location_id", d.location_id}});
  }
  json pairs = json::array();
  for (size_t a = 0; a < m.size(); ++a) {
    for (size_t b = a + 1; b < m.size(); ++b) {
      const AlphaBeta e = policy.estimate(a, b);
      pairs.push_back({{"a", a},
                       {"b", b},
                       {"class", link_class_name(policy.choose(a, b))},
                       {"latency_s", e.latency},
                       {"bandwidth_bytes_per_s", e.bandwidth},
                       {"reason", policy.explain(a, b)}});
    }
  }
  const MeshAnalysis mesh = policy.analyze(policy.all_devices());
  json out = {{"devices", devices},
              {"pairs", pairs},
              {"collective_shape", collective_shape_name(mesh.shape)},
              {"full_xgmi_mesh", mesh.full_xgmi_mesh},
              {"reason", mesh.reason}};
  return out.dump(2);
}

}  // namespace tg
