#include "controller/hive_reset.h"

#include <future>
#include <map>
#include <vector>

#include <spdlog/spdlog.h>

#include "controller/placement.h"
#include "net/rpc.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

absl::StatusOr<tgrack::v1::ResetDeviceReply> HiveReset::reset(
    const tgrack::v1::ResetDeviceRequest& request) {
  const std::string& node_name = request.device().node();
  const uint32_t index = request.device().index();
  auto node = membership_.node(node_name);
  if (!node.ok()) return node.status();
  if (index >= static_cast<uint32_t>(node->devices_size())) {
    return absl::NotFoundError("unknown device " + device_name(node_name, index) + ": node '" +
                               node_name + "' has " + std::to_string(node->devices_size()) +
                               " device(s)");
  }
  const std::string hive = node->devices(static_cast<int>(index)).hive_id();

  // Members by node: the device alone, or every device of the hive on any node.
  std::map<std::string, std::pair<std::string, std::vector<uint32_t>>> members;  // node -> (address, indices)
  tgrack::v1::ResetDeviceReply reply;
  reply.set_hive_id(hive);
  for (const tgrack::v1::NodeInfo& info : membership_.nodes()) {
    for (int i = 0; i < info.devices_size(); ++i) {
      const bool member = hive.empty() ? (info.name() == node_name && i == static_cast<int>(index))
                                       : info.devices(i).hive_id() == hive;
      if (!member) continue;
      if (info.state() == tgrack::v1::NODE_STATE_DOWN) {
        return absl::UnavailableError("cannot reset hive '" + hive + "': member " +
                                      device_name(info.name(), i) + " is on a DOWN node");
      }
      members[info.name()].first = info.address();
      members[info.name()].second.push_back(static_cast<uint32_t>(i));
      *reply.add_devices() = info.devices(i).ref();
    }
  }
  const std::string what = hive.empty() ? "device " + device_name(node_name, index)
                                        : "hive '" + hive + "'";
  for (const auto& [name, member] : members) {
    for (uint32_t i : member.second) membership_.set_device_override(name, i, "being reset");
  }
  spdlog::info("resetting {} ({} device(s) on {} node(s))", what, reply.devices_size(),
               members.size());

  std::vector<std::pair<std::string, std::future<absl::Status>>> calls;
  for (const auto& [name, member] : members) {
    tgrack::v1::ResetDevicesRequest call;
    for (uint32_t i : member.second) call.add_device_indices(i);
    call.set_drain_timeout_ms(request.drain_timeout_ms());
    call.set_reason("reset of " + what);
    const std::string address = member.first;
    calls.emplace_back(name, std::async(std::launch::async, [call, address] {
      auto stub = tgrack::v1::NodeService::NewStub(make_channel(address));
      const uint32_t drain_ms = call.drain_timeout_ms() == 0 ? 10000 : call.drain_timeout_ms();
      auto context = context_with_deadline(std::chrono::milliseconds(drain_ms + 30000));
      tgrack::v1::ResetDevicesReply ignored;
      return from_grpc(stub->ResetDevices(context.get(), call, &ignored));
    }));
  }
  absl::Status first;
  std::string failures;
  for (auto& [name, call] : calls) {
    absl::Status status = call.get();
    if (status.ok()) continue;
    failures += (failures.empty() ? "" : "; ") + ("node '" + name + "': " + std::string(status.message()));
    if (first.ok()) first = status;
  }
  const std::string reason = failures.empty() ? "" : "reset of " + what + " failed: " + failures;
  for (const auto& [name, member] : members) {
    for (uint32_t i : member.second) membership_.set_device_override(name, i, reason);
  }
  if (metrics_ != nullptr && !hive.empty()) metrics_->hive_reset(hive, first.code());
  if (!first.ok()) {
    spdlog::warn("{}", reason);
    return absl::Status(first.code(), reason);
  }
  spdlog::info("reset of {} done", what);
  return reply;
}

}  // namespace tg
