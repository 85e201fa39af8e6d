#include "devices/hip/hip_kernels.h"

#include <algorithm>
#include <vector>

#include <absl/base/casts.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include "devices/graph/type_rules.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

constexpr uint32_t kThreads = 256;
constexpr int kTile = 16;

// Helpers every kernel may use. Integer arithmetic goes through the unsigned type so that
// overflow wraps (signed overflow is undefined in C++); max/min propagate the first NaN and
// keep the first operand on ties (max(0, -0) is 0), as the host does.
constexpr char kPrelude[] = R"(
__device__ inline float tg_exp(float x) { return expf(x); }
__device__ inline double tg_exp(double x) { return exp(x); }
__device__ inline float tg_log(float x) { return logf(x); }
__device__ inline double tg_log(double x) { return log(x); }
__device__ inline float tg_sqrt(float x) { return sqrtf(x); }
__device__ inline double tg_sqrt(double x) { return sqrt(x); }
__device__ inline float tg_tanh(float x) { return tanhf(x); }
__device__ inline double tg_tanh(double x) { return tanh(x); }
__device__ inline float tg_pow(float x, float y) { return powf(x, y); }
__device__ inline double tg_pow(double x, double y) { return pow(x, y); }
template <class T> __device__ inline T tg_max(T a, T b) {
  return a != a ? a : b != b ? b : b > a ? b : a;
}
template <class T> __device__ inline T tg_min(T a, T b) {
  return a != a ? a : b != b ? b : b < a ? b : a;
}
template <class T, class U> __device__ inline T tg_add(T a, T b) { return (T)((U)a + (U)b); }
template <class T, class U> __device__ inline T tg_sub(T a, T b) { return (T)((U)a - (U)b); }
template <class T, class U> __device__ inline T tg_mul(T a, T b) { return (T)((U)a * (U)b); }
template <class T, class U> __device__ inline T tg_neg(T a) { return (T)((U)0 - (U)a); }
// Float to integer: truncate toward zero, saturate, NaN -> 0.
template <class I, class F> __device__ inline I tg_f2i(F x, F lo, F hi, I ilo, I ihi) {
  if (x != x) return 0;
  if (x <= lo) return ilo;
  if (x >= hi) return ihi;
  return (I)x;
}
// Floor division and exact integer powers; a zero divisor or negative exponent sets *err and
// gives 0 (the launch then fails).
template <class T, class U> __device__ inline T tg_floordiv(T a, T b, unsigned int* err) {
  if (b == 0) { *err = 1u; return 0; }
  if (b == (T)-1) return tg_neg<T, U>(a);
  T q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}
