#include "controller/membership.h"

#include <random>

#include <spdlog/spdlog.h>

namespace tg {

Membership::Membership(std::chrono::milliseconds down_after, Now now,
                       std::chrono::milliseconds forget_down_after)
    : down_after_(down_after), forget_down_after_(forget_down_after), now_(std::move(now)) {
  std::random_device random;
  next_incarnation_ = (uint64_t{random()} << 32 | random()) & ~(uint64_t{0xffff});
  if (next_incarnation_ == 0) next_incarnation_ = 1 << 16;
}

absl::StatusOr<uint64_t> Membership::register_node(const tgrack::v1::NodeInfo& node) {
  if (node.name().empty()) return absl::InvalidArgumentError("register: empty node name");
  if (node.address().empty()) {
    return absl::InvalidArgumentError("register: node '" + node.name() + "' has no address");
  }
  const Clock::time_point now = now_();
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(node.name());
  if (it != nodes_.end() && it->second.info.address() != node.address() &&
      now - it->second.last_heartbeat <= down_after_) {
    return absl::AlreadyExistsError(
        "node name '" + node.name() + "' is taken by the daemon at " + it->second.info.address() +
        " (pid " + std::to_string(it->second.info.pid()) + "), which is still heartbeating");
  }
  Entry& entry = nodes_[node.name()];
  entry.info = node;
  entry.info.clear_state();
  entry.info.clear_seconds_since_heartbeat();
  entry.incarnation = next_incarnation_++;
  entry.last_heartbeat = now;
  entry.last_state = tgrack::v1::NODE_STATE_UP;
  spdlog::info("node '{}' registered from {} (pid {}, {} device(s))", node.name(), node.address(),
               node.pid(), node.devices_size());
  return entry.incarnation;
}

absl::Status Membership::heartbeat(
    const std::string& name, uint64_t incarnation,
    const google::protobuf::RepeatedPtrField<tgrack::v1::DeviceInfo>& devices) {
  const Clock::time_point now = now_();
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) {
    return absl::NotFoundError("node '" + name + "' is not registered; register again");
  }
  Entry& entry = it->second;
  if (entry.incarnation != incarnation) {
    return absl::NotFoundError("node '" + name + "' heartbeat quotes a stale incarnation; register again");
  }
  if (now - entry.last_heartbeat > down_after_) spdlog::info("node '{}' is UP again", name);
  entry.last_heartbeat = now;
  entry.last_state = tgrack::v1::NODE_STATE_UP;
  *entry.info.mutable_devices() = devices;
  return absl::OkStatus();
}

tgrack::v1::NodeInfo Membership::view(const Entry& entry, Clock::time_point now) const {
  tgrack::v1::NodeInfo info = entry.info;
  const auto silent = now - entry.last_heartbeat;
  const auto state = silent > down_after_ ? tgrack::v1::NODE_STATE_DOWN : tgrack::v1::NODE_STATE_UP;
  if (state != entry.last_state) {
    if (state == tgrack::v1::NODE_STATE_DOWN) {
      spdlog::warn("node '{}' is DOWN: silent for {} ms", info.name(),
                   std::chrono::duration_cast<std::chrono::milliseconds>(silent).count());
    }
    entry.last_state = state;
  }
  info.set_state(state);
  if (auto it = cordons_.find(info.name()); it != cordons_.end()) {
    info.set_cordoned(true);
    info.set_cordon_reason(it->second.reason);
    info.set_draining(it->second.draining);
  }
  for (int i = 0; i < info.devices_size(); ++i) {
    auto it = overrides_.find({info.name(), static_cast<uint32_t>(i)});
    if (it == overrides_.end()) continue;
    info.mutable_devices(i)->set_health(tgrack::v1::HEALTH_UNHEALTHY);
    info.mutable_devices(i)->set_health_reason(it->second);
  }
  info.set_seconds_since_heartbeat(std::chrono::duration<double>(silent).count());
  return info;
}

