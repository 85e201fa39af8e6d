#include "devices/hip/hip_status.h"

#include <absl/strings/str_cat.h>

namespace tg {

absl::Status hip_status(hipError_t error, const std::string& what) {
  if (error == hipSuccess) return absl::OkStatus();
  const std::string message =
      absl::StrCat("hip backend: ", what, ": ", hipGetErrorName(error), " (",
                   hipGetErrorString(error), ")");
  switch (error) {
    case hipErrorNoDevice:
    case hipErrorInvalidDevice:
    case hipErrorInsufficientDriver:
      return absl::UnavailableError(message);
    case hipErrorOutOfMemory:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace tg
