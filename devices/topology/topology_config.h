// The link matrix of cpu devices, from a small JSON config (cpu devices have no sysfs to read):
//
//   {
//     "devices": [{"name": "cpu0", "hive": "a"}, {"name": "cpu1", "hive": "a"}, {"name": "cpu2"}],
//     "default_link": {"class": "host", "bandwidth_gbytes_per_s": 10, "latency_us": 20},
//     "links": [{"between": [0, 1], "class": "xgmi", "bandwidth_gbytes_per_s": 64,
//                "latency_us": 2}]
//   }
//
// "devices" is a list (name required, hive optional) or a count N (cpu0..cpuN-1, no hives).
// Each entry of "links" sets both directions of one pair; pairs not listed take "default_link"
// (itself optional: host-staged, speed unknown). Bandwidth is in 10^9 bytes/s, latency in
// microseconds; both optional (0 = unknown).
#pragma once

#include <filesystem>
#include <string_view>

#include <absl/status/statusor.h>

#include "devices/topology/link_matrix.h"

namespace tg {

// INVALID_ARGUMENT naming the JSON location (e.g. "links[1].class") and what is wrong: bad
// JSON, unknown keys, unknown link classes, device indices out of range, a device paired with
// itself, a pair listed twice, negative numbers, duplicate device names.
absl::StatusOr<LinkMatrix> parse_topology_config(std::string_view json_text);
// NOT_FOUND when `file` cannot be read; otherwise as parse_topology_config, errors prefixed
// with the file name.
absl::StatusOr<LinkMatrix> load_topology_config(const std::filesystem::path& file);

}  // namespace tg
