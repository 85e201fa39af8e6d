// HIP C++ source for one graph op, generated for the exact dtypes and shapes of a Kernel so
// that hiprtc can compile it for whatever gfx target a GPU reports. Shapes, strides and counts
// are baked in as constants; the kernel takes the input pointers in order, then the output.
// Results follow devices/graph/type_rules.h exactly; anything the generator cannot do that way
// is UNIMPLEMENTED naming the op and why, never an approximation. Pure C++: no HIP needed.
//
// Supported: neg, relu (non-bool), exp, log, sqrt, sigmoid, tanh (f32, f64); add, sub, mul,
// max, min, comparisons (promoted, broadcast); div and pow on f32/f64; cast between f32, f64,
// i32, i64 and bool; sum, reduce_max, reduce_min, mean over any axes (one thread per output
// element); matmul (16x16 tiles, batch dims broadcast); reshape, expand, permute.
// Not yet: f16/bf16 anywhere, integer div and pow (they must fail on zero divisors and
// negative exponents, which needs a device-side error flag), where, slice, pad, concat,
// constant and input nodes.
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
  bool empty() const { return source.empty(); }
};

// The kernel for `kernel` (a validated node with resolved types). Empty source for an output
// of zero elements. UNIMPLEMENTED "hip backend: <OP> ...: not supported yet" for ops and
// dtypes listed above as not yet supported.
absl::StatusOr<HipKernelSource> generate_hip_kernel(const Kernel& kernel);

}  // namespace tg
