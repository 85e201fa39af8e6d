// HIP runtime errors as absl::Status: UNAVAILABLE for a missing or unusable device, INTERNAL
// otherwise, the message naming what was being done and HIP's own name for the error.
#pragma once

#include <string>

#include <absl/status/status.h>
#include <hip/hip_runtime_api.h>

namespace tg {

absl::Status hip_status(hipError_t error, const std::string& what);

}  // namespace tg
