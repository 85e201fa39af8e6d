#include "generator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "client/graph_builder.h"
#include "devices/dtype.h"
#include "ref_values.h"

namespace tg::differential {
namespace {

namespace v1 = tgrack::v1;

const std::vector<DType> kAllDtypes = {v1::DTYPE_F32, v1::DTYPE_F16, v1::DTYPE_BF16, v1::DTYPE_F64,
                                       v1::DTYPE_I32, v1::DTYPE_I64, v1::DTYPE_BOOL};
const std::vector<DType> kFloatDtypes = {v1::DTYPE_F32, v1::DTYPE_F16, v1::DTYPE_BF16,
                                         v1::DTYPE_F64};
const std::vector<DType> kNumericDtypes = {v1::DTYPE_F32, v1::DTYPE_F16, v1::DTYPE_BF16,
                                           v1::DTYPE_F64, v1::DTYPE_I32, v1::DTYPE_I64};

const std::vector<v1::OpKind> kOps = {
    v1::OP_NEG,    v1::OP_EXP,     v1::OP_LOG,        v1::OP_SQRT,       v1::OP_RELU,
    v1::OP_SIGMOID, v1::OP_TANH,   v1::OP_ADD,        v1::OP_SUB,        v1::OP_MUL,
    v1::OP_DIV,    v1::OP_MAX,     v1::OP_MIN,        v1::OP_POW,        v1::OP_EQ,
    v1::OP_NE,     v1::OP_LT,      v1::OP_LE,         v1::OP_GT,         v1::OP_GE,
    v1::OP_WHERE,  v1::OP_CAST,    v1::OP_SUM,        v1::OP_REDUCE_MAX, v1::OP_REDUCE_MIN,
    v1::OP_MEAN,   v1::OP_MATMUL,  v1::OP_RESHAPE,    v1::OP_PERMUTE,    v1::OP_EXPAND,
    v1::OP_SLICE,  v1::OP_PAD,     v1::OP_CONCAT};

// How input values are drawn. Ops that sum (sum, mean, matmul) get moderate magnitudes, so
// that no partial sum overflows where the exact sum does not.
enum class Values { kAny, kModerate, kNonZero, kNonNegative };

class Generator {
 public:
  Generator(uint64_t seed, const std::vector<std::string>& nodes) : rng_(seed) {
    const int devices = uniform(2, 4);
    // Devices alternate between the two daemons: a/0, b/0, a/1, b/1.
    for (int i = 0; i < devices; ++i) {
      v1::DeviceRef d;
      d.set_node(nodes[i % 2]);
      d.set_index(static_cast<uint32_t>(i / 2));
      case_.devices.push_back(d);
    }
    case_.shards = devices * uniform(1, 2);
    case_.seed = seed;
  }

  Case build();

 private:
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& from) {
    return from[static_cast<size_t>(uniform(0, static_cast<int>(from.size()) - 1))];
  }

  int64_t dim() {
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.07) return 0;
    if (r < 0.32) return 1;
    return uniform(2, 5);
  }
  Shape shape(int rank) {
    Shape s;
    for (int i = 0; i < rank; ++i) s.push_back(dim());
    return s;
  }
  // A dim 0 that splits into the sharded run's shards (rarely 0).
  int64_t shardable_dim() { return chance(0.05) ? 0 : case_.shards * uniform(1, 2); }
  // A shape that broadcasts against `full`: some leading dims dropped, some dims set to 1.
  Shape broadcast_variant(const Shape& full) {
    const int drop = uniform(0, static_cast<int>(full.size()));
    Shape s(full.begin() + drop, full.end());
    for (int64_t& d : s) {
      if (chance(0.3)) d = 1;
    }
    return s;
  }

  long double value(DType dtype, Values kind);
  Value input(DType dtype, const Shape& shape, Values kind = Values::kAny);
  Value main_op(v1::OpKind op);
  Value movement(v1::OpKind op);

  std::mt19937_64 rng_;
  Case case_;
  GraphBuilder g_;
  std::vector<std::string> input_types_;
};

