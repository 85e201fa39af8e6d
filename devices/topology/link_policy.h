// Which path each pair of a host's devices uses, and the checks and estimates built on it.
// The policy takes the best class a pair supports in both directions: XGMI, else PCIe peer,
// else host-staged. A caller that needs a class asks require_link, which fails rather than
// fall back. The collectives' cost model reads per-pair alpha-beta estimates and the mesh
// analysis (a full XGMI mesh -> mesh/direct algorithms; hives joined by slower links ->
// hierarchical; anything else -> ring). Immutable after construction; thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>

#include "devices/topology/link_matrix.h"

namespace tg {

// time(bytes) = latency + bytes / bandwidth.
struct AlphaBeta {
  double latency = 0;    // Seconds.
  double bandwidth = 0;  // Bytes/s.
  double time(double bytes) const { return latency + bytes / bandwidth; }
};

// Used where the topology does not report a link's speed: rough figures for one XGMI link,
// a PCIe 4.0 x16 peer path, and a copy staged through host memory (two PCIe transfers).
inline constexpr AlphaBeta kDefaultXgmi{2e-6, 50e9};
inline constexpr AlphaBeta kDefaultPcie{5e-6, 25e9};
inline constexpr AlphaBeta kDefaultHost{15e-6, 10e9};
AlphaBeta default_estimate(LinkClass link_class);

enum class CollectiveShape { kMesh, kHierarchical, kRing };
std::string collective_shape_name(CollectiveShape shape);  // "mesh", "hierarchical", "ring"

struct MeshAnalysis {
  CollectiveShape shape = CollectiveShape::kMesh;
  bool full_xgmi_mesh = false;
  // The devices split into groups joined by XGMI (connected components), each in device order.
  std::vector<std::vector<size_t>> xgmi_groups;
  std::string reason;  // e.g. "8 devices fully connected by XGMI".
};

class LinkPolicy {
 public:
  explicit LinkPolicy(LinkMatrix matrix);

  const LinkMatrix& matrix() const { return matrix_; }
  size_t size() const { return matrix_.size(); }

  // The class used between a and b (a != b, both < size()): the weaker of the two directions.
  LinkClass choose(size_t a, size_t b) const;
  // One line saying what was chosen and why, e.g.
  // "GPU0 <-> GPU4: PCIe peer (no XGMI link; weight 40, 31.5 GB/s)".
  std::string explain(size_t a, size_t b) const;
  // explain() for every unordered pair, then a count per class.
  std::string report() const;

  // OK when {a, b} has `required` or better. FAILED_PRECONDITION naming the pair, the
  // requirement and what was found otherwise; INVALID_ARGUMENT for a == b or an index out of
  // range. Never falls back.
  absl::Status require_link(size_t a, size_t b, LinkClass required) const;
  // require_link for every pair of `devices`; the first failure.
  absl::Status require_link(std::span<const size_t> devices, LinkClass required) const;

  // Alpha-beta estimate for copies between a and b in either direction: the slower direction,
  // with the class defaults where the topology reports no figure.
  AlphaBeta estimate(size_t a, size_t b) const;

  // How the collectives should treat `devices` (indices < size(), distinct).
  MeshAnalysis analyze(std::span<const size_t> devices) const;
  bool is_full_xgmi_mesh(std::span<const size_t> devices) const;
  // All devices: 0..size()-1.
  std::vector<size_t> all_devices() const;

 private:
  LinkMatrix matrix_;
};

}  // namespace tg
