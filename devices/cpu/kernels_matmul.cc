// Batched matmul: OpenBLAS for floats (f16/bf16 through f32), a plain loop for integers.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "devices/cpu/blas.h"
#include "devices/cpu/element.h"
#include "devices/cpu/kernels.h"
#include "devices/cpu/strided.h"

namespace tg::cpu {
namespace {

namespace v1 = tgrack::v1;

template <class T>
void gemm(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  if constexpr (std::is_floating_point_v<T>) {
    if (blas_gemm(m, n, k, a, b, c)) return;
    for (int64_t i = 0; i < m; ++i) {
      T* row = c + i * n;
      std::fill(row, row + n, T{0});
      for (int64_t p = 0; p < k; ++p) {
        const T x = a[i * k + p];
        for (int64_t j = 0; j < n; ++j) row[j] += x * b[p * n + j];
      }
    }
  } else {  // Integers wrap, as everywhere.
    using U = std::make_unsigned_t<T>;
    for (int64_t i = 0; i < m; ++i) {
      U* row = reinterpret_cast<U*>(c + i * n);
      std::fill(row, row + n, U{0});
      for (int64_t p = 0; p < k; ++p) {
        const U x = static_cast<U>(a[i * k + p]);
        const T* b_row = b + p * n;
        for (int64_t j = 0; j < n; ++j) row[j] += x * static_cast<U>(b_row[j]);
      }
    }
  }
}

// Multiply-adds per block of rows between checks of Kernel::stop: tens of milliseconds of
// work at most, and large enough that the blocks keep BLAS efficient.
constexpr int64_t kMatmulChunkFlops = int64_t{1} << 30;

}  // namespace

void run_matmul(const Kernel& kernel, Inputs inputs, std::byte* output) {
  const TensorType& out = kernel.output;
  const Shape& a_shape = kernel.inputs[0].shape;
  const Shape& b_shape = kernel.inputs[1].shape;
  const size_t rank = out.shape.size();
  const int64_t m = out.shape[rank - 2], n = out.shape[rank - 1], k = a_shape.back();
  if (m * n == 0) return;
  const int64_t batches = out.elements() / (m * n);
  if (k == 0) {
    std::memset(output, 0, out.bytes());  // Zero bits are zero in every dtype.
    return;
  }
  // f16/bf16 compute in f32.
  const bool narrow = out.dtype == v1::DTYPE_F16 || out.dtype == v1::DTYPE_BF16;
  const DType compute = narrow ? v1::DTYPE_F32 : out.dtype;
  // Operands are converted to the result type first (an integer rounds to f16/bf16 there),
  // then widened exactly to the compute type.
  std::vector<std::byte> scratch_a, scratch_b, scratch_c, narrow_a, narrow_b;
  const std::byte* a = as_dtype(kernel.inputs[0], inputs[0], out.dtype, narrow_a);
  const std::byte* b = as_dtype(kernel.inputs[1], inputs[1], out.dtype, narrow_b);
  a = as_dtype(TensorType{out.dtype, a_shape}, a, compute, scratch_a);
  b = as_dtype(TensorType{out.dtype, b_shape}, b, compute, scratch_b);
  std::byte* c = output;
  if (narrow) {
    scratch_c.resize(static_cast<size_t>(out.elements()) * sizeof(float));
    c = scratch_c.data();
  }

  const Shape batch(out.shape.begin(), out.shape.end() - 2);
  const std::array<std::vector<int64_t>, 3> strides = {
      broadcast_strides(Shape(a_shape.begin(), a_shape.end() - 2), batch),
      broadcast_strides(Shape(b_shape.begin(), b_shape.end() - 2), batch), dense_strides(batch)};
  const int64_t row = row_length(batch), sa = row_step(strides[0]), sb = row_step(strides[1]);
  visit_dtype(compute, [&]<DType D>() {
    using T = typename Elem<D>::Storage;
    if constexpr (!std::is_same_v<T, uint16_t> && !std::is_same_v<T, uint8_t>) {
      const T* x = reinterpret_cast<const T*>(a);
      const T* y = reinterpret_cast<const T*>(b);
      T* z = reinterpret_cast<T*>(c);
      // In blocks of rows, so a cancelled run (Kernel::stop) ends at the next block.
      const int64_t block = std::max<int64_t>(1, kMatmulChunkFlops / std::max<int64_t>(1, n * k));
      for_each_row<3>(batch, strides, {0, 0, 0}, [&](auto off) {
        for (int64_t i = 0; i < row; ++i) {
          const T* xi = x + (off[0] + i * sa) * m * k;
          T* zi = z + (off[2] + i) * m * n;
          for (int64_t r = 0; r < m && !kernel.stop_requested(); r += block) {
            gemm<T>(std::min(block, m - r), n, k, xi + r * k, y + (off[1] + i * sb) * k * n,
                    zi + r * n);
          }
        }
      });
    }
  });
  if (narrow) cast_elements(v1::DTYPE_F32, c, out.dtype, output, batches * m * n);
}

}  // namespace tg::cpu
