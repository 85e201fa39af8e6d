#include "compare.h"

#include <cmath>
#include <sstream>

#include "devices/dtype.h"

namespace tg::differential {
namespace {

namespace v1 = tgrack::v1;

// f16 and bf16 compute in f32 (type_rules.h); f32 and f64 in themselves.
DType compute_dtype(DType dtype) { return dtype == v1::DTYPE_F64 ? dtype : v1::DTYPE_F32; }

bool rounds_once_or_never(v1::OpKind op) {
  switch (op) {
    case v1::OP_INPUT:
    case v1::OP_CONSTANT:
    case v1::OP_CAST:
    case v1::OP_WHERE:
    case v1::OP_NEG:
    case v1::OP_RELU:
    case v1::OP_MAX:
    case v1::OP_MIN:
    case v1::OP_REDUCE_MAX:
    case v1::OP_REDUCE_MIN: return true;
    default: return op >= v1::OP_EQ && op <= v1::OP_GE;
  }
}

std::string show(long double v) {
  std::ostringstream out;
  out.precision(21);
  out << v;
  return out.str();
}

}  // namespace

// Error analysis, u_d and u_c the unit roundoffs of the dtype and of its compute type, x
// the exact result, M the sum of |terms| and n their number, P the partials combined:
// - add, sub, mul, div, sqrt: correctly rounded in the compute type, then rounded to the
//   dtype: |err| <= u_c|x| + ulp_d(x)/2 <= ulp_d(x) (the reference's own rounding in
//   long double, 2^-64|x|, fits in the same ulp).
// - exp, log, pow, tanh: libm in the compute type is within 2 ulp_c (glibc's documented
//   maxima are 1 for exp/log/pow, 2 for tanh); sigmoid = 1/(1 + exp(-x)) adds an addition
//   and a division, ≤ 4 ulp_c. Then one rounding: ulp_d(x) + 4 ulp_c(x).
// - sum, mean: accumulated in f64 and rounded once: n u_f64 M + ulp_d(x)/2. Sharded, each
//   partial is rounded to the dtype (u_d M in all) and P - 1 additions in the dtype each
//   add at most u_d M: 2 P u_d M more. A mean divides both by the count, and a sharded
//   mean's f32 division adds u_f32|x| (inside ulp_d(x) for narrower dtypes; for f32 the
//   doubled ulp covers it).
// - matmul: any summation order of n products in the compute type is within
//   γ_n M = n u_c M / (1 - n u_c) (Higham, Accuracy and Stability, §3.1); one rounding to
//   the dtype and, sharded over the contraction, the partials as for sum.
long double error_bound(const RefTensor& expected, int64_t i, int partials) {
  const DType d = expected.dtype;
  if (!is_floating(d) || rounds_once_or_never(expected.op)) return 0;
  const long double x = expected.exact[i], m = expected.magnitude[i];
  const long double n = static_cast<long double>(expected.terms);
  const DType c = compute_dtype(d);
  const long double u_d = unit_roundoff(d), u_c = unit_roundoff(c);
  switch (expected.op) {
    case v1::OP_ADD:
    case v1::OP_SUB:
    case v1::OP_MUL:
    case v1::OP_DIV:
    case v1::OP_SQRT: return ulp(d, x);
    case v1::OP_SUM:
    case v1::OP_MEAN:
      return 2 * ulp(d, x) + n * unit_roundoff(v1::DTYPE_F64) * m + 2 * partials * u_d * m;
    case v1::OP_MATMUL: {
      const long double gamma = n * u_c / (1 - n * u_c);
      return ulp(d, x) + gamma * m + 2 * partials * u_d * m;
    }
    default: return ulp(d, x) + 4 * ulp(c, x);  // exp, log, pow, tanh, sigmoid.
  }
}

std::string compare(const RefTensor& expected, const HostTensor& actual, int partials) {
  if (actual.dtype() != expected.dtype || actual.shape() != expected.shape) {
    return "type " + actual.type().str() + ", expected " +
           TensorType{expected.dtype, expected.shape}.str();
  }
  const std::vector<long double> got = host_values(actual);
  std::ostringstream out;
  int wrong = 0;
  for (int64_t i = 0; i < expected.elements(); ++i) {
    const long double want = expected.value[i], exact = expected.exact[i], a = got[i];
    const long double bound = error_bound(expected, i, partials);
    bool ok;
    if (std::isnan(want) || std::isnan(a)) {
      ok = std::isnan(want) && std::isnan(a);
    } else if (bound == 0 || std::isinf(exact)) {
      ok = a == want;
    } else if (std::isinf(a)) {
      // Finite exact result: an infinity only where it may round past the largest finite.
      const long double threshold = max_finite(expected.dtype) + ulp(expected.dtype, max_finite(expected.dtype)) / 2;
      ok = std::signbit(a) == std::signbit(exact) && std::fabs(exact) + bound >= threshold;
    } else {
      ok = std::fabs(a - exact) <= bound;
    }
    if (ok) continue;
    if (++wrong <= 4) {
      out << "[" << i << "] got " << show(a) << ", expected " << show(want) << " (exact "
          << show(exact) << ", bound " << show(bound) << "); ";
    }
  }
  if (wrong > 4) out << wrong - 4 << " more elements differ";
  return out.str();
}

}  // namespace tg::differential
