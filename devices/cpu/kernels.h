// Host kernels for every op of the graph IR, by family. Operands are dense row-major host
// arrays whose types are the Kernel's (validated) input and output types; the output never
// aliases an input. Kernels follow devices/graph/type_rules.h exactly and fail only for
// data-dependent errors (integer division by zero, integer to a negative power).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <absl/status/status.h>

#include "devices/cpu/thread_pool.h"
#include "devices/device.h"

namespace tg::cpu {

using Inputs = std::span<const std::byte* const>;

// Runs any op; errors name the node ("node 'q' (OP_DIV): integer division by zero").
// Large elementwise and movement loops are split across `pool` when one is given.
absl::Status run_kernel(const Kernel& kernel, Inputs inputs, std::byte* output,
                        ThreadPool* pool = nullptr);

// Families, called by run_kernel. Matmul parallelizes inside OpenBLAS.
absl::Status run_unary(const Kernel& kernel, Inputs inputs, std::byte* output, ThreadPool* pool);
absl::Status run_binary(const Kernel& kernel, Inputs inputs, std::byte* output, ThreadPool* pool);
void run_where(const Kernel& kernel, Inputs inputs, std::byte* output, ThreadPool* pool);
void run_reduction(const Kernel& kernel, Inputs inputs, std::byte* output);
void run_matmul(const Kernel& kernel, Inputs inputs, std::byte* output);
void run_movement(const Kernel& kernel, Inputs inputs, std::byte* output, ThreadPool* pool);

// Converts `count` elements from one dtype to another (the cast op's rules).
void cast_elements(DType from, const std::byte* in, DType to, std::byte* out, int64_t count,
                   ThreadPool* pool = nullptr);

// `data` (of `type`) as `dtype`: `data` itself when the dtype already matches, otherwise a
// converted copy held in `scratch`.
const std::byte* as_dtype(const TensorType& type, const std::byte* data, DType dtype,
                          std::vector<std::byte>& scratch);

}  // namespace tg::cpu
