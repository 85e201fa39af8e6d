// Run-time compilation of generated kernels with hiprtc, for the gfx target a GPU reports
// (hipDeviceProp_t::gcnArchName, e.g. "gfx90a:sramecc+:xnack-"). Needs no GPU: a host with
// the HIP runtime installed can compile for any target its compiler knows. Thread-safe.
#pragma once

#include <string>

#include <absl/status/statusor.h>

namespace tg {

// The code object for `source`, ready for hipModuleLoadData. INTERNAL with the compiler's log
// when compilation fails; INVALID_ARGUMENT for an empty target.
absl::StatusOr<std::string> compile_hip_source(const std::string& source, const std::string& arch);

}  // namespace tg