std::vector<tgrack::v1::NodeInfo> Membership::nodes() const {
  const Clock::time_point now = now_();
  std::lock_guard lock(mutex_);
  std::vector<tgrack::v1::NodeInfo> result;
  for (const auto& [name, entry] : nodes_) result.push_back(view(entry, now));
  return result;
}

std::vector<tgrack::v1::NodeInfo> Membership::listed(bool all) const {
  const Clock::time_point now = now_();
  std::lock_guard lock(mutex_);
  std::vector<tgrack::v1::NodeInfo> result;
  for (const auto& [name, entry] : nodes_) {
    if (!all && now - entry.last_heartbeat > down_after_ + forget_down_after_) continue;
    result.push_back(view(entry, now));
  }
  return result;
}

absl::Status Membership::remove(const std::string& name) {
  absl::StatusOr<tgrack::v1::NodeInfo> known = node(name);
  if (!known.ok()) return known.status();
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return absl::NotFoundError("unknown node '" + name + "'");
  if (now_() - it->second.last_heartbeat <= down_after_) {
    return absl::FailedPreconditionError(
        "node '" + name + "' is UP (it heartbeats); only a DOWN node can be removed");
  }
  nodes_.erase(it);
  cordons_.erase(name);
  std::erase_if(overrides_, [&name](const auto& entry) { return entry.first.first == name; });
  spdlog::info("node '{}' removed", name);
  return absl::OkStatus();
}

absl::StatusOr<tgrack::v1::NodeInfo> Membership::node(const std::string& name) const {
  const Clock::time_point now = now_();
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(name);
  if (it != nodes_.end()) return view(it->second, now);
  std::string known;
  for (const auto& [other, entry] : nodes_) known += (known.empty() ? "" : ", ") + other;
  return absl::NotFoundError("unknown node '" + name + "' (known: " +
                             (known.empty() ? "none" : known) + ")");
}

void Membership::restore(const std::vector<tgrack::v1::NodeInfo>& nodes) {
  const Clock::time_point silent_since = now_() - down_after_ - std::chrono::milliseconds(1);
  std::lock_guard lock(mutex_);
  for (const tgrack::v1::NodeInfo& node : nodes) {
    if (node.name().empty() || nodes_.contains(node.name())) continue;
    Entry& entry = nodes_[node.name()];
    entry.info = node;
    entry.info.clear_state();
    entry.info.clear_cordoned();
    entry.info.clear_cordon_reason();
    entry.info.clear_draining();
    entry.info.clear_seconds_since_heartbeat();
    entry.last_heartbeat = silent_since;
    entry.last_state = tgrack::v1::NODE_STATE_DOWN;
    if (node.cordoned()) cordons_[node.name()] = Cordon{node.cordon_reason()};
  }
}

absl::Status Membership::cordon(const std::string& name, const std::string& reason) {
  if (absl::StatusOr<tgrack::v1::NodeInfo> known = node(name); !known.ok()) return known.status();
  std::lock_guard lock(mutex_);
  cordons_[name] = Cordon{reason.empty() ? "cordoned" : reason};
  spdlog::info("node '{}' cordoned: {}", name, cordons_[name].reason);
  return absl::OkStatus();
}

absl::Status Membership::uncordon(const std::string& name) {
  if (absl::StatusOr<tgrack::v1::NodeInfo> known = node(name); !known.ok()) return known.status();
  std::lock_guard lock(mutex_);
  if (cordons_.erase(name) > 0) spdlog::info("node '{}' uncordoned", name);
  return absl::OkStatus();
}

absl::Status Membership::begin_drain(const std::string& name, const std::string& reason) {
  if (absl::Status status = cordon(name, reason); !status.ok()) return status;
  std::lock_guard lock(mutex_);
  cordons_[name].draining = true;
  return absl::OkStatus();
}

void Membership::end_drain(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = cordons_.find(name); it != cordons_.end()) it->second.draining = false;
}

void Membership::set_device_override(const std::string& node, uint32_t index,
                                     const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (reason.empty()) {
    overrides_.erase({node, index});
  } else {
    overrides_[{node, index}] = reason;
  }
}

}  // namespace tg