template <class T, class U> __device__ inline T tg_ipow(T base, T exponent, unsigned int* err) {
  if (exponent < 0) { *err = 1u; return 0; }
  U result = 1, b = (U)base;
  for (U e = (U)exponent; e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return (T)result;
}
// binary16 and bfloat16 <-> f32, bit for bit the host's conversions (devices/dtype.h):
// round to nearest even, NaN stays NaN.
__device__ inline unsigned int tg_bits(float x) { return __builtin_bit_cast(unsigned int, x); }
__device__ inline float tg_float(unsigned int b) { return __builtin_bit_cast(float, b); }
__device__ inline unsigned short tg_f2h(float value) {
  const unsigned int f = tg_bits(value);
  const unsigned short sign = (unsigned short)((f >> 16) & 0x8000u);
  const unsigned int abs = f & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u | ((abs >> 13) & 0x3ffu);
  if (abs >= 0x477ff000u) return sign | 0x7c00u;
  if (abs >= 0x38800000u) {
    unsigned int h = (abs - 0x38000000u) >> 13;
    const unsigned int rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return (unsigned short)(sign | h);
  }
  if (abs <= 0x33000000u) return sign;
  const unsigned int mantissa = (abs & 0x7fffffu) | 0x800000u;
  const int shift = 126 - (int)(abs >> 23);
  unsigned int h = mantissa >> shift;
  const unsigned int rest = mantissa & ((1u << shift) - 1u);
  const unsigned int half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;
  return (unsigned short)(sign | h);
}
__device__ inline float tg_h2f(unsigned short bits) {
  const unsigned int sign = (unsigned int)(bits & 0x8000u) << 16;
  const unsigned int exponent = (bits >> 10) & 0x1fu, mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = (float)mantissa * 5.9604644775390625e-8f;  // 2^-24, exact.
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return tg_float(sign | 0x7f800000u | (mantissa << 13));
  return tg_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}
__device__ inline unsigned short tg_f2bf(float value) {
  const unsigned int f = tg_bits(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((f >> 16) | 0x40u);
  return (unsigned short)((f + 0x7fffu + ((f >> 16) & 1u)) >> 16);
}
__device__ inline float tg_bf2f(unsigned short bits) { return tg_float((unsigned int)bits << 16); }
// f64 to f32 rounding toward zero with the last bit set when inexact ("round to odd"), so that
// rounding the result again to f16/bf16 equals rounding the f64 directly (as the cast does).
__device__ inline float tg_round_odd(double d) {
  float f = (float)d;
  unsigned int b = tg_bits(f);
  if ((b & 0x7f800000u) != 0x7f800000u && (double)f != d && (b & 1u) == 0) {
    const double af = (double)f < 0 ? -(double)f : (double)f, ad = d < 0 ? -d : d;
    b = af > ad ? b - 1u : b + 1u;
    f = tg_float(b);
  }
  return f;
}
// The same for an integer, from its exact value (through f64 an i64 would round twice).
__device__ inline float tg_int_round_odd(long long v) {
  const unsigned long long m = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  int width = 0;
  while (width < 64 && (m >> width) != 0) ++width;
  unsigned long long kept = m;
  if (width > 24) {
    const int dropped = width - 24;
    kept = m >> dropped << dropped;
    if (kept != m) kept |= 1ull << dropped;
  }
  const float f = (float)kept;
  return v < 0 ? -f : f;
}
)";

std::string name_of(DType d) { return std::string(dtype_name(d)); }

std::string unsupported(const Kernel& k, DType d, std::string_view why) {
  return absl::StrCat("hip backend: ", op_name(k.node->op()), " on ", name_of(d), " ",
                      std::string(why), ": not supported yet");
}

bool narrow(DType d) { return d == v1::DTYPE_F16 || d == v1::DTYPE_BF16; }

// C type a dtype is stored as, or "" when the generator does not handle it.
std::string ctype(DType d) {
  switch (d) {
    case v1::DTYPE_F32: return "float";
    case v1::DTYPE_F64: return "double";
    case v1::DTYPE_F16: case v1::DTYPE_BF16: return "unsigned short";
    case v1::DTYPE_I32: return "int";
    case v1::DTYPE_I64: return "long long";
    case v1::DTYPE_BOOL: return "unsigned char";
    default: return "";
  }
}

// C type a dtype is computed in: f16 and bf16 in float, the others as stored.
std::string compute_type(DType d) { return narrow(d) ? "float" : ctype(d); }

// Unsigned type for wrapping arithmetic in `d` (the compute type for floats).
std::string wrap_type(DType d) {
  switch (d) {
    case v1::DTYPE_I32: return "unsigned int";
    case v1::DTYPE_I64: return "unsigned long long";
    case v1::DTYPE_BOOL: return "unsigned char";
    default: return compute_type(d);
  }
}

// A stored element `x` of dtype `d` as its compute type.
std::string load(const std::string& x, DType d) {
  if (d == v1::DTYPE_F16) return absl::StrCat("tg_h2f(", x, ")");
  if (d == v1::DTYPE_BF16) return absl::StrCat("tg_bf2f(", x, ")");
  return x;
}

// A value `x` of d's compute type (or one converting to it) as stored; f16/bf16 round once.
std::string store(const std::string& x, DType d) {
  if (d == v1::DTYPE_F16) return absl::StrCat("tg_f2h(", x, ")");
  if (d == v1::DTYPE_BF16) return absl::StrCat("tg_f2bf(", x, ")");
  return absl::StrCat("(", ctype(d), ")(", x, ")");
}

absl::Status check_dtypes(const Kernel& k) {
  std::vector<DType> all;
  for (const TensorType& t : k.inputs) all.push_back(t.dtype);
  all.push_back(k.output.dtype);
  for (DType d : all) {
    if (ctype(d).empty()) return absl::UnimplementedError(unsupported(k, d, "(unknown dtype)"));
  }
  return absl::OkStatus();
}

// Row-major strides of `shape`.
std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

// Strides of `in` as seen from `out` under right-aligned broadcasting (0 where broadcast).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  const std::vector<int64_t> own = strides_of(in);
  const size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) {
    if (in[d] == out[lead + d] && in[d] != 1) s[lead + d] = own[d];
  }
  return s;
}

