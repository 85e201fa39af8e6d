#include "devices/hip/hip_kernels.h"

#include <algorithm>
#include <vector>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "devices/graph/type_rules.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

constexpr uint32_t kThreads = 256;
constexpr int kTile = 16;

// Helpers every kernel may use. Integer arithmetic goes through the unsigned type so that
// overflow wraps (signed overflow is undefined in C++); max/min propagate NaN.
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
template <class T> __device__ inline T tg_max(T a, T b) { return (a != a || a > b) ? a : b; }
template <class T> __device__ inline T tg_min(T a, T b) { return (a != a || a < b) ? a : b; }
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
)";

std::string name_of(DType d) { return std::string(dtype_name(d)); }

std::string unsupported(const Kernel& k, std::string_view why) {
  return absl::StrCat("hip backend: ", op_name(k.node->op()), " ", std::string(why),
                      ": not supported yet");
}

// C type of a dtype, or "" when the generator does not handle it.
std::string ctype(DType d) {
  switch (d) {
    case v1::DTYPE_F32: return "float";
    case v1::DTYPE_F64: return "double";
    case v1::DTYPE_I32: return "int";
    case v1::DTYPE_I64: return "long long";
    case v1::DTYPE_BOOL: return "unsigned char";
    default: return "";
  }
}

// Unsigned type for wrapping arithmetic in `d` (the type itself for floats).
std::string wrap_type(DType d) {
  switch (d) {
    case v1::DTYPE_I32: return "unsigned int";
    case v1::DTYPE_I64: return "unsigned long long";
    case v1::DTYPE_BOOL: return "unsigned char";
    default: return ctype(d);
  }
}

bool floating(DType d) { return d == v1::DTYPE_F32 || d == v1::DTYPE_F64; }

absl::Status check_dtypes(const Kernel& k) {
  std::vector<DType> all;
  for (const TensorType& t : k.inputs) all.push_back(t.dtype);
  all.push_back(k.output.dtype);
  for (DType d : all) {
    if (ctype(d).empty()) {
      return absl::UnimplementedError(unsupported(k, absl::StrCat("on ", name_of(d))));
    }
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
  absl::StrAppend(&code, "  long long r = ", index, ";\n");
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    absl::StrAppend(&code, "  { long long c = r % ", dims[d], "LL; r /= ", dims[d], "LL;");
    for (size_t j = 0; j < strides.size(); ++j) {
      if (!direct[j] && strides[j][d] != 0) {
        absl::StrAppend(&code, " o", j, " += c * ", strides[j][d], "LL;");
      }
    }
    absl::StrAppend(&code, " }\n");
  }
  return code;
}

std::string params(const Kernel& k) {
  std::vector<std::string> p;
  for (size_t i = 0; i < k.inputs.size(); ++i) {
    p.push_back(absl::StrCat("const ", ctype(k.inputs[i].dtype), "* __restrict__ in", i));
  }
  p.push_back(absl::StrCat(ctype(k.output.dtype), "* __restrict__ out"));
  return absl::StrJoin(p, ", ");
}

// One thread per output element: `body` sees the flat index `i` and writes out[i].
HipKernelSource elementwise(const Kernel& k, const std::string& body) {
  HipKernelSource src;
  const int64_t n = k.output.elements();
  if (n == 0) return src;
  src.source = absl::StrCat(kPrelude, "extern \"C\" __global__ void tg_kernel(", params(k),
                            ") {\n  const long long i = (long long)blockIdx.x * ", kThreads,
                            " + threadIdx.x;\n  if (i >= ", n, "LL) return;\n", body, "}\n");
  src.grid[0] = static_cast<uint32_t>((n + kThreads - 1) / kThreads);
  src.block[0] = kThreads;
  return src;
}

absl::StatusOr<HipKernelSource> unary(const Kernel& k) {
  const DType d = k.output.dtype;
  const std::string t = ctype(d), u = wrap_type(d);
  std::string expr;
  switch (k.node->op()) {
    case v1::OP_NEG: expr = floating(d) ? "-x" : absl::StrCat("tg_neg<", t, ", ", u, ">(x)"); break;
    case v1::OP_RELU: expr = absl::StrCat("x < (", t, ")0 ? (", t, ")0 : x"); break;
    case v1::OP_EXP: expr = "tg_exp(x)"; break;
    case v1::OP_LOG: expr = "tg_log(x)"; break;
    case v1::OP_SQRT: expr = "tg_sqrt(x)"; break;
    case v1::OP_TANH: expr = "tg_tanh(x)"; break;
    case v1::OP_SIGMOID: expr = absl::StrCat("(", t, ")1 / ((", t, ")1 + tg_exp(-x))"); break;
    default: return absl::InternalError("not a unary op");
  }
  const bool float_only = k.node->op() != v1::OP_NEG && k.node->op() != v1::OP_RELU;
  if (d == v1::DTYPE_BOOL || (float_only && !floating(d))) {
    return absl::InvalidArgumentError(
        absl::StrCat(op_name(k.node->op()), " on ", name_of(d), " is not a valid op"));
  }
  return elementwise(k, absl::StrCat("  const ", t, " x = in0[i];\n  out[i] = ", expr, ";\n"));
}

