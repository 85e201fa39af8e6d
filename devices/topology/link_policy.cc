#include "devices/topology/link_policy.h"

#include <algorithm>
#include <cassert>
#include <numeric>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

namespace tg {

AlphaBeta default_estimate(LinkClass link_class) {
  switch (link_class) {
    case LinkClass::kXgmi: return kDefaultXgmi;
    case LinkClass::kPcie: return kDefaultPcie;
    case LinkClass::kHost: return kDefaultHost;
  }
  return kDefaultHost;
}

std::string collective_shape_name(CollectiveShape shape) {
  switch (shape) {
    case CollectiveShape::kMesh: return "mesh";
    case CollectiveShape::kHierarchical: return "hierarchical";
    case CollectiveShape::kRing: return "ring";
  }
  return "ring";
}

LinkPolicy::LinkPolicy(LinkMatrix matrix) : matrix_(std::move(matrix)) {}

LinkClass LinkPolicy::choose(size_t a, size_t b) const {
  return std::min(matrix_.link(a, b).link_class, matrix_.link(b, a).link_class);
}

namespace {

std::string speed(const Link& link) {
  std::vector<std::string> parts;
  if (link.weight) parts.push_back(absl::StrCat("weight ", link.weight));
  if (link.bandwidth > 0) parts.push_back(absl::StrFormat("%.1f GB/s", link.bandwidth / 1e9));
  if (link.latency > 0) parts.push_back(absl::StrFormat("%.1f us", link.latency * 1e6));
  return absl::StrJoin(parts, ", ");
}

}  // namespace

std::string LinkPolicy::explain(size_t a, size_t b) const {
  const Link& ab = matrix_.link(a, b);
  const Link& ba = matrix_.link(b, a);
  const LinkClass chosen = choose(a, b);
  const std::string pair =
      absl::StrCat(matrix_.device(a).name, " <-> ", matrix_.device(b).name, ": ",
                   link_class_description(chosen));
  std::string why;
  if (ab.link_class != ba.link_class) {
    why = absl::StrCat("asymmetric: ", matrix_.device(a).name, " -> ", matrix_.device(b).name,
                       " ", link_class_description(ab.link_class), ", ", matrix_.device(b).name,
                       " -> ", matrix_.device(a).name, " ", link_class_description(ba.link_class));
  } else if (chosen == LinkClass::kPcie) {
    why = "no XGMI link";
  } else if (chosen == LinkClass::kHost) {
    why = "no XGMI or PCIe peer link";
  }
  const std::string detail = speed(ab.link_class == chosen ? ab : ba);
  if (!detail.empty()) why = why.empty() ? detail : absl::StrCat(why, "; ", detail);
  return why.empty() ? pair : absl::StrCat(pair, " (", why, ")");
}

std::string LinkPolicy::report() const {
  std::string out;
  int counts[3] = {0, 0, 0};
  for (size_t a = 0; a < size(); ++a) {
    for (size_t b = a + 1; b < size(); ++b) {
      absl::StrAppend(&out, explain(a, b), "\n");
      ++counts[static_cast<int>(choose(a, b))];
    }
  }
  absl::StrAppend(&out, "pairs: ", counts[2], " XGMI, ", counts[1], " PCIe peer, ", counts[0],
                  " host-staged\n");
  return out;
}

absl::Status LinkPolicy::require_link(size_t a, size_t b, LinkClass required) const {
  if (a >= size() || b >= size()) {
    return absl::InvalidArgumentError(absl::StrCat("require_link: device index ", std::max(a, b),
                                                   " out of range (", size(), " devices)"));
  }
  if (a == b) {
    return absl::InvalidArgumentError(
        absl::StrCat("require_link: ", matrix_.device(a).name, " paired with itself"));
  }
  if (choose(a, b) >= required) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("required link ", link_class_name(required), " not available between ",
                   matrix_.device(a).name, " and ", matrix_.device(b).name, "; found ",
                   explain(a, b)));
}

absl::Status LinkPolicy::require_link(std::span<const size_t> devices, LinkClass required) const {
  for (size_t i = 0; i < devices.size(); ++i) {
    for (size_t j = i + 1; j < devices.size(); ++j) {
      if (auto s = require_link(devices[i], devices[j], required); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

AlphaBeta LinkPolicy::estimate(size_t a, size_t b) const {
  const LinkClass chosen = choose(a, b);
  AlphaBeta result{0, 0};
  for (const Link* link : {&matrix_.link(a, b), &matrix_.link(b, a)}) {
    AlphaBeta e = default_estimate(chosen);
    if (link->link_class == chosen) {
      if (link->bandwidth > 0) e.bandwidth = link->bandwidth;
      if (link->latency > 0) e.latency = link->latency;
    }
    result.latency = std::max(result.latency, e.latency);
    result.bandwidth =
        result.bandwidth == 0 ? e.bandwidth : std::min(result.bandwidth, e.bandwidth);
  }
  return result;
}

MeshAnalysis LinkPolicy::analyze(std::span<const size_t> devices) const {
  MeshAnalysis out;
  const size_t n = devices.size();
  std::vector<size_t> group(n);
  std::iota(group.begin(), group.end(), 0);
  auto root = [&](size_t i) {
    while (group[i] != i) i = group[i] = group[group[i]];
    return i;
  };
  bool all_xgmi = true;
  std::string first_gap;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (choose(devices[i], devices[j]) == LinkClass::kXgmi) {
        group[root(j)] = root(i);
      } else if (all_xgmi) {
        all_xgmi = false;
        first_gap = explain(devices[i], devices[j]);
      }
    }
  }
  std::vector<std::vector<size_t>> groups(n);
  for (size_t i = 0; i < n; ++i) groups[root(i)].push_back(devices[i]);
  for (auto& g : groups) {
    if (!g.empty()) out.xgmi_groups.push_back(std::move(g));
  }
  if (n <= 1) {
    out.full_xgmi_mesh = true;
    out.shape = CollectiveShape::kMesh;
    out.reason = "a single device";
    return out;
  }
  if (all_xgmi) {
    out.full_xgmi_mesh = true;
    out.shape = CollectiveShape::kMesh;
    out.reason = absl::StrCat(n, " devices fully connected by XGMI");
    return out;
  }
  bool cliques = out.xgmi_groups.size() > 1;
  for (const auto& g : out.xgmi_groups) {
    cliques = cliques && g.size() == out.xgmi_groups[0].size() && g.size() >= 2 &&
              is_full_xgmi_mesh(g);
  }
  if (cliques) {
    out.shape = CollectiveShape::kHierarchical;
    out.reason = absl::StrCat(out.xgmi_groups.size(), " XGMI meshes of ",
                              out.xgmi_groups[0].size(), " devices joined by slower links, e.g. ",
                              first_gap);
    return out;
  }
  out.shape = CollectiveShape::kRing;
  out.reason = absl::StrCat("not a full XGMI mesh: ", first_gap);
  return out;
}

bool LinkPolicy::is_full_xgmi_mesh(std::span<const size_t> devices) const {
  for (size_t i = 0; i < devices.size(); ++i) {
    for (size_t j = i + 1; j < devices.size(); ++j) {
      if (choose(devices[i], devices[j]) != LinkClass::kXgmi) return false;
    }
  }
  return true;
}

std::vector<size_t> LinkPolicy::all_devices() const {
  std::vector<size_t> all(size());
  std::iota(all.begin(), all.end(), 0);
  return all;
}

}  // namespace tg