// Code that decomposes the flat index `index` over `dims` and accumulates offsets o<j> with
// `strides[j]`. An offset equal to the index (same shape, dense) is emitted directly.
std::string offsets(const std::string& index, const Shape& dims,
                    const std::vector<std::vector<int64_t>>& strides) {
  std::string code;
  const std::vector<int64_t> dense = strides_of(dims);
  std::vector<bool> direct(strides.size());
  for (size_t j = 0; j < strides.size(); ++j) {
    direct[j] = strides[j] == dense;
    absl::StrAppend(&code, "  long long o", j, " = ", direct[j] ? index : "0", ";\n");
  }
  if (std::all_of(direct.begin(), direct.end(), [](bool b) { return b; })) return code;
  std::string walk;
  bool moves = false;
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    std::string adds;
    for (size_t j = 0; j < strides.size(); ++j) {
      if (!direct[j] && strides[j][d] != 0) {
        absl::StrAppend(&adds, " o", j, " += c * ", strides[j][d], "LL;");
      }
    }
    if (adds.empty()) {  // No offset moves along this dim.
      absl::StrAppend(&walk, "  r /= ", dims[d], "LL;\n");
    } else {
      moves = true;
      absl::StrAppend(&walk, "  { long long c = r % ", dims[d], "LL; r /= ", dims[d], "LL;", adds,
                      " }\n");
    }
  }
  if (moves) absl::StrAppend(&code, "  long long r = ", index, ";\n", walk);
  return code;
}

// Entry-point parameters: inputs, output, then the error flag when the kernel can fail.
std::string params(const Kernel& k, bool error_flag) {
  std::vector<std::string> p;
  for (size_t i = 0; i < k.inputs.size(); ++i) {
    p.push_back(absl::StrCat("const ", ctype(k.inputs[i].dtype), "* __restrict__ in", i));
  }
  p.push_back(absl::StrCat(ctype(k.output.dtype), "* __restrict__ out"));
  if (error_flag) p.push_back("unsigned int* __restrict__ err");
  return absl::StrJoin(p, ", ");
}

// One thread per output element: `body` sees the flat index `i` and writes out[i]. A
// non-empty `failure` gives the kernel the error flag (see HipKernelSource::failure).
HipKernelSource elementwise(const Kernel& k, const std::string& body,
                            const std::string& failure = "") {
  HipKernelSource src;
  const int64_t n = k.output.elements();
  if (n == 0) return src;
  src.source = absl::StrCat(kPrelude, "extern \"C\" __global__ void tg_kernel(",
                            params(k, !failure.empty()),
                            ") {\n  const long long i = (long long)blockIdx.x * ", kThreads,
                            " + threadIdx.x;\n  if (i >= ", n, "LL) return;\n", body, "}\n");
  src.grid[0] = static_cast<uint32_t>((n + kThreads - 1) / kThreads);
  src.block[0] = kThreads;
  src.failure = failure;
  return src;
}