absl::StatusOr<HipKernelSource> binary(const Kernel& k) {
  const DType p = promote_types(k.inputs[0].dtype, k.inputs[1].dtype);
  const std::string t = ctype(p), u = wrap_type(p);
  const v1::OpKind op = k.node->op();
  std::string expr;
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
    case v1::OP_DIV: expr = "a / b"; break;
    case v1::OP_POW: expr = "tg_pow(a, b)"; break;
    default: return absl::InternalError("not a binary op");
  }
  if ((op == v1::OP_DIV || op == v1::OP_POW) && !floating(p)) {
    return absl::UnimplementedError(unsupported(k, absl::StrCat("on ", name_of(p))));
  }
  if (p == v1::DTYPE_BOOL && op != v1::OP_MAX && op != v1::OP_MIN && !is_comparison_op(op)) {
    return absl::InvalidArgumentError(
        absl::StrCat(op_name(op), " needs at least one non-bool operand"));
  }
  const Shape& out = k.output.shape;
  std::string body = offsets("i", out, {broadcast_strides(k.inputs[0].shape, out),
                                        broadcast_strides(k.inputs[1].shape, out)});
  absl::StrAppend(&body, "  const ", t, " a = (", t, ")in0[o0];\n  const ", t, " b = (", t,
                  ")in1[o1];\n  out[i] = (", ctype(k.output.dtype), ")(", expr, ");\n");
  return elementwise(k, body);
}

// Conversion of `x` (of dtype `from`) to `to`, per the cast rules.
std::string convert(const std::string& x, DType from, DType to) {
  const std::string t = ctype(to);
  if (to == v1::DTYPE_BOOL) return absl::StrCat("(unsigned char)(", x, " != 0)");
  if (from == v1::DTYPE_BOOL || floating(to)) return absl::StrCat("(", t, ")", x);
  if (floating(from)) {
    const std::string f = ctype(from);
    // Bounds exactly representable in the float type: -2^31 / 2^31 and -2^63 / 2^63.
    const std::string lo = to == v1::DTYPE_I32 ? "-2147483648.0" : "-9223372036854775808.0";
    const std::string hi = to == v1::DTYPE_I32 ? "2147483648.0" : "9223372036854775808.0";
    const std::string ilo =
        to == v1::DTYPE_I32 ? "(-2147483647 - 1)" : "(-9223372036854775807LL - 1)";
    const std::string ihi = to == v1::DTYPE_I32 ? "2147483647" : "9223372036854775807LL";
    return absl::StrCat("tg_f2i<", t, ", ", f, ">(", x, ", (", f, ")", lo, ", (", f, ")", hi,
                        ", ", ilo, ", ", ihi, ")");
  }
  return absl::StrCat("(", t, ")(", wrap_type(to), ")", x);  // Integer narrowing wraps.
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
  const std::string t = ctype(d), out_t = ctype(k.output.dtype);
  if ((op == v1::OP_REDUCE_MAX || op == v1::OP_REDUCE_MIN) && count == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(op_name(op), " over an empty dim has no value"));
  }
  if (op == v1::OP_MEAN && !floating(d)) {
    return absl::InvalidArgumentError("mean needs a floating input");
  }
  // Accumulator: f64 for floats (sum, mean), unsigned 64-bit (wrapping) for integer and bool
  // sums, the element type for max/min.
  std::string acc_t, init, step;
  if (op == v1::OP_SUM || op == v1::OP_MEAN) {
    acc_t = floating(d) ? "double" : "unsigned long long";
    init = "0";
    step = absl::StrCat("acc += (", acc_t, ")x;");
  } else {
    acc_t = t;
    init = "in0[base]";
    step = op == v1::OP_REDUCE_MAX ? "acc = tg_max(acc, x);" : "acc = tg_min(acc, x);";
  }
  std::string body = offsets("i", kept, {kept_strides});
  absl::StrAppend(&body, "  const long long base = o0;\n  ", acc_t, " acc = ", init, ";\n",
                  "  for (long long j = 0; j < ", count, "LL; ++j) {\n  ",
                  offsets("j", reduced, {reduced_strides}), "    const ", t,
                  " x = in0[base + o0];\n    ", step, "\n  }\n");
  if (op == v1::OP_MEAN) {
    absl::StrAppend(&body, "  out[i] = (", out_t, ")(acc / (double)", count, "LL);\n");
  } else {
    absl::StrAppend(&body, "  out[i] = (", out_t, ")acc;\n");
  }
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
  if (p == v1::DTYPE_BOOL) return absl::InvalidArgumentError("matmul refuses bool operands");
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
  const std::string t = ctype(p), u = wrap_type(p);
  // Integer products and sums wrap; float ones accumulate in the element type.
  const std::string fma = floating(p) ? "acc += as[ty][q] * bs[q][tx];"
                                      : absl::StrCat("acc = tg_add<", t, ", ", u, ">(acc, tg_mul<",
                                                     t, ", ", u, ">(as[ty][q], bs[q][tx]));");
  std::string batch_code;
  if (batch.empty()) {
    batch_code = "  long long o0 = 0, o1 = 0;\n";
  } else {
    // Strides over the batch index for a and b, computed from the broadcast batch shape.
    batch_code = offsets("bz", batch, {sa, sb});
  }
  src.source = absl::StrCat(
      kPrelude, "#define TILE ", kTile, "\nextern \"C\" __global__ void tg_kernel(", params(k),
      ") {\n  __shared__ ", t, " as[TILE][TILE];\n  __shared__ ", t, " bs[TILE][TILE];\n",
      "  const long long bz = blockIdx.z;\n", batch_code,
      "  const int tx = threadIdx.x, ty = threadIdx.y;\n",
      "  const long long row = (long long)blockIdx.y * TILE + ty;\n",
      "  const long long col = (long long)blockIdx.x * TILE + tx;\n", "  ", t, " acc = 0;\n",
      "  for (long long t0 = 0; t0 < ", kk, "LL; t0 += TILE) {\n",
      "    as[ty][tx] = (row < ", m, "LL && t0 + tx < ", kk, "LL) ? (", t, ")in0[o0 + row * ", kk,
      "LL + t0 + tx] : (", t, ")0;\n",
      "    bs[ty][tx] = (t0 + ty < ", kk, "LL && col < ", n, "LL) ? (", t, ")in1[o1 + (t0 + ty) * ",
      n, "LL + col] : (", t, ")0;\n", "    __syncthreads();\n",
      "    for (int q = 0; q < TILE; ++q) ", fma, "\n", "    __syncthreads();\n  }\n",
      "  if (row < ", m, "LL && col < ", n, "LL) out[bz * ", m * n, "LL + row * ", n,
      "LL + col] = acc;\n}\n");
  src.grid[0] = static_cast<uint32_t>((n + kTile - 1) / kTile);
  src.grid[1] = static_cast<uint32_t>((m + kTile - 1) / kTile);
  src.grid[2] = static_cast<uint32_t>(batches);
  src.block[0] = kTile;
  src.block[1] = kTile;
  return src;
}

