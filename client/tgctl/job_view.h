// What tgctl shows of jobs and sessions: the table `tgctl jobs` / `tgctl sessions` print and
// the JSON their --json prints (docs/cli-json.md). Pure
// functions of the controller's replies, so the output is tested without a pool.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/tgctl/table.h"
#include "tgrack/v1/controller.pb.h"

namespace tg::tgctl {

std::string job_state_name(tgrack::v1::JobState state);  // "running", "succeeded", ...
std::string device_ref_name(const tgrack::v1::DeviceRef& device);  // "node-a/0"
std::string format_seconds(double seconds);  // "850us", "12.3ms", "4.20s", "3m05s"

// JOB, STATE, DEVICES, DURATION, PLAN, ERROR; devices joined by ",", "-" for none.
Table jobs_table(const std::vector<tgrack::v1::JobInfo>& jobs);
nlohmann::json jobs_json(const std::vector<tgrack::v1::JobInfo>& jobs);

// SESSION, CLIENT, LEASE LEFT, TENSORS, PLANS, MEMORY ("node-a/0=1.0 MiB,..." per device).
Table sessions_table(const std::vector<tgrack::v1::SessionInfo>& sessions);
nlohmann::json sessions_json(const std::vector<tgrack::v1::SessionInfo>& sessions);

}  // namespace tg::tgctl
