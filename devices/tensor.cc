#include "devices/tensor.h"

#include <cstring>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "devices/checked_size.h"

namespace tg {

int64_t num_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

std::string TensorType::str() const { return std::string(dtype_name(dtype)) + shape_string(shape); }

HostTensor::HostTensor(TensorType type) : type_(std::move(type)), data_(type_.bytes()) {}

absl::StatusOr<HostTensor> HostTensor::from_proto(const tgrack::v1::Tensor& proto,
                                                  std::string_view what) {
  const size_t element = dtype_size(proto.dtype());
  if (element == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", std::string(what), "': dtype is unspecified or unknown (", proto.dtype(), ")"));
  }
  Shape shape(proto.shape().begin(), proto.shape().end());
  auto checked = checked_bytes(TensorType{proto.dtype(), shape},
                               absl::StrCat("tensor '", std::string(what), "'"));
  if (!checked.ok()) return checked.status();
  const uint64_t bytes = *checked;
  if (proto.data().size() != bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", std::string(what), "': ", std::string(dtype_name(proto.dtype())),
        shape_string(shape), " needs ", bytes, " bytes of data, got ", proto.data().size()));
  }
  HostTensor tensor(TensorType{proto.dtype(), std::move(shape)});
  if (bytes > 0) std::memcpy(tensor.data(), proto.data().data(), bytes);
  return tensor;
}

tgrack::v1::Tensor HostTensor::to_proto() const {
  tgrack::v1::Tensor proto;
  proto.set_dtype(type_.dtype);
  for (int64_t d : type_.shape) proto.add_shape(d);
  proto.set_data(reinterpret_cast<const char*>(data_.data()), data_.size());
  return proto;
}

}  // namespace tg
