// Kernels with their inputs, checked against the cpu backend's result for the same kernel and
// bytes: the emulation test runs each one's generated source on the host, the device test on
// a GPU. They cover what the generator added after the first ops: f16/bf16 everywhere (every
// 16-bit pattern through the conversions), integer div and pow with their run-time errors,
// where, slice, pad and concat. Results must be bit-identical to the host's (NaN payloads
// aside), except where a case states a tolerance (float transcendentals, whose device libm
// may differ by an ulp).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "devices/device.h"
#include "tgrack/v1/graph.pb.h"

namespace tg::hiptest {

struct KernelCase {
  std::string label;  // Unique, usable as a test name.
  tgrack::v1::Node node;
  std::vector<TensorType> inputs;
  TensorType output;
  std::vector<std::vector<std::byte>> data;  // One dense buffer per input.
  // 0: bit-identical, except that NaN payloads may differ. Otherwise the largest relative
  // difference allowed per element (NaN must match NaN): 2^-10 for f16 (one ulp), 2^-7 for
  // bf16 (one ulp), 2^-21 for f32 (four ulps).
  double tolerance = 0;

  Kernel kernel() const { return Kernel{&node, inputs, output}; }
};

// Every case, built once.
const std::vector<KernelCase>& kernel_cases();
// Labels of kernel_cases(), in order.
std::vector<std::string> kernel_case_labels();
const KernelCase& kernel_case(const std::string& label);

// What the cpu backend gives for `c`: its status, and its output bytes when OK.
struct Reference {
  absl::Status status;
  std::vector<std::byte> bytes;
};
Reference cpu_reference(const KernelCase& c);

// Records gtest failures where `status`/`bytes` (another backend's result for `c`) differ from
// the cpu backend's: the same status code and message on failure, else equal elements.
void expect_matches_cpu(const KernelCase& c, const absl::Status& status,
                        const std::vector<std::byte>& bytes);

}  // namespace tg::hiptest