// Conversion of the stored element `x` of dtype `from` to a stored element of `to`, per the
// cast rules (the host's cast op, bit for bit).
std::string convert(const std::string& x, DType from, DType to) {
  if (from == to) return x;
  const std::string t = ctype(to);
  if (to == v1::DTYPE_BOOL) return absl::StrCat("(unsigned char)(", load(x, from), " != 0)");
  if (narrow(to)) {
    // From a float-computed type the value is exact in f32; from f64 or an integer it is
    // rounded to odd in f32 first, so that the final rounding is the only one.
    if (from == v1::DTYPE_F32 || narrow(from)) return store(load(x, from), to);
    if (from == v1::DTYPE_BOOL) return store(absl::StrCat("(float)", x), to);
    if (is_integer(from)) return store(absl::StrCat("tg_int_round_odd((long long)", x, ")"), to);
    return store(absl::StrCat("tg_round_odd((double)", x, ")"), to);
  }
  if (from == v1::DTYPE_BOOL || is_floating(to)) return absl::StrCat("(", t, ")", load(x, from));
  if (is_floating(from)) {
    const std::string f = compute_type(from);
    // Bounds exactly representable in the float type: -2^31 / 2^31 and -2^63 / 2^63.
    const std::string lo = to == v1::DTYPE_I32 ? "-2147483648.0" : "-9223372036854775808.0";
    const std::string hi = to == v1::DTYPE_I32 ? "2147483648.0" : "9223372036854775808.0";
    const std::string ilo =
        to == v1::DTYPE_I32 ? "(-2147483647 - 1)" : "(-9223372036854775807LL - 1)";
    const std::string ihi = to == v1::DTYPE_I32 ? "2147483647" : "9223372036854775807LL";
    return absl::StrCat("tg_f2i<", t, ", ", f, ">(", load(x, from), ", (", f, ")", lo, ", (", f,
                        ")", hi, ", ", ilo, ", ", ihi, ")");
  }
  return absl::StrCat("(", t, ")(", wrap_type(to), ")", x);  // Integer narrowing wraps.
}

absl::StatusOr<HipKernelSource> unary(const Kernel& k) {
  const DType d = k.output.dtype;
  const std::string t = compute_type(d), u = wrap_type(d);
  std::string expr;
  switch (k.node->op()) {
    case v1::OP_NEG:
      expr = is_floating(d) ? "-x" : absl::StrCat("tg_neg<", t, ", ", u, ">(x)");
      break;
    case v1::OP_RELU: expr = absl::StrCat("x < (", t, ")0 ? (", t, ")0 : x"); break;
    case v1::OP_EXP: expr = "tg_exp(x)"; break;
    case v1::OP_LOG: expr = "tg_log(x)"; break;
    case v1::OP_SQRT: expr = "tg_sqrt(x)"; break;
    case v1::OP_TANH: expr = "tg_tanh(x)"; break;
    case v1::OP_SIGMOID:  // As on the host: exp(x) / (1 + exp(x)) below 0, so tiny results stay.
      expr = absl::StrCat("x >= (", t, ")0 ? (", t, ")1 / ((", t, ")1 + tg_exp(-x)) : tg_exp(x) / ((",
                          t, ")1 + tg_exp(x))");
      break;
    default: return absl::InternalError("not a unary op");
  }
  const bool float_only = k.node->op() != v1::OP_NEG && k.node->op() != v1::OP_RELU;
  if (d == v1::DTYPE_BOOL || (float_only && !is_floating(d))) {
    return absl::InvalidArgumentError(
        absl::StrCat(op_name(k.node->op()), " on ", name_of(d), " is not a valid op"));
  }
  return elementwise(k, absl::StrCat("  const ", t, " x = ", load("in0[i]", d),
                                     ";\n  out[i] = ", store(expr, d), ";\n"));
}

