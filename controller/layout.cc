#include "controller/layout.h"

#include <algorithm>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "controller/placement.h"

namespace tg {

namespace v1 = tgrack::v1;
using Kind = Layout::Kind;

namespace {
std::string name_of(const v1::DeviceRef& d) { return device_name(d.node(), d.index()); }
}  // namespace

bool same_device(const v1::DeviceRef& a, const v1::DeviceRef& b) {
  return a.node() == b.node() && a.index() == b.index();
}

std::string devices_str(const std::vector<v1::DeviceRef>& devices) {
  return absl::StrJoin(devices, ",", [](std::string* out, const v1::DeviceRef& d) {
    out->append(name_of(d));
  });
}

absl::StatusOr<Layout> Layout::from_sharding(const v1::Sharding& sharding, int rank) {
  Layout layout;
  layout.devices.assign(sharding.devices().begin(), sharding.devices().end());
  if (layout.devices.empty()) return absl::InvalidArgumentError("sharding lists no devices");
  for (size_t i = 0; i < layout.devices.size(); ++i) {
    if (layout.devices[i].node().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("sharding device ", i, " names no node"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (same_device(layout.devices[i], layout.devices[j])) {
        return absl::InvalidArgumentError(
            absl::StrCat("sharding lists device ", name_of(layout.devices[i]), " twice"));
      }
    }
  }
  if (sharding.replicated()) {
    layout.kind = layout.devices.size() == 1 ? Kind::kSingle : Kind::kReplicated;
    return layout;
  }
  if (rank == 0) return absl::InvalidArgumentError("a scalar cannot be sharded");
  const int64_t axis = sharding.axis() < 0 ? sharding.axis() + rank : sharding.axis();
  if (axis < 0 || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("sharding axis ", sharding.axis(), " is out of range for rank ", rank));
  }
  const int devices = static_cast<int>(layout.devices.size());
  if (sharding.shards() > Layout::kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat("sharding.shards ", sharding.shards(),
                                                   " is more than the limit of ",
                                                   Layout::kMaxShards));
  }
  const int shards = sharding.shards() == 0 ? devices : static_cast<int>(sharding.shards());
  if (shards % devices != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        shards, " shards do not spread evenly over ", devices, " devices"));
  }
  layout.kind = Kind::kSharded;
  layout.axis = static_cast<int>(axis);
  layout.shards = shards;
  return layout;
}

v1::Sharding Layout::to_sharding() const {
  v1::Sharding sharding;
  for (const v1::DeviceRef& d : devices) *sharding.add_devices() = d;
  if (kind == Kind::kSharded) {
    sharding.set_axis(axis);
    sharding.set_shards(static_cast<uint32_t>(shards));
  } else {
    sharding.set_replicated(true);
  }
  return sharding;
}

const v1::DeviceRef& Layout::device_of_piece(int piece) const {
  if (kind != Kind::kSharded) return devices[piece];
  return devices[piece / (shards / static_cast<int>(devices.size()))];
}

std::string Layout::str() const {
  switch (kind) {
    case Kind::kSingle: return "whole on " + devices_str(devices);
    case Kind::kReplicated: return "replicated on " + devices_str(devices);
    case Kind::kSharded:
      return absl::StrCat("sharded along axis ", axis, " into ", shards, " shards on ",
                          devices_str(devices));
    case Kind::kConstant: return "a constant";
  }
  return "?";
}

bool Layout::operator==(const Layout& other) const {
  if (kind != other.kind || devices.size() != other.devices.size() ||
      !std::equal(devices.begin(), devices.end(), other.devices.begin(), same_device)) {
    return false;
  }
  return kind != Kind::kSharded || (axis == other.axis && shards == other.shards);
}

}  // namespace tg
