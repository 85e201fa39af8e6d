#include "reference.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <absl/strings/str_cat.h>

#include "devices/dtype.h"

namespace tg::differential {
namespace {

namespace v1 = tgrack::v1;
using Index = std::vector<int64_t>;
using Wide = unsigned __int128;  // Integer sums and products wrap modulo 2^128, then 2^width.

int64_t count_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Index index_of(int64_t flat, const Shape& shape) {
  Index index(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

int64_t flat_of(const Index& index, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

// The element of a tensor of shape `in` that broadcasts to `out_index` (shapes right-aligned).
int64_t broadcast_source(const Index& out_index, const Shape& in) {
  const size_t shift = out_index.size() - in.size();
  int64_t flat = 0;
  for (size_t d = 0; d < in.size(); ++d) flat = flat * in[d] + (in[d] == 1 ? 0 : out_index[d + shift]);
  return flat;
}

Shape broadcast_shape(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    for (size_t d = 0; d < s.size(); ++d) {
      int64_t& o = out[rank - s.size() + d];
      if (s[d] != 1) o = s[d];  // Valid graphs only: the dims agree or one is 1.
    }
  }
  return out;
}

RefTensor make(DType dtype, const Shape& shape) {
  RefTensor r;
  r.dtype = dtype;
  r.shape = shape;
  const int64_t n = count_of(shape);
  r.value.assign(n, 0);
  r.exact.assign(n, 0);
  r.magnitude.assign(n, 0);
  return r;
}

// Stores the exact result `exact` (of magnitude `magnitude`) rounded once to the dtype.
void store(RefTensor& r, int64_t i, long double exact, long double magnitude) {
  r.exact[i] = exact;
  r.value[i] = is_floating(r.dtype) ? round_to_float(r.dtype, exact) : exact;
  r.magnitude[i] = magnitude;
}

// A tensor of `shape` whose element i is element source(i) of `in` (or `fill` where -1).
RefTensor gather(const RefTensor& in, const Shape& shape,
                 const std::function<int64_t(const Index&)>& source, long double fill = 0) {
  RefTensor r = make(in.dtype, shape);
  r.op = in.op;
  r.terms = in.terms;
  for (int64_t i = 0; i < r.elements(); ++i) {
    const int64_t s = source(index_of(i, shape));
    r.value[i] = s < 0 ? fill : in.value[s];
    r.exact[i] = s < 0 ? fill : in.exact[s];
    r.magnitude[i] = s < 0 ? std::fabs(fill) : in.magnitude[s];
  }
  return r;
}

// Inputs converted to `dtype` first, as the IR promises for promoting ops.
RefTensor converted(const RefTensor& in, DType dtype) {
  RefTensor r = in;
  r.dtype = dtype;
  for (int64_t i = 0; i < r.elements(); ++i) {
    r.value[i] = r.exact[i] = convert(in.dtype, dtype, in.value[i]);
    r.magnitude[i] = std::fabs(r.value[i]);
  }
  return r;
}

absl::Status invalid(const std::string& node, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("node '", node, "'", " ", what));
}

long double unary_exact(v1::OpKind op, DType dtype, long double x) {
  switch (op) {
    case v1::OP_NEG: return is_integer(dtype) ? wrap_integer(dtype, -static_cast<__int128>(x)) : -x;
    case v1::OP_RELU: return x < 0 ? 0 : x;
    case v1::OP_EXP: return std::exp(x);
    case v1::OP_LOG: return std::log(x);
    case v1::OP_SQRT: return std::sqrt(x);
    case v1::OP_TANH: return std::tanh(x);
    default: return 1 / (1 + std::exp(-x));  // Sigmoid.
  }
}

__int128 floor_divide(__int128 a, __int128 b) {
  __int128 q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// Integer power modulo 2^128 by repeated squaring; wrap_integer then reduces it to 2^width.
Wide integer_power(Wide base, __int128 exponent) {
  Wide result = 1;
  for (; exponent > 0; exponent >>= 1) {
    if (exponent & 1) result *= base;
    base *= base;
  }
  return result;
}

absl::StatusOr<RefTensor> binary(const v1::Node& node, const RefTensor& a0, const RefTensor& b0) {
  const v1::OpKind op = node.op();
  const DType p = promote(a0.dtype, b0.dtype);
  const RefTensor a = converted(a0, p), b = converted(b0, p);
  const bool comparison = op >= v1::OP_EQ && op <= v1::OP_GE;
  RefTensor r = make(comparison ? v1::DTYPE_BOOL : p, broadcast_shape({a.shape, b.shape}));
  r.op = op;
  for (int64_t i = 0; i < r.elements(); ++i) {
    const Index at = index_of(i, r.shape);
    const long double x = a.value[broadcast_source(at, a.shape)];
    const long double y = b.value[broadcast_source(at, b.shape)];
    long double z = 0;
    const bool integer = is_integer(p);
    const __int128 ix = integer ? static_cast<__int128>(x) : 0, iy = integer ? static_cast<__int128>(y) : 0;
    switch (op) {
      case v1::OP_ADD: z = integer ? wrap_integer(p, ix + iy) : x + y; break;
      case v1::OP_SUB: z = integer ? wrap_integer(p, ix - iy) : x - y; break;
      case v1::OP_MUL: z = integer ? wrap_integer(p, ix * iy) : x * y; break;
      case v1::OP_DIV:
        if (integer && iy == 0) return invalid(node.name(), "integer division by zero");
        z = integer ? wrap_integer(p, floor_divide(ix, iy)) : x / y;
        break;
      case v1::OP_POW:
        if (integer && iy < 0) return invalid(node.name(), "integer to a negative integer power");
        z = integer ? wrap_integer(p, static_cast<__int128>(integer_power(static_cast<Wide>(ix), iy)))
                    : std::pow(x, y);
        break;
      case v1::OP_MAX: z = std::isnan(x) || std::isnan(y) ? NAN : (y > x ? y : x); break;
      case v1::OP_MIN: z = std::isnan(x) || std::isnan(y) ? NAN : (y < x ? y : x); break;
      case v1::OP_EQ: z = x == y; break;
      case v1::OP_NE: z = x != y; break;
      case v1::OP_LT: z = x < y; break;
      case v1::OP_LE: z = x <= y; break;
      case v1::OP_GT: z = x > y; break;
      default: z = x >= y; break;  // OP_GE
    }
    store(r, i, z, std::fabs(z));
  }
  return r;
}

RefTensor where(const RefTensor& c, const RefTensor& t0, const RefTensor& e0) {
  const DType d = promote(t0.dtype, e0.dtype);
  const RefTensor t = converted(t0, d), e = converted(e0, d);
  RefTensor r = make(d, broadcast_shape({c.shape, t.shape, e.shape}));
  r.op = v1::OP_WHERE;
  for (int64_t i = 0; i < r.elements(); ++i) {
    const Index at = index_of(i, r.shape);
    const long double v = c.value[broadcast_source(at, c.shape)] != 0
                              ? t.value[broadcast_source(at, t.shape)]
                              : e.value[broadcast_source(at, e.shape)];
    store(r, i, v, std::fabs(v));
  }
  return r;
}

std::vector<int> reduced_axes(const v1::Node& node, int rank) {
  std::vector<int> axes;
  for (int64_t a : node.axes()) axes.push_back(static_cast<int>(a < 0 ? a + rank : a));
  if (axes.empty()) {
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  }
  return axes;
}

absl::StatusOr<RefTensor> reduce(const v1::Node& node, const RefTensor& in) {
  const v1::OpKind op = node.op();
  const int rank = static_cast<int>(in.shape.size());
  const std::vector<int> axes = reduced_axes(node, rank);
  std::vector<bool> reduced(rank, false);
  for (int a : axes) reduced[a] = true;
  Shape kept, out_shape;
  for (int d = 0; d < rank; ++d) {
    if (!reduced[d]) kept.push_back(in.shape[d]);
    if (!reduced[d] || node.keepdims()) out_shape.push_back(reduced[d] ? 1 : in.shape[d]);
  }
  const bool extremum = op == v1::OP_REDUCE_MAX || op == v1::OP_REDUCE_MIN;
  for (int a : axes) {
    if (extremum && in.shape[a] == 0) return invalid(node.name(), "over empty axis");
  }
  DType out_dtype = in.dtype;
  if (op == v1::OP_SUM && in.dtype == v1::DTYPE_BOOL) out_dtype = v1::DTYPE_I64;
  RefTensor r = make(out_dtype, out_shape);
  r.op = op;
  r.terms = count_of(in.shape) / std::max<int64_t>(count_of(kept), 1);
  std::vector<std::vector<long double>> groups(count_of(kept));
  for (int64_t i = 0; i < in.elements(); ++i) {
    const Index at = index_of(i, in.shape);
    Index k;
    for (int d = 0; d < rank; ++d) {
      if (!reduced[d]) k.push_back(at[d]);
    }
    groups[flat_of(k, kept)].push_back(in.value[i]);
  }
  for (int64_t g = 0; g < r.elements(); ++g) {
    const std::vector<long double>& xs = groups[g];
    long double sum = 0, magnitude = 0;
    Wide wide = 0;
    for (long double x : xs) {
      sum += x;
      magnitude += std::fabs(x);
      wide += static_cast<Wide>(static_cast<__int128>(x));
    }
    long double z;
    if (op == v1::OP_SUM) {
      z = is_floating(in.dtype) ? sum : wrap_integer(out_dtype, static_cast<__int128>(wide));
    } else if (op == v1::OP_MEAN) {
      const long double n = static_cast<long double>(xs.size());
      z = sum / n;  // Empty: 0 / 0 = NaN.
      magnitude = xs.empty() ? 0 : magnitude / n;
    } else {
      z = xs.front();
      for (long double x : xs) {
        if (std::isnan(z) || std::isnan(x)) {
          z = NAN;
          break;
        }
        z = op == v1::OP_REDUCE_MAX ? std::max(z, x) : std::min(z, x);
      }
      magnitude = std::fabs(z);
    }
    store(r, g, z, magnitude);
  }
  return r;
}

RefTensor matmul(const RefTensor& a0, const RefTensor& b0) {
  const DType p = promote(a0.dtype, b0.dtype);
  const RefTensor a = converted(a0, p), b = converted(b0, p);
  const size_t ra = a.shape.size(), rb = b.shape.size();
  const int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
  const Shape batch_a(a.shape.begin(), a.shape.end() - 2), batch_b(b.shape.begin(), b.shape.end() - 2);
  Shape shape = broadcast_shape({batch_a, batch_b});
  const Shape batch = shape;
  shape.push_back(m);
  shape.push_back(n);
  RefTensor r = make(p, shape);
  r.op = v1::OP_MATMUL;
  r.terms = k;
  for (int64_t i = 0; i < r.elements(); ++i) {
    const Index at = index_of(i, shape);
    const Index batch_at(at.begin(), at.end() - 2);
    const int64_t row = at[at.size() - 2], col = at.back();
    const int64_t base_a = broadcast_source(batch_at, batch_a) * m * k;
    const int64_t base_b = broadcast_source(batch_at, batch_b) * k * n;
    long double sum = 0, magnitude = 0;
    Wide wide = 0;
    for (int64_t q = 0; q < k; ++q) {
      const long double x = a.value[base_a + row * k + q], y = b.value[base_b + q * n + col];
      sum += x * y;
      magnitude += std::fabs(x * y);
      if (is_integer(p)) {
        wide += static_cast<Wide>(static_cast<__int128>(x)) * static_cast<Wide>(static_cast<__int128>(y));
      }
    }
    store(r, i, is_integer(p) ? wrap_integer(p, static_cast<__int128>(wide)) : sum, magnitude);
  }
  return r;
}

RefTensor movement(const v1::Node& node, const std::vector<const RefTensor*>& in) {
  const RefTensor& x = *in[0];
  const Shape& s = x.shape;
  const int rank = static_cast<int>(s.size());
  switch (node.op()) {
    case v1::OP_RESHAPE: {
      Shape shape(node.shape().begin(), node.shape().end());
      int64_t known = 1;
      for (int64_t d : shape) known *= d == -1 ? 1 : d;
      for (int64_t& d : shape) {
        if (d == -1) d = count_of(s) / known;
      }
      return gather(x, shape, [&](const Index& at) { return flat_of(at, shape); });
    }
    case v1::OP_PERMUTE: {
      Shape shape;
      for (int64_t a : node.axes()) shape.push_back(s[a]);
      return gather(x, shape, [&](const Index& at) {
        Index src(rank);
        for (int d = 0; d < rank; ++d) src[node.axes(d)] = at[d];
        return flat_of(src, s);
      });
    }
    case v1::OP_EXPAND: {
      const Shape shape(node.shape().begin(), node.shape().end());
      return gather(x, shape, [&](const Index& at) { return broadcast_source(at, s); });
    }
    case v1::OP_SLICE: {
      Shape shape;
      std::vector<int64_t> starts, steps;
      for (int d = 0; d < rank; ++d) {
        auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + s[d] : v, 0, s[d]); };
        const int64_t start = clamp(node.starts(d)), end = clamp(node.ends(d));
        const int64_t step = node.steps().empty() ? 1 : node.steps(d);
        starts.push_back(start);
        steps.push_back(step);
        shape.push_back(end > start ? (end - start + step - 1) / step : 0);
      }
      return gather(x, shape, [&](const Index& at) {
        Index src(rank);
        for (int d = 0; d < rank; ++d) src[d] = starts[d] + at[d] * steps[d];
        return flat_of(src, s);
      });
    }
    case v1::OP_PAD: {
      Shape shape;
      for (int d = 0; d < rank; ++d) shape.push_back(node.pad_before(d) + s[d] + node.pad_after(d));
      return gather(
          x, shape,
          [&](const Index& at) -> int64_t {
            Index src(rank);
            for (int d = 0; d < rank; ++d) {
              src[d] = at[d] - node.pad_before(d);
              if (src[d] < 0 || src[d] >= s[d]) return -1;
            }
            return flat_of(src, s);
          },
          convert(v1::DTYPE_F64, x.dtype, node.pad_value()));
    }
    default: {  // OP_CONCAT: inputs promoted to one dtype, joined along the axis.
      const int axis = static_cast<int>(node.axis() < 0 ? node.axis() + rank : node.axis());
      DType d = in[0]->dtype;
      for (const RefTensor* t : in) d = promote(d, t->dtype);
      RefTensor joined = make(d, {});
      joined.shape = s;
      joined.shape[axis] = 0;
      for (const RefTensor* t : in) joined.shape[axis] += t->shape[axis];
      joined = make(d, joined.shape);
      joined.op = x.op;
      for (int64_t i = 0; i < joined.elements(); ++i) {
        Index at = index_of(i, joined.shape);
        for (const RefTensor* t : in) {
          if (at[axis] < t->shape[axis]) {
            const int64_t src = flat_of(at, t->shape);
            joined.value[i] = joined.exact[i] = convert(t->dtype, d, t->value[src]);
            joined.magnitude[i] = std::fabs(joined.value[i]);
            break;
          }
          at[axis] -= t->shape[axis];
        }
      }
      return joined;
    }
  }
}

}  // namespace

DType promote(DType a, DType b) {
  auto rank = [](DType d) {
    switch (d) {
      case v1::DTYPE_BOOL: return 0;
      case v1::DTYPE_I32: return 1;
      case v1::DTYPE_I64: return 2;
      case v1::DTYPE_F16:
      case v1::DTYPE_BF16: return 3;
      case v1::DTYPE_F32: return 4;
      default: return 5;
    }
  };
  if (a == b) return a;
  if (rank(a) == 3 && rank(b) == 3) return v1::DTYPE_F32;
  return rank(a) >= rank(b) ? a : b;
}

absl::StatusOr<std::vector<RefTensor>> evaluate(const v1::Graph& graph,
                                                const std::map<std::string, HostTensor>& feeds) {
  std::map<std::string, RefTensor> values;
  for (const v1::Node& node : graph.nodes()) {  // The generator lists nodes in order.
    std::vector<const RefTensor*> in;
    for (const std::string& name : node.inputs()) in.push_back(&values.at(name));
    RefTensor out;
    const v1::OpKind op = node.op();
    if (op == v1::OP_INPUT) {
      out = from_host(feeds.at(node.name()));
    } else if (op == v1::OP_CONSTANT) {
      auto tensor = HostTensor::from_proto(node.value(), node.name());
      if (!tensor.ok()) return tensor.status();
      out = from_host(*tensor);
    } else if (op >= v1::OP_NEG && op <= v1::OP_TANH) {
      out = make(in[0]->dtype, in[0]->shape);
      out.op = op;
      for (int64_t i = 0; i < out.elements(); ++i) {
        const long double z = unary_exact(op, out.dtype, in[0]->value[i]);
        store(out, i, z, std::fabs(z));
      }
    } else if (op >= v1::OP_ADD && op <= v1::OP_GE) {
      auto r = binary(node, *in[0], *in[1]);
      if (!r.ok()) return r.status();
      out = *std::move(r);
    } else if (op == v1::OP_WHERE) {
      out = where(*in[0], *in[1], *in[2]);
    } else if (op == v1::OP_CAST) {
      out = make(node.dtype(), in[0]->shape);
      out.op = op;
      for (int64_t i = 0; i < out.elements(); ++i) {
        const long double z = convert(in[0]->dtype, out.dtype, in[0]->value[i]);
        out.value[i] = out.exact[i] = z;
        out.magnitude[i] = std::fabs(z);
      }
    } else if (op >= v1::OP_SUM && op <= v1::OP_MEAN) {
      auto r = reduce(node, *in[0]);
      if (!r.ok()) return r.status();
      out = *std::move(r);
    } else if (op == v1::OP_MATMUL) {
      out = matmul(*in[0], *in[1]);
    } else {
      out = movement(node, in);
    }
    values[node.name()] = std::move(out);
  }
  std::vector<RefTensor> outputs;
  for (const std::string& name : graph.outputs()) outputs.push_back(values.at(name));
  return outputs;
}

}  // namespace tg::differential