absl::StatusOr<HipKernelSource> binary(const Kernel& k) {
  const DType p = promote_types(k.inputs[0].dtype, k.inputs[1].dtype);
  const std::string t = compute_type(p), u = wrap_type(p);
  const v1::OpKind op = k.node->op();
  const bool integral = is_integer(p);
  std::string expr, failure;
  switch (op) {
    case v1::OP_EQ: expr = "a == b"; break;
    case v1::OP_NE: expr = "a != b"; break;
    case v1::OP_LT: expr = "a < b"; break;
    case v1::OP_LE: expr = "a <= b"; break;
    case v1::OP_GT: expr = "a > b"; break;
    case v1::OP_GE: expr = "a >= b"; break;
    case v1::OP_MAX: expr = "tg_max(a, b)"; break;
    case v1::OP_MIN: expr = "tg_min(a, b)"; break;
    case v1::OP_ADD: expr = absl::StrCat("tg_add<", t, ", ", u, ">(a, b)"); break;
    case v1::OP_SUB: expr = absl::StrCat("tg_sub<", t, ", ", u, ">(a, b)"); break;
    case v1::OP_MUL: expr = absl::StrCat("tg_mul<", t, ", ", u, ">(a, b)"); break;
    case v1::OP_DIV:
      expr = integral ? absl::StrCat("tg_floordiv<", t, ", ", u, ">(a, b, err)") : "a / b";
      if (integral) failure = "integer division by zero";
      break;
    case v1::OP_POW:
      expr = integral ? absl::StrCat("tg_ipow<", t, ", ", u, ">(a, b, err)") : "tg_pow(a, b)";
      if (integral) failure = "integer to a negative integer power";
      break;
    default: return absl::InternalError("not a binary op");
  }
  if (p == v1::DTYPE_BOOL && op != v1::OP_MAX && op != v1::OP_MIN && !is_comparison_op(op)) {
    return absl::InvalidArgumentError(
        absl::StrCat(op_name(op), " needs at least one non-bool operand"));
  }
  const Shape& out = k.output.shape;
  std::string body = offsets("i", out, {broadcast_strides(k.inputs[0].shape, out),
                                        broadcast_strides(k.inputs[1].shape, out)});
  absl::StrAppend(&body, "  const ", t, " a = ",
                  load(convert("in0[o0]", k.inputs[0].dtype, p), p), ";\n  const ", t, " b = ",
                  load(convert("in1[o1]", k.inputs[1].dtype, p), p), ";\n  out[i] = ",
                  store(expr, k.output.dtype), ";\n");
  return elementwise(k, body, failure);
}

absl::StatusOr<HipKernelSource> where(const Kernel& k) {
  if (k.inputs[0].dtype != v1::DTYPE_BOOL) {
    return absl::InvalidArgumentError("where needs a bool condition");
  }
  const Shape& out = k.output.shape;
  const DType d = k.output.dtype;
  std::string body = offsets("i", out, {broadcast_strides(k.inputs[0].shape, out),
                                        broadcast_strides(k.inputs[1].shape, out),
                                        broadcast_strides(k.inputs[2].shape, out)});
  absl::StrAppend(&body, "  out[i] = in0[o0] ? ", convert("in1[o1]", k.inputs[1].dtype, d),
                  " : ", convert("in2[o2]", k.inputs[2].dtype, d), ";\n");
  return elementwise(k, body);
}

absl::StatusOr<HipKernelSource> cast(const Kernel& k) {
  return elementwise(k, absl::StrCat("  out[i] = ",
                                     convert("in0[i]", k.inputs[0].dtype, k.output.dtype), ";\n"));
}

