#include "devices/cpu/kernels.h"

#include <cstring>

#include <absl/strings/str_cat.h>

#include "devices/graph/type_rules.h"

namespace tg::cpu {

namespace v1 = tgrack::v1;

absl::Status run_kernel(const Kernel& kernel, Inputs inputs, std::byte* output, ThreadPool* pool) {
  const OpKind op = kernel.node->op();
  absl::Status status;
  if (op == v1::OP_CONSTANT) {
    const std::string& data = kernel.node->value().data();
    if (data.size() != kernel.output.bytes()) {
      status = absl::InternalError("constant value does not match its type");
    } else if (!data.empty()) {
      std::memcpy(output, data.data(), data.size());
    }
  } else if (is_unary_op(op)) {
    status = run_unary(kernel, inputs, output, pool);
  } else if (is_binary_op(op)) {
    status = run_binary(kernel, inputs, output, pool);
  } else if (op == v1::OP_WHERE) {
    run_where(kernel, inputs, output, pool);
  } else if (op == v1::OP_CAST) {
    cast_elements(kernel.inputs[0].dtype, inputs[0], kernel.output.dtype, output,
                  kernel.output.elements(), pool);
  } else if (is_reduction_op(op)) {
    run_reduction(kernel, inputs, output);
  } else if (op == v1::OP_MATMUL) {
    run_matmul(kernel, inputs, output);
  } else if (op >= v1::OP_RESHAPE && op <= v1::OP_CONCAT) {
    run_movement(kernel, inputs, output, pool);
  } else {
    status = absl::InvalidArgumentError("no cpu kernel for this op");
  }
  if (status.ok() && kernel.stop_requested()) {
    status = absl::CancelledError("cut short, its run was cancelled");
  }
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("node '", kernel.node->name(), "' (", op_name(op),
                                                  "): ", status.message()));
}

const std::byte* as_dtype(const TensorType& type, const std::byte* data, DType dtype,
                          std::vector<std::byte>& scratch) {
  if (type.dtype == dtype) return data;
  scratch.resize(static_cast<size_t>(type.elements()) * dtype_size(dtype));
  cast_elements(type.dtype, data, dtype, scratch.data(), type.elements());
  return scratch.data();
}

}  // namespace tg::cpu
