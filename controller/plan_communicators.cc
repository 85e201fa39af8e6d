// PlanRunner's communicators (plan_runner.h): one per device list, made when a plan first
// needs it, bound into plans in place of the planner's placeholders, torn down after a failed
// job and made afresh for the next.
#include "controller/plan_runner.h"

#include <algorithm>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>

#include "controller/placement.h"

namespace tg {

namespace v1 = tgrack::v1;

namespace {

constexpr char kCommPlaceholder[] = "@comm:";
constexpr uint32_t kCommTimeoutMs = 10000;

std::string name_of(const v1::DeviceRef& d) { return device_name(d.node(), d.index()); }

}  // namespace

std::string PlanRunner::comm_placeholder(const std::vector<v1::DeviceRef>& devices) {
  return kCommPlaceholder + devices_str(devices);
}

absl::Status PlanRunner::bind_communicators(Plan& plan) {
  std::map<std::string, std::string> ids;  // Placeholder -> communicator id.
  for (const std::string& placeholder : plan.comm_ids) {
    if (placeholder.rfind(kCommPlaceholder, 0) != 0) continue;  // Already bound.
    const std::string key = placeholder.substr(sizeof(kCommPlaceholder) - 1);
    std::lock_guard lock(mu_);
    auto it = comms_.find(key);
    if (it == comms_.end()) {
      // The devices are those of the collectives' fragments, in rank order.
      Comm comm;
      for (size_t i = 0; i < plan.devices.size(); ++i) {
        for (const v1::Node& node : plan.fragments[i].nodes()) {
          if (node.collective().comm_id() == placeholder &&
              std::none_of(comm.devices.begin(), comm.devices.end(), [&](const v1::DeviceRef& d) {
                return same_device(d, plan.devices[i]);
              })) {
            comm.devices.push_back(plan.devices[i]);
          }
        }
      }
      std::vector<std::string> names = absl::StrSplit(key, ',');
      std::sort(comm.devices.begin(), comm.devices.end(), [&](const auto& a, const auto& b) {
        return std::find(names.begin(), names.end(), name_of(a)) <
               std::find(names.begin(), names.end(), name_of(b));
      });
      v1::CreateCommunicatorRequest create;
      for (const v1::DeviceRef& d : comm.devices) *create.add_devices() = d;
      create.set_timeout_ms(kCommTimeoutMs);
      auto spec = coordinator_.create(create);
      if (!spec.ok()) {
        return absl::Status(spec.status().code(),
                            absl::StrCat("creating the communicator over ", key, ": ",
                                         spec.status().message()));
      }
      comm.id = spec->comm_id();
      comm.in_use = std::make_shared<std::mutex>();
      it = comms_.emplace(key, std::move(comm)).first;
    }
    ids[placeholder] = it->second.id;
  }
  for (v1::Graph& fragment : plan.fragments) {
    for (v1::Node& node : *fragment.mutable_nodes()) {
      if (auto it = ids.find(node.collective().comm_id()); it != ids.end()) {
        node.mutable_collective()->set_comm_id(it->second);
      }
    }
  }
  for (std::string& id : plan.comm_ids) {
    if (auto it = ids.find(id); it != ids.end()) id = it->second;
  }
  return absl::OkStatus();
}

void PlanRunner::forget_communicators(const Plan& plan) {
  std::vector<std::string> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto it = comms_.begin(); it != comms_.end();) {
      if (std::find(plan.comm_ids.begin(), plan.comm_ids.end(), it->second.id) != plan.comm_ids.end()) {
        doomed.push_back(it->second.id);
        it = comms_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::string& id : doomed) coordinator_.destroy(id).IgnoreError();
}

}  // namespace tg
