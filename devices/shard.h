// Shards: a whole tensor cut into equal parts along one axis, and the parts joined back.
// The controller splits sharded feeds with split_shards; clients assemble fetched pieces with
// join_shards. Both copy bytes only (row-major, densely packed) and never reorder elements:
// join_shards(split_shards(t, axis, n), axis) == t for every dtype.
//
// `axis` counts from the end when negative (-1 = last). Errors are INVALID_ARGUMENT naming the
// tensor types and the rule broken: a scalar, an axis out of range, zero shards, a dimension
// that the shard count does not divide, or join parts that differ in dtype or other dims.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/tensor.h"

namespace tg {

// The axis in [0, rank); INVALID_ARGUMENT when rank is 0 or axis is outside [-rank, rank).
absl::StatusOr<int64_t> normalize_axis(int64_t axis, size_t rank);

// The shape of one of `shards` equal shards of `shape` along `axis`.
absl::StatusOr<Shape> shard_shape(const Shape& shape, int64_t axis, uint32_t shards);

// `shards` tensors, shard i holding [i*d/shards, (i+1)*d/shards) of dimension d = shape[axis].
absl::StatusOr<std::vector<HostTensor>> split_shards(const HostTensor& whole, int64_t axis,
                                                     uint32_t shards);

// The inverse: concatenates equal-typed shards along `axis`, in the order given.
absl::StatusOr<HostTensor> join_shards(std::span<const HostTensor> shards, int64_t axis);

}  // namespace tg
