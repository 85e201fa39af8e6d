// HiveReset: warm reset of a device and of every other member of its hive, across daemons.
//
// reset() finds the device's hive (DeviceInfo.hive_id; none = the device alone), marks every
// member Unhealthy ("being reset") in Membership so placement skips it, sends each member's
// daemon one ResetDevices for its members — all daemons at once, in parallel — and waits for
// all. When every daemon succeeds the marks are cleared and the devices are back in service;
// otherwise every member stays Unhealthy with a reason naming the hive and what failed, and
// the error is returned with the same code. NOT_FOUND for an unknown node or device.
// Thread-safe.
#pragma once

#include <chrono>

#include <absl/status/statusor.h>

#include "controller/controller_metrics.h"
#include "controller/membership.h"
#include "tgrack/v1/controller.pb.h"

namespace tg {

class HiveReset {
 public:
  // Both must outlive this; `metrics` may be null.
  HiveReset(Membership& membership, ControllerMetrics* metrics)
      : membership_(membership), metrics_(metrics) {}

  absl::StatusOr<tgrack::v1::ResetDeviceReply> reset(const tgrack::v1::ResetDeviceRequest& request);

 private:
  Membership& membership_;
  ControllerMetrics* metrics_;
};

}  // namespace tg
