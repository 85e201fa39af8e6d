// The classes of path between two devices of one host, best first: a direct XGMI link, a PCIe
// peer-to-peer path, or none (copies staged through host memory). Ordered so that a better
// class compares greater.
#pragma once

#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace tg {

enum class LinkClass { kHost = 0, kPcie = 1, kXgmi = 2 };

// "xgmi", "pcie", "host": the names used in flags, config and JSON.
std::string link_class_name(LinkClass link_class);
// "XGMI", "PCIE", "HOST": the cells of the printed matrix.
std::string link_class_label(LinkClass link_class);
// "XGMI", "PCIe peer", "host-staged": for reports and errors.
std::string link_class_description(LinkClass link_class);
// Inverse of link_class_name (case-insensitive); INVALID_ARGUMENT naming the text and the
// accepted names.
absl::StatusOr<LinkClass> parse_link_class(std::string_view name);

}  // namespace tg
