// The devices quota of a tenant: how many distinct devices its running jobs hold at once (a
// device running two of its jobs counts once). Checked when the devices are known, after
// planning and before any work is sent, against what the plan (or communicator) needs.
#pragma once

#include <string>
#include <vector>

#include <absl/status/status.h>

#include "controller/job_registry.h"
#include "controller/tenants.h"
#include "tgrack/v1/common.pb.h"

namespace tg {

// OK when `caller` is an admin, its tenant has no devices quota, or the devices its running
// jobs hold together with `needed` are within it. Otherwise RESOURCE_EXHAUSTED naming the
// tenant, the limit, the devices in use and what `what` (e.g. "the plan") needs.
absl::Status check_devices_quota(const Tenants& tenants, const JobRegistry& jobs,
                                 const Caller& caller,
                                 const std::vector<tgrack::v1::DeviceRef>& needed,
                                 const std::string& what);

}  // namespace tg