absl::StatusOr<HipKernelSource> reduce(const Kernel& k) {
  const TensorType& in = k.inputs[0];
  const int rank = static_cast<int>(in.shape.size());
  auto axes = reduction_axes(*k.node, rank);
  if (!axes.ok()) return axes.status();
  Shape kept, reduced;
  std::vector<int64_t> kept_strides, reduced_strides;
  const std::vector<int64_t> strides = strides_of(in.shape);
  for (int d = 0; d < rank; ++d) {
    const bool r = std::find(axes->begin(), axes->end(), d) != axes->end();
    (r ? reduced : kept).push_back(in.shape[d]);
    (r ? reduced_strides : kept_strides).push_back(strides[d]);
  }
  const int64_t count = num_elements(reduced);
  const v1::OpKind op = k.node->op();
  const DType d = in.dtype;
  const std::string t = compute_type(d);
  if ((op == v1::OP_REDUCE_MAX || op == v1::OP_REDUCE_MIN) && count == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(op_name(op), " over an empty dim has no value"));
  }
  if (op == v1::OP_MEAN && !is_floating(d)) {
    return absl::InvalidArgumentError("mean needs a floating input");
  }
  // Accumulator: f64 for floats (sum, mean; stored as the cast from f64 does), unsigned 64-bit
  // (wrapping) for integer and bool sums, the compute type for max/min.
  std::string acc_t, init, step, result;
  if (op == v1::OP_SUM || op == v1::OP_MEAN) {
    acc_t = is_floating(d) ? "double" : "unsigned long long";
    init = "0";
    step = absl::StrCat("acc += (", acc_t, ")x;");
    if (op == v1::OP_MEAN) {
      result = convert(absl::StrCat("(acc / (double)", count, "LL)"), v1::DTYPE_F64,
                       k.output.dtype);
    } else {
      result = is_floating(d) ? convert("acc", v1::DTYPE_F64, k.output.dtype)
                              : store("acc", k.output.dtype);
    }
  } else {
    acc_t = t;
    init = load("in0[base]", d);
    step = op == v1::OP_REDUCE_MAX ? "acc = tg_max(acc, x);" : "acc = tg_min(acc, x);";
    result = store("acc", k.output.dtype);
  }
  std::string body = offsets("i", kept, {kept_strides});
  absl::StrAppend(&body, "  const long long base = o0;\n  ", acc_t, " acc = ", init, ";\n",
                  "  for (long long j = 0; j < ", count, "LL; ++j) {\n  ",
                  offsets("j", reduced, {reduced_strides}), "    const ", t,
                  " x = ", load("in0[base + o0]", d), ";\n    ", step, "\n  }\n",
                  "  out[i] = ", result, ";\n");
  return elementwise(k, body);
}

absl::StatusOr<HipKernelSource> matmul(const Kernel& k) {
  const Shape& a = k.inputs[0].shape;
  const Shape& b = k.inputs[1].shape;
  const Shape& c = k.output.shape;
  if (a.size() < 2 || b.size() < 2 || c.size() < 2) {
    return absl::InvalidArgumentError("matmul needs operands of rank >= 2");
  }
  const DType p = k.output.dtype;
  if (k.inputs[0].dtype == v1::DTYPE_BOOL || k.inputs[1].dtype == v1::DTYPE_BOOL) {
    return absl::InvalidArgumentError("matmul refuses bool operands");
  }
  // f16/bf16 operands are converted to f32 and the f32 result rounded once, as on the host.
  const DType cd = narrow(p) ? v1::DTYPE_F32 : p;
  const int64_t m = a[a.size() - 2], kk = a[a.size() - 1], n = b[b.size() - 1];
  const Shape batch(c.begin(), c.end() - 2);
  const Shape a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  std::vector<int64_t> sa = broadcast_strides(a_batch, batch);
  std::vector<int64_t> sb = broadcast_strides(b_batch, batch);
  for (auto& s : sa) s *= m * kk;
  for (auto& s : sb) s *= kk * n;
  const int64_t batches = num_elements(batch);
  HipKernelSource src;
  if (batches * m * n == 0) return src;
  const std::string t = ctype(cd), u = wrap_type(cd);
  // Integer products and sums wrap; float ones accumulate in the compute type.
  const std::string fma = is_floating(cd)
                              ? "acc += as[ty][q] * bs[q][tx];"
                              : absl::StrCat("acc = tg_add<", t, ", ", u, ">(acc, tg_mul<", t,
                                             ", ", u, ">(as[ty][q], bs[q][tx]));");
  std::string batch_code;
  if (batch.empty()) {
    batch_code = "  long long o0 = 0, o1 = 0;\n";
  } else {
    // Strides over the batch index for a and b, computed from the broadcast batch shape.
    batch_code = offsets("bz", batch, {sa, sb});
  }
  // Each operand is converted to the result type first, then widened exactly to `cd`.
  auto operand = [&](const std::string& x, DType from) {
    return narrow(p) ? load(convert(x, from, p), p) : convert(x, from, cd);
  };
  const std::string a_elem =
      operand(absl::StrCat("in0[o0 + row * ", kk, "LL + t0 + tx]"), k.inputs[0].dtype);
  const std::string b_elem =
      operand(absl::StrCat("in1[o1 + (t0 + ty) * ", n, "LL + col]"), k.inputs[1].dtype);
  src.source = absl::StrCat(
      kPrelude, "#define TILE ", kTile, "\nextern \"C\" __global__ void tg_kernel(",
      params(k, false), ") {\n  __shared__ ", t, " as[TILE][TILE];\n  __shared__ ", t,
      " bs[TILE][TILE];\n", "  const long long bz = blockIdx.z;\n", batch_code,
      "  const int tx = threadIdx.x, ty = threadIdx.y;\n",
      "  const long long row = (long long)blockIdx.y * TILE + ty;\n",
      "  const long long col = (long long)blockIdx.x * TILE + tx;\n", "  ", t, " acc = 0;\n",
      "  for (long long t0 = 0; t0 < ", kk, "LL; t0 += TILE) {\n", "    as[ty][tx] = (row < ", m,
      "LL && t0 + tx < ", kk, "LL) ? (", t, ")", a_elem, " : (", t, ")0;\n",
      "    bs[ty][tx] = (t0 + ty < ", kk, "LL && col < ", n, "LL) ? (", t, ")", b_elem, " : (",
      t, ")0;\n", "    __syncthreads();\n", "    for (int q = 0; q < TILE; ++q) ", fma, "\n",
      "    __syncthreads();\n  }\n", "  if (row < ", m, "LL && col < ", n, "LL) out[bz * ",
      m * n, "LL + row * ", n, "LL + col] = ", convert("acc", cd, p), ";\n}\n");
  src.grid[0] = static_cast<uint32_t>((n + kTile - 1) / kTile);
  src.grid[1] = static_cast<uint32_t>((m + kTile - 1) / kTile);
  src.grid[2] = static_cast<uint32_t>(batches);
  src.block[0] = kTile;
  src.block[1] = kTile;
  return src;
}

