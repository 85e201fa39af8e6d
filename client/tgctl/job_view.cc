#include "client/tgctl/job_view.h"

#include <cmath>
#include <cstdio>

#include "devices/units.h"

namespace tg::tgctl {
namespace {

std::string join_devices(const google::protobuf::RepeatedPtrField<tgrack::v1::DeviceRef>& devices) {
  std::string text;
  for (const auto& device : devices) text += (text.empty() ? "" : ",") + device_ref_name(device);
  return text.empty() ? "-" : text;
}

nlohmann::json devices_json(
    const google::protobuf::RepeatedPtrField<tgrack::v1::DeviceRef>& devices) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& device : devices) out.push_back(device_ref_name(device));
  return out;
}

// What a job used (tgrack.v1.JobUsage); all 0 while it runs.
nlohmann::json usage_json(const tgrack::v1::JobUsage& usage) {
  return {{"flop_count", usage.flops()},
          {"device_seconds", usage.device_seconds()},
          {"moved_bytes", usage.bytes_moved()},
          {"peak_memory_bytes", usage.peak_memory_bytes()}};
}

}  // namespace

std::string job_state_name(tgrack::v1::JobState state) {
  switch (state) {
    case tgrack::v1::JOB_STATE_RUNNING: return "running";
    case tgrack::v1::JOB_STATE_SUCCEEDED: return "succeeded";
    case tgrack::v1::JOB_STATE_FAILED: return "failed";
    case tgrack::v1::JOB_STATE_CANCELLED: return "cancelled";
    default: return "?";
  }
}

std::string device_ref_name(const tgrack::v1::DeviceRef& device) {
  return device.node() + "/" + std::to_string(device.index());
}

std::string format_seconds(double seconds) {
  char text[32];
  if (seconds < 1e-3) {
    std::snprintf(text, sizeof(text), "%.0fus", seconds * 1e6);
  } else if (seconds < 1) {
    std::snprintf(text, sizeof(text), "%.1fms", seconds * 1e3);
  } else if (seconds < 60) {
    std::snprintf(text, sizeof(text), "%.2fs", seconds);
  } else {
    const long whole = std::lround(seconds);
    std::snprintf(text, sizeof(text), "%ldm%02lds", whole / 60, whole % 60);
  }
  return text;
}

Table jobs_table(const std::vector<tgrack::v1::JobInfo>& jobs) {
  Table table({"JOB", "STATE", "DEVICES", "DURATION", "PLAN", "ERROR"});
  for (const auto& job : jobs) {
    table.add_row({job.job_id(), job_state_name(job.state()), join_devices(job.devices()),
                   format_seconds(job.seconds()), job.plan_id().empty() ? "-" : job.plan_id(),
                   job.error()});
  }
  return table;
}

nlohmann::json jobs_json(const std::vector<tgrack::v1::JobInfo>& jobs) {
  nlohmann::json out = {{"jobs", nlohmann::json::array()}};
  for (const auto& job : jobs) {
    out["jobs"].push_back({{"id", job.job_id()},
                           {"state", job_state_name(job.state())},
                           {"device_ids", devices_json(job.devices())},
                           {"run_seconds", job.seconds()},
                           {"plan_id", job.plan_id()},
                           {"session_id", job.session()},
                           {"started_unix_seconds", job.started_unix_seconds()},
                           {"error", job.error()},
                           {"tenant_id", job.tenant()},
                           {"usage", usage_json(job.usage())}});
  }
  return out;
}

Table sessions_table(const std::vector<tgrack::v1::SessionInfo>& sessions) {
  Table table({"SESSION", "CLIENT", "LEASE LEFT", "TENSORS", "PLANS", "MEMORY"});
  for (const auto& session : sessions) {
    std::string memory;
    for (const auto& device : session.memory()) {
      memory += (memory.empty() ? "" : ",") + device_ref_name(device.device()) + "=" +
                format_bytes(device.bytes());
    }
    table.add_row({session.session(), session.client().empty() ? "-" : session.client(),
                   format_seconds(std::max(session.seconds_left(), 0.0)),
                   std::to_string(session.tensors()), std::to_string(session.plans()),
                   memory.empty() ? "-" : memory});
  }
  return table;
}

nlohmann::json sessions_json(const std::vector<tgrack::v1::SessionInfo>& sessions) {
  nlohmann::json out = {{"sessions", nlohmann::json::array()}};
  for (const auto& session : sessions) {
    nlohmann::json memory = nlohmann::json::array();
    for (const auto& device : session.memory()) {
      memory.push_back({{"device_id", device_ref_name(device.device())},
                        {"memory_bytes", device.bytes()}});
    }
    out["sessions"].push_back({{"id", session.session()},
                               {"client", session.client()},
                               {"lease_left_seconds", session.seconds_left()},
                               {"tensor_count", session.tensors()},
                               {"plan_count", session.plans()},
                               {"device_memory", memory}});
  }
  return out;
}

}  // namespace tg::tgctl
