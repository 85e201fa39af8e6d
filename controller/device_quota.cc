#include "controller/device_quota.h"

#include <set>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "controller/placement.h"

namespace tg {

absl::Status check_devices_quota(const Tenants& tenants, const JobRegistry& jobs,
                                 const Caller& caller,
                                 const std::vector<tgrack::v1::DeviceRef>& needed,
                                 const std::string& what) {
  if (caller.admin() || needed.empty()) return absl::OkStatus();
  auto tenant = tenants.tenant(caller.tenant);
  if (!tenant.ok()) return absl::OkStatus();  // Revoked with its tenant: authorize refuses it.
  const uint32_t limit = tenant->quota().devices();
  if (limit == 0) return absl::OkStatus();
  const std::set<JobRegistry::Device> held = jobs.devices_held(caller.tenant);
  std::set<JobRegistry::Device> wanted;
  for (const tgrack::v1::DeviceRef& d : needed) wanted.emplace(d.node(), d.index());
  size_t more = 0;
  for (const JobRegistry::Device& d : wanted) more += held.contains(d) ? 0 : 1;
  if (held.size() + more <= limit) return absl::OkStatus();
  std::vector<std::string> names;
  for (const auto& [node, index] : wanted) names.push_back(device_name(node, index));
  return absl::ResourceExhaustedError(absl::StrCat(
      "quota devices of tenant '", caller.tenant, "' is exhausted: limit ", limit,
      " devices, in use ", held.size(), " devices; ", what, " needs ", wanted.size(),
      " devices (", absl::StrJoin(names, ","), "), ", more, " of them not in use; nothing was run"));
}

}  // namespace tg