absl::StatusOr<HipKernelSource> movement(const Kernel& k) {
  const Shape& in = k.inputs[0].shape;
  const Shape& out = k.output.shape;
  if (k.inputs[0].dtype != k.output.dtype) return absl::InternalError("movement changes dtype");
  std::vector<int64_t> strides;
  switch (k.node->op()) {
    case v1::OP_RESHAPE: strides = strides_of(out); break;  // Same elements, same order.
    case v1::OP_EXPAND: strides = broadcast_strides(in, out); break;
    case v1::OP_PERMUTE: {
      const std::vector<int64_t> own = strides_of(in);
      if (static_cast<size_t>(k.node->axes_size()) != in.size()) {
        return absl::InvalidArgumentError("permute axes do not match the input rank");
      }
      for (int64_t axis : k.node->axes()) strides.push_back(own[axis]);
      break;
    }
    default: return absl::InternalError("not a movement op");
  }
  return elementwise(k, offsets("i", out, {strides}) + "  out[i] = in0[o0];\n");
}

}  // namespace

absl::StatusOr<HipKernelSource> generate_hip_kernel(const Kernel& k) {
  if (k.node == nullptr) return absl::InvalidArgumentError("hip backend: kernel without a node");
  const v1::OpKind op = k.node->op();
  switch (op) {
    case v1::OP_WHERE: case v1::OP_SLICE: case v1::OP_PAD: case v1::OP_CONCAT:
    case v1::OP_INPUT: case v1::OP_CONSTANT:
      return absl::UnimplementedError(unsupported(k, "kernel"));
    default: break;
  }
  if (auto s = check_dtypes(k); !s.ok()) return s;
  const size_t arity = k.inputs.size();
  if (is_unary_op(op) && arity == 1) return unary(k);
  if (is_binary_op(op) && arity == 2) return binary(k);
  if (op == v1::OP_CAST && arity == 1) return cast(k);
  if (is_reduction_op(op) && arity == 1) return reduce(k);
  if (op == v1::OP_MATMUL && arity == 2) return matmul(k);
  if ((op == v1::OP_RESHAPE || op == v1::OP_EXPAND || op == v1::OP_PERMUTE) && arity == 1) {
    return movement(k);
  }
  return absl::UnimplementedError(unsupported(k, absl::StrCat("with ", arity, " inputs")));
}

}  // namespace tg
