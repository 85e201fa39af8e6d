// Tensor types (dtype + shape) and tensors held in host memory. HostTensor owns its bytes,
// row-major and densely packed, and converts to and from the wire message tgrack.v1.Tensor.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/dtype.h"

namespace tg {

using Shape = std::vector<int64_t>;

// Product of dims (1 for a scalar).
int64_t num_elements(const Shape& shape);
// "[2,3]".
std::string shape_string(const Shape& shape);

struct TensorType {
  DType dtype = tgrack::v1::DTYPE_UNSPECIFIED;
  Shape shape;

  int64_t elements() const { return num_elements(shape); }
  uint64_t bytes() const { return static_cast<uint64_t>(elements()) * dtype_size(dtype); }
  std::string str() const;  // "f32[2,3]"
  bool operator==(const TensorType&) const = default;
};

class HostTensor {
 public:
  HostTensor() = default;
  // Zero-filled tensor of `type`.
  explicit HostTensor(TensorType type);

  // Checks dtype, dims >= 0 and that data holds exactly the bytes the shape needs;
  // INVALID_ARGUMENT naming `what` (e.g. the input's name) otherwise.
  static absl::StatusOr<HostTensor> from_proto(const tgrack::v1::Tensor& proto, std::string_view what);
  tgrack::v1::Tensor to_proto() const;

  const TensorType& type() const { return type_; }
  DType dtype() const { return type_.dtype; }
  const Shape& shape() const { return type_.shape; }
  int64_t elements() const { return type_.elements(); }
  uint64_t bytes() const { return data_.size(); }

  std::byte* data() { return data_.data(); }
  const std::byte* data() const { return data_.data(); }
  // Typed view; T must match the dtype's element size (uint16_t for f16/bf16, uint8_t for bool).
  template <class T> std::span<T> values() {
    return {reinterpret_cast<T*>(data_.data()), data_.size() / sizeof(T)};
  }
  template <class T> std::span<const T> values() const {
    return {reinterpret_cast<const T*>(data_.data()), data_.size() / sizeof(T)};
  }

 private:
  TensorType type_;
  std::vector<std::byte> data_;
};

}  // namespace tg
