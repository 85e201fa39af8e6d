// Walking tensors by strides: the one loop behind broadcasting, reductions and movement.
// Strides and offsets are in elements.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "devices/cpu/thread_pool.h"
#include "devices/tensor.h"

namespace tg::cpu {

// Row-major strides of a dense tensor of `shape`.
std::vector<int64_t> dense_strides(const Shape& shape);
// Strides for reading a dense tensor of shape `in` as if broadcast to `out` (aligned at the
// right; 0 along broadcast dims). `in` must broadcast to `out`.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Visits `shape` in row-major order one innermost row at a time, calling row(offsets) with
// the offset of the row's first element in each of the N operands. A row has
// row_length(shape) elements; operand k steps by strides[k].back() along it.
template <size_t N, class Row>
void for_each_row(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides,
                  std::array<int64_t, N> offsets, Row&& row) {
  if (num_elements(shape) == 0) return;
  const int rank = static_cast<int>(shape.size());
  std::vector<int64_t> index(rank > 1 ? rank - 1 : 0, 0);
  while (true) {
    row(offsets);
    int d = rank - 2;
    for (; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][d];
      if (++index[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Loops smaller than this many elements are not worth splitting across threads.
inline constexpr int64_t kParallelElements = int64_t{1} << 15;

// for_each_row with the outermost dim split across `pool` (when given and the loop is large
// enough). `row` is then called concurrently and must only write what its row owns.
template <size_t N, class Row>
void for_each_row_parallel(ThreadPool* pool, const Shape& shape,
                           const std::array<std::vector<int64_t>, N>& strides, Row&& row) {
  if (pool == nullptr || pool->threads() == 1 || shape.size() < 2 ||
      num_elements(shape) < kParallelElements) {
    for_each_row<N>(shape, strides, {}, row);
    return;
  }
  pool->parallel_for(shape[0], [&](int64_t begin, int64_t end) {
    Shape part = shape;
    part[0] = end - begin;
    std::array<int64_t, N> offsets;
    for (size_t k = 0; k < N; ++k) offsets[k] = begin * strides[k][0];
    for_each_row<N>(part, strides, offsets, row);
  });
}

// fn(begin, end) over [0, n), split across `pool` when given and n is large enough.
inline void parallel_range(ThreadPool* pool, int64_t n,
                           const std::function<void(int64_t, int64_t)>& fn) {
  if (pool == nullptr || n < kParallelElements) {
    if (n > 0) fn(0, n);
    return;
  }
  pool->parallel_for(n, fn);
}

inline int64_t row_length(const Shape& shape) { return shape.empty() ? 1 : shape.back(); }
inline int64_t row_step(const std::vector<int64_t>& strides) {
  return strides.empty() ? 0 : strides.back();
}

// Copies elements of `element_bytes` each: dst[dst_offset + i.dst_strides] =
// src[src_offset + i.src_strides] for every index i of `shape`.
void strided_copy(const Shape& shape, size_t element_bytes, std::byte* dst,
                  const std::vector<int64_t>& dst_strides, int64_t dst_offset, const std::byte* src,
                  const std::vector<int64_t>& src_strides, int64_t src_offset,
                  ThreadPool* pool = nullptr);

}  // namespace tg::cpu
