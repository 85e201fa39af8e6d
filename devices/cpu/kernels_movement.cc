// Movement ops: reshape, permute, expand, slice, pad and concat, as strided copies.
#include <cstring>

#include "devices/cpu/kernels.h"
#include "devices/cpu/strided.h"
#include "devices/graph/type_rules.h"

namespace tg::cpu {
namespace {

namespace v1 = tgrack::v1;

void pad(const Kernel& k, const std::byte* in, std::byte* out) {
  const TensorType& in_type = k.inputs[0];
  const size_t size = dtype_size(in_type.dtype);
  std::byte fill[8];
  const double value = k.node->pad_value();
  cast_elements(v1::DTYPE_F64, reinterpret_cast<const std::byte*>(&value), in_type.dtype, fill, 1);
  for (int64_t i = 0; i < k.output.elements(); ++i) std::memcpy(out + i * size, fill, size);
  const std::vector<int64_t> out_strides = dense_strides(k.output.shape);
  int64_t offset = 0;
  for (size_t d = 0; d < out_strides.size(); ++d) offset += k.node->pad_before(d) * out_strides[d];
  strided_copy(in_type.shape, size, out, out_strides, offset, in, dense_strides(in_type.shape), 0);
}

void concat(const Kernel& k, Inputs inputs, std::byte* out) {
  const Shape& shape = k.output.shape;
  const int axis = *concat_axis(*k.node, static_cast<int>(shape.size()));
  const std::vector<int64_t> out_strides = dense_strides(shape);
  int64_t position = 0;
  std::vector<std::byte> scratch;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& t = k.inputs[i];
    const std::byte* data = as_dtype(t, inputs[i], k.output.dtype, scratch);
    strided_copy(t.shape, dtype_size(k.output.dtype), out, out_strides,
                 position * out_strides[axis], data, dense_strides(t.shape), 0);
    position += t.shape[axis];
  }
}

}  // namespace

void run_movement(const Kernel& k, Inputs inputs, std::byte* output, ThreadPool* pool) {
  const TensorType& in = k.inputs[0];
  const Shape& out_shape = k.output.shape;
  const size_t size = dtype_size(in.dtype);
  const std::vector<int64_t> in_strides = dense_strides(in.shape);
  switch (k.node->op()) {
    case v1::OP_RESHAPE:
      if (in.bytes() > 0) std::memcpy(output, inputs[0], in.bytes());
      return;
    case v1::OP_PERMUTE: {
      std::vector<int64_t> strides;
      for (int64_t axis : k.node->axes()) strides.push_back(in_strides[axis]);
      strided_copy(out_shape, size, output, dense_strides(out_shape), 0, inputs[0], strides, 0,
                   pool);
      return;
    }
    case v1::OP_EXPAND:
      strided_copy(out_shape, size, output, dense_strides(out_shape), 0, inputs[0],
                   broadcast_strides(in.shape, out_shape), 0, pool);
      return;
    case v1::OP_SLICE: {
      const std::vector<SliceDim> dims = *slice_dims(*k.node, in.shape);
      std::vector<int64_t> strides;
      int64_t offset = 0;
      for (size_t d = 0; d < dims.size(); ++d) {
        strides.push_back(dims[d].size > 1 ? in_strides[d] * dims[d].step : 0);
        if (dims[d].size > 0) offset += dims[d].start * in_strides[d];
      }
      strided_copy(out_shape, size, output, dense_strides(out_shape), 0, inputs[0], strides, offset,
                   pool);
      return;
    }
    case v1::OP_PAD: return pad(k, inputs[0], output);
    case v1::OP_CONCAT: return concat(k, inputs, output);
    default: return;
  }
}

}  // namespace tg::cpu
