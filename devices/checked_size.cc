#include "devices/checked_size.h"

#include <absl/strings/str_cat.h>

namespace tg {
namespace {

absl::Status invalid(std::string_view field, auto&&... parts) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", parts...));
}

absl::Status check_non_negative(int64_t a, int64_t b, std::string_view field) {
  if (a < 0) return invalid(field, "size ", a, " is negative");
  if (b < 0) return invalid(field, "size ", b, " is negative");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> checked_add(int64_t a, int64_t b, std::string_view field) {
  if (absl::Status s = check_non_negative(a, b, field); !s.ok()) return s;
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return invalid(field, a, " + ", b, " does not fit in a 64-bit size");
  }
  return sum;
}

absl::StatusOr<int64_t> checked_mul(int64_t a, int64_t b, std::string_view field) {
  if (absl::Status s = check_non_negative(a, b, field); !s.ok()) return s;
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    return invalid(field, a, " * ", b, " does not fit in a 64-bit size");
  }
  return product;
}

absl::StatusOr<int64_t> checked_elements(const Shape& shape, std::string_view field) {
  for (int64_t d : shape) {
    if (d < 0) return invalid(field, "shape ", shape_string(shape), " has a negative dim ", d);
  }
  // The non-zero dims' product bounds every stride, so it must fit even when a zero dim makes
  // the tensor empty.
  int64_t product = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d == 0) {
      empty = true;
    } else if (__builtin_mul_overflow(product, d, &product)) {
      return invalid(field, "shape ", shape_string(shape),
                     " has more elements than a 64-bit size holds");
    }
  }
  return empty ? 0 : product;
}

absl::StatusOr<uint64_t> checked_bytes(const TensorType& type, std::string_view field) {
  const size_t element = dtype_size(type.dtype);
  if (element == 0) {
    return invalid(field, "dtype ", static_cast<int>(type.dtype), " is unspecified or unknown");
  }
  auto elements = checked_elements(type.shape, field);
  if (!elements.ok()) return elements.status();
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(*elements), element, &bytes)) {
    return invalid(field, type.str(), " needs more bytes than 64 bits hold");
  }
  return bytes;
}

absl::StatusOr<uint64_t> checked_bytes(uint64_t count, size_t element_size,
                                       std::string_view field) {
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(count, element_size, &bytes)) {
    return invalid(field, count, " elements of ", element_size,
                   " bytes need more bytes than 64 bits hold");
  }
  return bytes;
}

}  // namespace tg
