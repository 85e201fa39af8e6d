// Values of the differential test's reference: every element held as a long double (x87
// extended: 64-bit significand, so every i64 and every f64 is exact), and the one rounding
// from an exact value to a dtype, written from the definitions rather than the library's
// conversions so that it cannot share their mistakes.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/tensor.h"
#include "tgrack/v1/graph.pb.h"

namespace tg::differential {

static_assert(sizeof(long double) >= 10, "the reference needs an x87 extended long double");

// A tensor of the reference. `value` is what a correct implementation stores: the exact
// result rounded once to `dtype`. `exact` is the result before that rounding (equal to
// `value` for exact ops), `magnitude` the sum of the absolute values of the terms summed to
// reach it (|exact| for ops that sum nothing). `op` and `terms` describe the computation
// whose rounding errors the value carries, for the comparison's bounds: the last
// computing op (movement keeps its input's) and the number of terms it summed.
struct RefTensor {
  DType dtype = tgrack::v1::DTYPE_UNSPECIFIED;
  Shape shape;
  std::vector<long double> value, exact, magnitude;
  tgrack::v1::OpKind op = tgrack::v1::OP_INPUT;
  int64_t terms = 0;

  int64_t elements() const { return static_cast<int64_t>(value.size()); }
};

// The exact value `x` rounded to nearest even in a float dtype, overflowing to ±inf;
// NaN stays NaN.
long double round_to_float(DType dtype, long double x);
// The cast rules: `x`, a value of `from`, converted to `to` (float to integer truncates,
// saturates and maps NaN to 0; integers wrap; to bool is != 0; to floats rounds once).
long double convert(DType from, DType to, long double x);
// Integer wrap-around of an exact integer to i32 or i64.
long double wrap_integer(DType dtype, __int128 x);

// Largest finite value of a float dtype, its unit roundoff (2^-precision) and the spacing
// of its values around `x` (the subnormal spacing below the smallest normal).
long double max_finite(DType dtype);
long double unit_roundoff(DType dtype);
long double ulp(DType dtype, long double x);

// Host tensors to and from the reference's representation.
RefTensor from_host(const HostTensor& tensor);
HostTensor to_host(DType dtype, const Shape& shape, const std::vector<long double>& values);
std::vector<long double> host_values(const HostTensor& tensor);

}  // namespace tg::differential
