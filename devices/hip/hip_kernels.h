// HIP C++ source for one graph op, generated for the exact dtypes and shapes of a Kernel so
// that hiprtc can compile it for whatever gfx target a GPU reports. Shapes, strides and counts
// are baked in as constants; the kernel takes the input pointers in order, then the output.
// Results follow devices/graph/type_rules.h exactly; anything the generator cannot do that way
// is UNIMPLEMENTED naming the op and why, never an approximation. Pure C++: no HIP needed.
//
// Supported, on every dtype the op takes (f16 and bf16 are computed in f32 and rounded to
// nearest even when stored, bit for bit as the host's conversions in devices/dtype.h):
// neg, relu, exp, log, sqrt, sigmoid, tanh; add, sub, mul, div, pow, max, min and comparisons
// (promoted, broadcast; integer div is floor division and integer pow exact, both failing at
// run time through the error flag); where; cast between any two dtypes; sum, reduce_max,
// reduce_min, mean over any axes (one thread per output element); matmul (16x16 tiles, batch
// dims broadcast); reshape, expand, permute, slice, pad, concat.
// Not generated: input and constant nodes (their bytes are uploaded, see hip_device.h).
#pragma once

#include <cstdint>
#include <string>

#include <absl/status/statusor.h>

#include "devices/device.h"

namespace tg {

struct HipKernelSource {
  std::string name = "tg_kernel";  // The extern "C" entry point.
  std::string source;              // Empty when there is nothing to launch.
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};
  // Non-empty when the kernel can fail on its data (integer division by zero, an integer to a
  // negative power): it then takes one more argument after the output, a device
  // `unsigned int*` that starts at 0 and is set non-zero by any thread that fails, and the
  // launch fails with INVALID_ARGUMENT carrying this message.
  std::string failure;
  bool empty() const { return source.empty(); }
};

// The kernel for `kernel` (a validated node with resolved types). Empty source for an output
// of zero elements. UNIMPLEMENTED "hip backend: <OP> on <dtype> ...: not supported yet" for
// what is listed above as not generated (and for a dtype the generator does not know).
absl::StatusOr<HipKernelSource> generate_hip_kernel(const Kernel& kernel);

}  // namespace tg