// Reshape, expand, permute and slice: out[i] = in0[start + offset of i under `strides`].
absl::StatusOr<HipKernelSource> movement(const Kernel& k) {
  const Shape& in = k.inputs[0].shape;
  const Shape& out = k.output.shape;
  if (k.inputs[0].dtype != k.output.dtype) return absl::InternalError("movement changes dtype");
  const std::vector<int64_t> own = strides_of(in);
  std::vector<int64_t> strides;
  int64_t start = 0;
  switch (k.node->op()) {
    case v1::OP_RESHAPE: strides = strides_of(out); break;  // Same elements, same order.
    case v1::OP_EXPAND: strides = broadcast_strides(in, out); break;
    case v1::OP_PERMUTE:
      if (static_cast<size_t>(k.node->axes_size()) != in.size()) {
        return absl::InvalidArgumentError("permute axes do not match the input rank");
      }
      for (int64_t axis : k.node->axes()) strides.push_back(own[axis]);
      break;
    case v1::OP_SLICE: {
      auto dims = slice_dims(*k.node, in);
      if (!dims.ok()) return dims.status();
      for (size_t d = 0; d < dims->size(); ++d) {
        const SliceDim& s = (*dims)[d];
        strides.push_back(s.size > 1 ? own[d] * s.step : 0);
        if (s.size > 0) start += s.start * own[d];
      }
      break;
    }
    default: return absl::InternalError("not a movement op");
  }
  const std::string at = start == 0 ? "o0" : absl::StrCat(start, "LL + o0");
  return elementwise(k, absl::StrCat(offsets("i", out, {strides}), "  out[i] = in0[", at, "];\n"));
}

