// Layout: where a value of a plan (planner.h) lives, and its wire form, a Sharding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "tgrack/v1/common.pb.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

// Where a value lives.
struct Layout {
  enum class Kind { kSingle, kReplicated, kSharded, kConstant };
  Kind kind = Kind::kSingle;
  std::vector<tgrack::v1::DeviceRef> devices;  // Single: exactly one.
  int axis = 0;                                // Sharded: normalized axis.
  int shards = 1;                              // Sharded: S.
  // Each shard becomes nodes of the plan, so a request's shard count is bounded.
  static constexpr uint32_t kMaxShards = 65536;

  // Layout of a Sharding message (devices must be non-empty) for a value of `rank`.
  static absl::StatusOr<Layout> from_sharding(const tgrack::v1::Sharding& sharding, int rank);
  tgrack::v1::Sharding to_sharding() const;
  // Devices holding the value, by shard (Sharded) or by copy (otherwise).
  int pieces() const { return kind == Kind::kSharded ? shards : static_cast<int>(devices.size()); }
  const tgrack::v1::DeviceRef& device_of_piece(int piece) const;
  std::string str() const;  // "sharded(axis 0, 4 shards over a/0,b/0)"
  bool operator==(const Layout& other) const;
};

// Whether two references name the same device.
bool same_device(const tgrack::v1::DeviceRef& a, const tgrack::v1::DeviceRef& b);
// Devices for messages, in order: "a/0,b/1".
std::string devices_str(const std::vector<tgrack::v1::DeviceRef>& devices);

}  // namespace tg