long double Generator::value(DType dtype, Values kind) {
  if (dtype == v1::DTYPE_BOOL) return chance(0.5) ? 1 : 0;
  if (is_integer(dtype)) {
    const long double lo = dtype == v1::DTYPE_I32 ? std::numeric_limits<int32_t>::min()
                                                  : std::numeric_limits<int64_t>::min();
    const long double hi = -lo - 1;
    long double v;
    if (chance(0.08)) {
      v = pick(std::vector<long double>{lo, hi, lo + 1, hi - 1, 0, 1, -1});
    } else if (chance(0.08)) {
      // 2^a + 2^b + 2^c with b just past a float precision below a: where a conversion that
      // rounds twice (through a wider float) lands on a tie and one that rounds once does not.
      const int width = dtype == v1::DTYPE_I32 ? 31 : 63;
      const int a = chance(0.5) ? uniform(width - 12, width - 1) : uniform(12, width - 1);
      const int b = std::max(0, a - pick(std::vector<int>{8, 9, 11, 12, 24, 25}));
      v = std::ldexp(1.0L, a) + std::ldexp(1.0L, b) + std::ldexp(1.0L, uniform(0, 3));
      if (v > hi) v = hi;
      if (chance(0.5)) v = -v;
    } else if (chance(0.6)) {
      v = uniform(-12, 12);
    } else {
      v = dtype == v1::DTYPE_I32
              ? static_cast<long double>(static_cast<int32_t>(rng_()))
              : static_cast<long double>(static_cast<int64_t>(rng_()));
    }
    if (kind == Values::kNonZero && v == 0) v = 3;
    if (kind == Values::kNonNegative && v < 0) v = chance(0.8) ? std::min<long double>(-v, 40) : v;
    return v;
  }
  if (chance(0.15)) {
    std::vector<long double> special = {NAN, INFINITY, -INFINITY, 0.0L, -0.0L, 1, -1};
    if (kind != Values::kModerate) {
      const long double max = max_finite(dtype), tiny = ulp(dtype, 0);
      special.insert(special.end(), {max, -max, tiny, -tiny, tiny * std::ldexp(1.0L, 10)});
    }
    return pick(special);
  }
  const long double mantissa = std::uniform_real_distribution<double>(1, 2)(rng_);
  const int exponent = kind == Values::kModerate ? uniform(-6, 5) : uniform(-24, 24);
  const long double v = (chance(0.5) ? -1 : 1) * std::ldexp(mantissa, exponent);
  return round_to_float(dtype, v);
}

Value Generator::input(DType dtype, const Shape& shape, Values kind) {
  const std::string name = absl::StrCat("in", case_.feeds.size());
  std::vector<long double> values(static_cast<size_t>(TensorType{dtype, shape}.elements()));
  for (long double& v : values) v = value(dtype, kind);
  case_.feeds[name] = to_host(dtype, shape, values);
  input_types_.push_back(TensorType{dtype, shape}.str());
  return g_.input(name, dtype, shape);
}

Value Generator::main_op(v1::OpKind op) {
  v1::Node attributes;
  const int rank = uniform(0, 3);
  Shape full = shape(rank);
  if (rank > 0) full[0] = shardable_dim();
  if (op >= v1::OP_NEG && op <= v1::OP_TANH) {
    const bool floats_only = op != v1::OP_NEG && op != v1::OP_RELU;
    return g_.add(op, {input(pick(floats_only ? kFloatDtypes : kNumericDtypes), full)});
  }
  if (op >= v1::OP_ADD && op <= v1::OP_GE) {
    DType a = pick(kAllDtypes), b = pick(kAllDtypes);
    const bool arithmetic = op == v1::OP_ADD || op == v1::OP_SUB || op == v1::OP_MUL ||
                            op == v1::OP_DIV || op == v1::OP_POW;
    if (arithmetic && a == v1::DTYPE_BOOL && b == v1::DTYPE_BOOL) b = pick(kNumericDtypes);
    Values divisor = Values::kAny;
    if (op == v1::OP_DIV && chance(0.85)) divisor = Values::kNonZero;
    if (op == v1::OP_POW && chance(0.85)) divisor = Values::kNonNegative;
    Value x = input(a, full);
    return g_.add(op, {x, input(b, broadcast_variant(full), divisor)});
  }
  switch (op) {
    case v1::OP_WHERE: {
      Value c = input(v1::DTYPE_BOOL, broadcast_variant(full));
      Value t = input(pick(kAllDtypes), full);
      return g_.add(op, {c, t, input(pick(kAllDtypes), broadcast_variant(full))});
    }
    case v1::OP_CAST: return cast(input(pick(kAllDtypes), full), pick(kAllDtypes));
    case v1::OP_SUM:
    case v1::OP_REDUCE_MAX:
    case v1::OP_REDUCE_MIN:
    case v1::OP_MEAN: {
      const DType d = pick(op == v1::OP_MEAN ? kFloatDtypes : kAllDtypes);
      Value x = input(d, full, Values::kModerate);
      for (int a = 0; a < rank; ++a) {
        if (chance(0.5)) attributes.add_axes(chance(0.3) ? a - rank : a);
      }
      attributes.set_keepdims(chance(0.5));
      return g_.add(op, {x}, attributes);
    }
    case v1::OP_MATMUL: {
      const DType a = pick(kNumericDtypes), b = pick(kNumericDtypes);
      // The sharded operand's dim 0 must split: its first batch dim, else m (a) or k (b).
      const bool shard_b = chance(0.5);
      const int64_t split = shardable_dim();
      Shape batch = shape(uniform(0, 2));
      if (!batch.empty()) batch[0] = split;
      Shape sa = shard_b ? broadcast_variant(batch) : batch;
      Shape sb = shard_b ? batch : broadcast_variant(batch);
      int64_t m = dim(), k = dim(), n = dim();
      if (batch.empty()) (shard_b ? k : m) = split;
      sa.insert(sa.end(), {m, k});
      sb.insert(sb.end(), {k, n});
      Value x = input(a, sa, Values::kModerate);
      Value y = input(b, sb, Values::kModerate);
      case_.sharded_input = shard_b ? y.name() : x.name();
      return matmul(x, y);
    }
    default: return movement(op);
  }
}