// Each output element is the fill value or the input element `pad_before` back along every
// dim. The fill is the f64 pad_value cast to the dtype on the device, as the host casts it.
absl::StatusOr<HipKernelSource> pad(const Kernel& k) {
  const Shape& in = k.inputs[0].shape;
  const Shape& out = k.output.shape;
  const DType d = k.output.dtype;
  if (k.inputs[0].dtype != d) return absl::InternalError("pad changes dtype");
  if (static_cast<size_t>(k.node->pad_before_size()) != in.size() || out.size() != in.size()) {
    return absl::InvalidArgumentError("pad_before does not match the input rank");
  }
  const std::vector<int64_t> own = strides_of(in);
  std::string body = "  long long r = i, o0 = 0;\n  bool inside = true;\n";
  for (int dim = static_cast<int>(out.size()) - 1; dim >= 0; --dim) {
    const int64_t before = k.node->pad_before(dim);
    absl::StrAppend(&body, "  { long long c = r % ", out[dim], "LL - ", before, "LL; r /= ",
                    out[dim], "LL;");
    if (out[dim] != in[dim]) absl::StrAppend(&body, " inside = inside && c >= 0 && c < ", in[dim], "LL;");
    absl::StrAppend(&body, " o0 += c * ", own[dim], "LL; }\n");
  }
  const double value = k.node->pad_value();
  const std::string fill = convert(
      absl::StrFormat("__builtin_bit_cast(double, 0x%016xULL)", absl::bit_cast<uint64_t>(value)),
      v1::DTYPE_F64, d);
  absl::StrAppend(&body, "  out[i] = inside ? in0[o0] : ", fill, ";\n");
  return elementwise(k, body);
}

// Each output element comes from the input whose range along the axis holds it, converted to
// the promoted output dtype.
absl::StatusOr<HipKernelSource> concat(const Kernel& k) {
  const Shape& out = k.output.shape;
  auto axis = concat_axis(*k.node, static_cast<int>(out.size()));
  if (!axis.ok()) return axis.status();
  int64_t inner = 1;
  for (size_t d = *axis + 1; d < out.size(); ++d) inner *= out[d];
  const int64_t length = out[*axis];
  std::string body = absl::StrCat("  const long long inner = i % ", inner,
                                  "LL;\n  const long long pos = (i / ", inner, "LL) % ", length,
                                  "LL;\n  const long long outer = i / ", inner * length,
                                  "LL;\n  ");
  int64_t start = 0;
  std::string unused;
  for (size_t j = 0; j < k.inputs.size(); ++j) {
    const TensorType& t = k.inputs[j];
    if (t.shape.size() != out.size()) return absl::InvalidArgumentError("concat ranks differ");
    const int64_t len = t.shape[*axis];
    if (len == 0) {  // Contributes nothing.
      absl::StrAppend(&unused, "  (void)in", j, ";\n");
      continue;
    }
    const std::string element = convert(
        absl::StrCat("in", j, "[(outer * ", len, "LL + pos - ", start, "LL) * ", inner,
                     "LL + inner]"),
        t.dtype, k.output.dtype);
    absl::StrAppend(&body, "if (pos < ", start + len, "LL) out[i] = ", element, ";\n  else ");
    start += len;
  }
  absl::StrAppend(&body, "{}\n");
  return elementwise(k, unused + body);
}

}  // namespace

absl::StatusOr<HipKernelSource> generate_hip_kernel(const Kernel& k) {
  if (k.node == nullptr) return absl::InvalidArgumentError("hip backend: kernel without a node");
  const v1::OpKind op = k.node->op();
  if (op == v1::OP_INPUT || op == v1::OP_CONSTANT) {
    return absl::UnimplementedError(
        unsupported(k, k.output.dtype, "kernel (leaves are uploaded, not computed)"));
  }
  if (auto s = check_dtypes(k); !s.ok()) return s;
  const size_t arity = k.inputs.size();
  if (is_unary_op(op) && arity == 1) return unary(k);
  if (is_binary_op(op) && arity == 2) return binary(k);
  if (op == v1::OP_WHERE && arity == 3) return where(k);
  if (op == v1::OP_CAST && arity == 1) return cast(k);
  if (is_reduction_op(op) && arity == 1) return reduce(k);
  if (op == v1::OP_MATMUL && arity == 2) return matmul(k);
  if ((op == v1::OP_RESHAPE || op == v1::OP_EXPAND || op == v1::OP_PERMUTE ||
       op == v1::OP_SLICE) &&
      arity == 1) {
    return movement(k);
  }
  if (op == v1::OP_PAD && arity == 1) return pad(k);
  if (op == v1::OP_CONCAT && arity >= 1) return concat(k);
  return absl::UnimplementedError(
      unsupported(k, k.output.dtype, absl::StrCat("with ", arity, " inputs")));
}

}  // namespace tg
