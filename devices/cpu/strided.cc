#include "devices/cpu/strided.h"

namespace tg::cpu {
namespace {

template <class T>
void copy_rows(const Shape& shape, T* dst, const std::vector<int64_t>& dst_strides,
               int64_t dst_offset, const T* src, const std::vector<int64_t>& src_strides,
               int64_t src_offset, ThreadPool* pool) {
  const int64_t n = row_length(shape);
  const int64_t ds = row_step(dst_strides), ss = row_step(src_strides);
  for_each_row_parallel<2>(pool, shape, {dst_strides, src_strides}, [&](auto off) {
    T* d = dst + dst_offset + off[0];
    const T* s = src + src_offset + off[1];
    if (ds == 1 && ss == 1) {
      std::memcpy(d, s, n * sizeof(T));
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
    }
  });
}

}  // namespace

std::vector<int64_t> dense_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  const std::vector<int64_t> dense = dense_strides(in);
  std::vector<int64_t> strides(out.size(), 0);
  const size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) {
    strides[lead + d] = in[d] == 1 ? 0 : dense[d];
  }
  return strides;
}

void strided_copy(const Shape& shape, size_t element_bytes, std::byte* dst,
                  const std::vector<int64_t>& dst_strides, int64_t dst_offset, const std::byte* src,
                  const std::vector<int64_t>& src_strides, int64_t src_offset, ThreadPool* pool) {
  switch (element_bytes) {
    case 1:
      return copy_rows(shape, reinterpret_cast<uint8_t*>(dst), dst_strides, dst_offset,
                       reinterpret_cast<const uint8_t*>(src), src_strides, src_offset, pool);
    case 2:
      return copy_rows(shape, reinterpret_cast<uint16_t*>(dst), dst_strides, dst_offset,
                       reinterpret_cast<const uint16_t*>(src), src_strides, src_offset, pool);
    case 4:
      return copy_rows(shape, reinterpret_cast<uint32_t*>(dst), dst_strides, dst_offset,
                       reinterpret_cast<const uint32_t*>(src), src_strides, src_offset, pool);
    default:
      return copy_rows(shape, reinterpret_cast<uint64_t*>(dst), dst_strides, dst_offset,
                       reinterpret_cast<const uint64_t*>(src), src_strides, src_offset, pool);
  }
}

}  // namespace tg::cpu
