// Checked arithmetic for sizes that come from requests: element counts, byte sizes, shape
// products, pads, concatenated dims, shard counts, offsets. Every size a peer sends goes through
// these before anything is allocated or indexed with it. A negative operand or a result that
// does not fit (int64 for counts and dims, uint64 for bytes) is INVALID_ARGUMENT naming `field`
// (what the caller calls the value, e.g. "node 'p' pad on dim 1") and the values involved.
#pragma once

#include <cstdint>
#include <string_view>

#include <absl/status/statusor.h>

#include "devices/dtype.h"
#include "devices/tensor.h"

namespace tg {

// a + b for non-negative sizes.
absl::StatusOr<int64_t> checked_add(int64_t a, int64_t b, std::string_view field);
// a * b for non-negative sizes.
absl::StatusOr<int64_t> checked_mul(int64_t a, int64_t b, std::string_view field);

// The element count of `shape` (1 for a scalar); every dim must be >= 0.
absl::StatusOr<int64_t> checked_elements(const Shape& shape, std::string_view field);
// The bytes a dense tensor of `type` needs; every dim >= 0 and the dtype known.
absl::StatusOr<uint64_t> checked_bytes(const TensorType& type, std::string_view field);
// `count` elements of `element_size` bytes.
absl::StatusOr<uint64_t> checked_bytes(uint64_t count, size_t element_size, std::string_view field);

}  // namespace tg
