#include "devices/topology/kfd_topology.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <system_error>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include "devices/topology/kfd_properties.h"

namespace tg {
namespace {

namespace fs = std::filesystem;

// Entries of `dir` that must be named 0..N-1; `display` names the directory in errors.
absl::StatusOr<uint32_t> count_numbered_dirs(const fs::path& dir, const std::string& display) {
  std::error_code ec;
  std::vector<uint32_t> ids;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    uint32_t id = 0;
    auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (err != std::errc() || end != name.data() + name.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(display, "/", name, ": expected only numbered entries"));
    }
    ids.push_back(id);
  }
  if (ec) return absl::NotFoundError(absl::StrCat(display, ": ", ec.message()));
  std::sort(ids.begin(), ids.end());
  for (uint32_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != i) {
      return absl::InvalidArgumentError(absl::StrCat(
          display, ": entries must be numbered 0..", ids.size() - 1, " but ", i, " is missing"));
    }
  }
  return static_cast<uint32_t>(ids.size());
}

absl::StatusOr<uint64_t> required(const KfdProperties& props, const std::string& key) {
  auto value = props.get(key);
  if (!value.ok()) return absl::InvalidArgumentError(value.status().message());
  return *value;
}

absl::StatusOr<KfdLink> read_link(const fs::path& root, uint32_t node, const std::string& kind,
                                  uint32_t index) {
  const std::string rel = absl::StrCat("nodes/", node, "/", kind, "/", index, "/properties");
  auto props = KfdProperties::read(root / rel, rel);
  if (!props.ok()) return props.status();
  KfdLink link;
  link.source = rel;
  link.p2p = kind == "p2p_links";
  const std::pair<const char*, uint32_t*> fields[] = {
      {"type", &link.type}, {"node_from", &link.node_from}, {"node_to", &link.node_to},
      {"weight", &link.weight}};
  for (auto [key, field] : fields) {
    auto value = required(*props, key);
    if (!value.ok()) return value.status();
    if (*value > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(props->where(key), ": ", key, " ", *value, " out of range"));
    }
    *field = static_cast<uint32_t>(*value);
  }
  link.min_bandwidth = props->get_or("min_bandwidth", 0);
  link.max_bandwidth = props->get_or("max_bandwidth", 0);
  link.min_latency = props->get_or("min_latency", 0);
  if (link.node_from != node) {
    return absl::InvalidArgumentError(absl::StrCat(props->where("node_from"), ": node_from ",
                                                   link.node_from, " but the link belongs to node ",
                                                   node));
  }
  return link;
}

absl::Status read_links(const fs::path& root, KfdNode& node, const KfdProperties& props,
                        const std::string& kind, const std::string& count_key) {
  const std::string rel = absl::StrCat("nodes/", node.id, "/", kind);
  uint32_t found = 0;
  if (fs::is_directory(root / rel)) {
    auto count = count_numbered_dirs(root / rel, rel);
    if (!count.ok()) return count.status();
    found = *count;
  }
  const uint64_t expected = props.get_or(count_key, found);
  if (expected > found) {
    return absl::NotFoundError(absl::StrCat(rel, "/", found, "/properties: missing (",
                                            props.where(count_key), " says ", count_key, " ",
                                            expected, ")"));
  }
  if (expected < found) {
    return absl::InvalidArgumentError(absl::StrCat(props.where(count_key), ": ", count_key, " ",
                                                   expected, " but ", rel, " holds ", found,
                                                   " links"));
  }
  for (uint32_t m = 0; m < found; ++m) {
    auto link = read_link(root, node.id, kind, m);
    if (!link.ok()) return link.status();
    node.links.push_back(std::move(*link));
  }
  return absl::OkStatus();
}

absl::StatusOr<KfdNode> read_node(const fs::path& root, uint32_t id) {
  const std::string rel = absl::StrCat("nodes/", id, "/properties");
  auto props = KfdProperties::read(root / rel, rel);
  if (!props.ok()) return props.status();
  KfdNode node;
  node.id = id;
  auto simd = required(*props, "simd_count");
  if (!simd.ok()) return simd.status();
  node.simd_count = *simd;
  if (auto s = required(*props, "io_links_count"); !s.ok()) return s.status();
  if (node.is_gpu()) {
    const std::pair<const char*, uint64_t*> fields[] = {
        {"hive_id", &node.hive_id}, {"drm_render_minor", &node.drm_render_minor},
        {"location_id", &node.location_id}};
    for (auto [key, field] : fields) {
      auto value = required(*props, key);
      if (!value.ok()) return value.status();
      *field = *value;
    }
  }
  node.cpu_cores_count = props->get_or("cpu_cores_count", 0);
  node.gfx_target_version = props->get_or("gfx_target_version", 0);
  node.unique_id = props->get_or("unique_id", 0);
  node.domain = props->get_or("domain", 0);
  node.vendor_id = props->get_or("vendor_id", 0);
  node.device_id = props->get_or("device_id", 0);

  const std::string gpu_id_rel = absl::StrCat("nodes/", id, "/gpu_id");
  if (std::ifstream in(root / gpu_id_rel); in) {
    if (!(in >> node.gpu_id)) {
      return absl::InvalidArgumentError(absl::StrCat(gpu_id_rel, ":1: expected a number"));
    }
  }
  if (auto s = read_links(root, node, *props, "io_links", "io_links_count"); !s.ok()) return s;
  if (auto s = read_links(root, node, *props, "p2p_links", "p2p_links_count"); !s.ok()) return s;
  return node;
}

}  // namespace

namespace {

absl::StatusOr<KfdTopology> read_tree(const fs::path& root) {
  const fs::path nodes_dir = root / "nodes";
  if (!fs::is_directory(nodes_dir)) {
    return absl::NotFoundError("nodes: missing (no KFD topology here)");
  }
  auto count = count_numbered_dirs(nodes_dir, "nodes");
  if (!count.ok()) return count.status();
  KfdTopology topology;
  for (uint32_t id = 0; id < *count; ++id) {
    auto node = read_node(root, id);
    if (!node.ok()) return node.status();
    topology.nodes.push_back(std::move(*node));
  }
  for (const KfdNode& node : topology.nodes) {
    for (const KfdLink& link : node.links) {
      if (link.node_to >= topology.nodes.size() || link.node_to == link.node_from) {
        auto props = KfdProperties::read(root / link.source, link.source);
        const std::string where = props.ok() ? props->where("node_to") : link.source;
        return absl::InvalidArgumentError(absl::StrCat(where, ": node_to ", link.node_to,
                                                       " names no other node (nodes are 0..",
                                                       topology.nodes.size() - 1, ")"));
      }
    }
  }
  return topology;
}

}  // namespace

absl::StatusOr<KfdTopology> read_kfd_topology(const fs::path& root) {
  auto topology = read_tree(root);
  if (!topology.ok()) {
    return absl::Status(topology.status().code(),
                        absl::StrCat("kfd topology ", root.string(), ": ",
                                     topology.status().message()));
  }
  return topology;
}

std::string gfx_target_name(uint64_t v) {
  if (v == 0) return "";
  return absl::StrFormat("gfx%d%d%x", v / 10000, (v / 100) % 100, v % 100);
}

}  // namespace tg
