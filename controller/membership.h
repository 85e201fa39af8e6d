// Membership: the controller's table of nodes (daemons) and their devices.
//
// A daemon registers and receives an incarnation token; it then heartbeats quoting that
// token. A heartbeat with an unknown node or a stale token gets NOT_FOUND, which tells the
// daemon to register again (this is how daemons find their way back after a controller
// restart: tokens start from a random value per controller process). A node whose last
// heartbeat is older than `down_after` is DOWN, and UP again with its next heartbeat; state
// is computed from the clock whenever the table is read. A node DOWN for longer than
// `forget_down_after` drops out of listed() unless asked for, and remove() forgets a DOWN
// node. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "tgrack/v1/node.pb.h"

namespace tg {

class Membership {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // `now` is injectable for tests; by default the steady clock.
  explicit Membership(std::chrono::milliseconds down_after, Now now = Clock::now,
                      std::chrono::milliseconds forget_down_after = std::chrono::hours(1));

  // Adds or replaces the node `node.name()`. ALREADY_EXISTS when a node of that name is UP
  // at a different address (two daemons claiming one name); INVALID_ARGUMENT for an empty
  // name or address. Returns the incarnation token the node must quote in heartbeats.
  absl::StatusOr<uint64_t> register_node(const tgrack::v1::NodeInfo& node);

  // Records a heartbeat and the devices' fresh state. NOT_FOUND when the node is unknown or
  // `incarnation` is not its current token.
  absl::Status heartbeat(const std::string& name, uint64_t incarnation,
                         const google::protobuf::RepeatedPtrField<tgrack::v1::DeviceInfo>& devices);

  // Every node, sorted by name, with state and seconds_since_heartbeat filled in.
  std::vector<tgrack::v1::NodeInfo> nodes() const;

  // The nodes an operator sees (tgctl nodes): nodes() less those DOWN for longer than
  // forget_down_after, unless `all`.
  std::vector<tgrack::v1::NodeInfo> listed(bool all) const;

  // Forgets node `name`: its entry, cordon and device marks. NOT_FOUND for an unknown node,
  // FAILED_PRECONDITION naming it when it is not DOWN.
  absl::Status remove(const std::string& name);

  // One node as nodes() shows it; NOT_FOUND naming it and listing the known ones.
  absl::StatusOr<tgrack::v1::NodeInfo> node(const std::string& name) const;

  // Cordon: the node stays in the pool but gets no new work (NodeInfo.cordoned); kept
  // across re-registration. NOT_FOUND for an unknown node.
  absl::Status cordon(const std::string& name, const std::string& reason);
  absl::Status uncordon(const std::string& name);

  // Drain: cordons the node with `reason` and marks it draining (NodeInfo.draining) until
  // end_drain, which leaves it cordoned. NOT_FOUND for an unknown node.
  absl::Status begin_drain(const std::string& name, const std::string& reason);
  void end_drain(const std::string& name);

  // Nodes known before a restart, as last seen (with their cordons): DOWN until their daemons
  // register again, and forgotten as any DOWN node is.
  void restore(const std::vector<tgrack::v1::NodeInfo>& nodes);

  // Marks device `index` of `node` Unhealthy with `reason` whatever its daemon reports
  // (a reset in progress or failed); an empty reason clears the mark.
  void set_device_override(const std::string& node, uint32_t index, const std::string& reason);

 private:
  struct Entry {
    tgrack::v1::NodeInfo info;
    uint64_t incarnation = 0;
    Clock::time_point last_heartbeat;
    mutable tgrack::v1::NodeState last_state = tgrack::v1::NODE_STATE_UP;  // For logging changes.
  };
  struct Cordon {
    std::string reason;
    bool draining = false;
  };
  tgrack::v1::NodeInfo view(const Entry& entry, Clock::time_point now) const;

  const std::chrono::milliseconds down_after_;
  const std::chrono::milliseconds forget_down_after_;
  const Now now_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> nodes_;
  std::map<std::string, Cordon> cordons_;                               // By node name.
  std::map<std::pair<std::string, uint32_t>, std::string> overrides_;  // Unhealthy reasons.
  uint64_t next_incarnation_;
};

}  // namespace tg
