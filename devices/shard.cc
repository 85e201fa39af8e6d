#include "devices/shard.h"

#include <cstring>

#include <absl/strings/str_cat.h>

#include "devices/checked_size.h"

namespace tg {
namespace {

// Rows before the axis (outer) and bytes after it per index of the axis (inner).
struct Strides {
  int64_t outer = 1;
  uint64_t inner_bytes = 0;
};

Strides strides(const TensorType& type, int64_t axis) {
  Strides s;
  s.inner_bytes = dtype_size(type.dtype);
  for (int64_t i = 0; i < axis; ++i) s.outer *= type.shape[i];
  for (size_t i = axis + 1; i < type.shape.size(); ++i) s.inner_bytes *= type.shape[i];
  return s;
}

}  // namespace

absl::StatusOr<int64_t> normalize_axis(int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (r == 0) return absl::InvalidArgumentError("a scalar has no axis to shard along");
  if (axis < -r || axis >= r) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard axis ", axis, " is out of range for rank ", r, " (allowed ", -r,
                     " to ", r - 1, ")"));
  }
  return axis < 0 ? axis + r : axis;
}

absl::StatusOr<Shape> shard_shape(const Shape& shape, int64_t axis, uint32_t shards) {
  auto a = normalize_axis(axis, shape.size());
  if (!a.ok()) return a.status();
  if (shards == 0) return absl::InvalidArgumentError("shard count must be at least 1, got 0");
  if (shape[*a] % shards != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot split dimension ", *a, " of shape ", shape_string(shape), " (size ",
                     shape[*a], ") into ", shards, " equal shards"));
  }
  Shape part = shape;
  part[*a] /= shards;
  return part;
}

absl::StatusOr<std::vector<HostTensor>> split_shards(const HostTensor& whole, int64_t axis,
                                                     uint32_t shards) {
  auto part = shard_shape(whole.shape(), axis, shards);
  if (!part.ok()) {
    return absl::Status(part.status().code(),
                        absl::StrCat(whole.type().str(), ": ", part.status().message()));
  }
  const int64_t a = *normalize_axis(axis, whole.shape().size());
  const Strides s = strides(whole.type(), a);
  const uint64_t chunk = static_cast<uint64_t>((*part)[a]) * s.inner_bytes;  // One row of a shard.
  const uint64_t row = chunk * shards;                                        // One row of the whole.
  std::vector<HostTensor> out;
  out.reserve(shards);
  for (uint32_t i = 0; i < shards; ++i) {
    HostTensor& shard = out.emplace_back(TensorType{whole.dtype(), *part});
    for (int64_t o = 0; o < s.outer && chunk > 0; ++o) {
      std::memcpy(shard.data() + o * chunk, whole.data() + o * row + i * chunk, chunk);
    }
  }
  return out;
}

absl::StatusOr<HostTensor> join_shards(std::span<const HostTensor> shards, int64_t axis) {
  if (shards.empty()) return absl::InvalidArgumentError("cannot join zero shards");
  const TensorType& first = shards.front().type();
  auto a = normalize_axis(axis, first.shape.size());
  if (!a.ok()) {
    return absl::Status(a.status().code(), absl::StrCat(first.str(), ": ", a.status().message()));
  }
  for (size_t i = 1; i < shards.size(); ++i) {
    if (shards[i].type() != first) {
      return absl::InvalidArgumentError(absl::StrCat("shard ", i, " is ", shards[i].type().str(),
                                                     ", shard 0 is ", first.str(),
                                                     "; shards must be equal to join"));
    }
  }
  Shape shape = first.shape;
  auto joined = checked_mul(shape[*a], static_cast<int64_t>(shards.size()),
                            absl::StrCat("joined dim ", *a, " of ", shards.size(), " shards of ",
                                         first.str()));
  if (!joined.ok()) return joined.status();
  shape[*a] = *joined;
  if (auto bytes = checked_bytes(TensorType{first.dtype, shape}, "joined tensor"); !bytes.ok()) {
    return bytes.status();
  }
  HostTensor whole(TensorType{first.dtype, shape});
  const Strides s = strides(first, *a);
  const uint64_t chunk = static_cast<uint64_t>(first.shape[*a]) * s.inner_bytes;
  const uint64_t row = chunk * shards.size();
  for (size_t i = 0; i < shards.size(); ++i) {
    for (int64_t o = 0; o < s.outer && chunk > 0; ++o) {
      std::memcpy(whole.data() + o * row + i * chunk, shards[i].data() + o * chunk, chunk);
    }
  }
  return whole;
}

}  // namespace tg
