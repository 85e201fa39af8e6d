#include "collectives/link_requirement.h"

#include <memory>

#include <absl/strings/str_cat.h>

#include "devices/topology/topology_proto.h"

namespace tg::coll {

absl::Status check_required_link(const std::vector<tgrack::v1::DeviceRef>& devices,
                                 const std::map<std::string, tgrack::v1::NodeInfo>& nodes,
                                 const std::string& required) {
  if (required.empty()) return absl::OkStatus();
  absl::StatusOr<LinkClass> wanted = parse_link_class(required);
  if (!wanted.ok()) return absl::InvalidArgumentError(absl::StrCat("require_link: ", wanted.status().message()));
  std::map<std::string, std::unique_ptr<LinkPolicy>> policies;
  for (size_t i = 0; i < devices.size(); ++i) {
    for (size_t j = i + 1; j < devices.size(); ++j) {
      const tgrack::v1::DeviceRef& a = devices[i];
      const tgrack::v1::DeviceRef& b = devices[j];
      const std::string pair = absl::StrCat(a.node(), ":", a.index(), " and ", b.node(), ":", b.index());
      if (a.node() != b.node()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "required link ", required, " not available between ", pair,
            "; found network (they are on different nodes, joined only by the data plane)"));
      }
      auto& policy = policies[a.node()];
      if (policy == nullptr) {
        auto node = nodes.find(a.node());
        if (node == nodes.end()) return absl::NotFoundError(absl::StrCat("no node '", a.node(), "'"));
        absl::StatusOr<LinkPolicy> built = topology_from_proto(node->second);
        if (!built.ok()) return built.status();
        policy = std::make_unique<LinkPolicy>(std::move(*built));
      }
      absl::Status met = policy->require_link(a.index(), b.index(), *wanted);
      if (!met.ok()) {
        return absl::Status(met.code(), absl::StrCat("device pair ", pair, ": ", met.message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tg::coll