Value Generator::movement(v1::OpKind op) {
  const int rank = uniform(op == v1::OP_CONCAT || op == v1::OP_PERMUTE ? 1 : 0, 3);
  Shape s = shape(rank);
  if (rank > 0) s[0] = shardable_dim();
  const DType d = pick(kAllDtypes);
  switch (op) {
    case v1::OP_RESHAPE: {
      Value x = input(d, s);
      const int64_t n = TensorType{d, s}.elements();
      // Flat, or dim 0 kept and the rest flattened (-1 when that product is non-zero).
      if (rank < 2 || chance(0.4)) return reshape(x, {n});
      int64_t rest = 1;
      for (int i = 1; i < rank; ++i) rest *= s[i];
      return reshape(x, {s[0], n != 0 && chance(0.5) ? -1 : rest});
    }
    case v1::OP_PERMUTE: {
      std::vector<int64_t> axes(rank);
      std::iota(axes.begin(), axes.end(), 0);
      std::shuffle(axes.begin(), axes.end(), rng_);
      return permute(input(d, s), axes);
    }
    case v1::OP_EXPAND: {
      Shape target = s;
      if (chance(0.5)) target.insert(target.begin(), dim());
      Shape in = target;
      for (size_t i = 1; i < in.size(); ++i) {
        if (chance(0.4)) in[i] = 1;
      }
      if (!in.empty() && chance(0.3)) in.erase(in.begin());  // Expand adds a dim.
      return expand(input(d, in), target);
    }
    case v1::OP_SLICE: {
      std::vector<int64_t> starts, ends, steps;
      for (int64_t n : s) {
        starts.push_back(uniform(-static_cast<int>(n) - 1, static_cast<int>(n)));
        ends.push_back(uniform(-static_cast<int>(n), static_cast<int>(n) + 1));
        steps.push_back(uniform(1, 3));
      }
      return slice(input(d, s), starts, ends, steps);
    }
    case v1::OP_PAD: {
      std::vector<int64_t> before, after;
      for (int i = 0; i < rank; ++i) {
        before.push_back(uniform(0, 2));
        after.push_back(uniform(0, 2));
      }
      const double fill = d == v1::DTYPE_BOOL ? uniform(0, 1) : is_floating(d) ? -2.5 : 7;
      return pad(input(d, s), before, after, fill);
    }
    default: {  // Concat of 2 or 3 inputs along a random axis.
      const int axis = uniform(0, rank - 1);
      std::vector<Value> parts;
      for (int i = uniform(2, 3); i > 0; --i) {
        Shape part = s;
        part[axis] = dim();
        if (axis == 0) part[0] = shardable_dim();
        parts.push_back(input(pick(kAllDtypes), part));
      }
      return concat(parts, chance(0.3) ? axis - rank : axis);
    }
  }
}

Case Generator::build() {
  const v1::OpKind op = pick(kOps);
  Value result = main_op(op);
  // Sometimes a movement op after it: the result flattened.
  if (chance(0.1)) result = reshape(result, {-1});
  g_.output(result, "out");
  case_.graph = *g_.build();
  case_.summary = absl::StrCat(v1::OpKind_Name(op), "(", absl::StrJoin(input_types_, ", "), ")");
  if (case_.sharded_input.empty()) {
    for (const auto& [name, tensor] : case_.feeds) {
      if (!tensor.shape().empty() && tensor.shape()[0] % case_.shards == 0) {
        case_.sharded_input = name;
        break;
      }
    }
  }
  return std::move(case_);
}

}  // namespace

Case generate_case(uint64_t seed, const std::vector<std::string>& nodes) {
  return Generator(seed, nodes).build();
}

namespace {

// The sharded input, and every input of its rank and dim 0 (concat and matmul want them
// sharded alike).
bool shards_like(const Case& c, const v1::Node& input) {
  if (c.sharded_input.empty()) return false;
  const Shape& sharded = c.feeds.at(c.sharded_input).shape();
  const Shape& shape = c.feeds.at(input.name()).shape();
  return shape.size() == sharded.size() && shape[0] == sharded[0];
}

}  // namespace

v1::Graph sharded_graph(const Case& c) {
  v1::Graph graph = c.graph;
  for (v1::Node& node : *graph.mutable_nodes()) {
    if (node.op() != v1::OP_INPUT) continue;
    v1::Sharding* sharding = node.mutable_sharding();
    for (const v1::DeviceRef& d : c.devices) *sharding->add_devices() = d;
    if (shards_like(c, node)) {
      sharding->set_axis(0);
      sharding->set_shards(static_cast<uint32_t>(c.shards));
    } else {
      sharding->set_replicated(true);
    }
  }
  return graph;
}

}  // namespace tg::differential
