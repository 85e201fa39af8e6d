#include "client/autodiff.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <numeric>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <absl/strings/str_cat.h>

#include "devices/graph/graph_api.h"
#include "devices/graph/type_rules.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using v1::Node;

absl::Status invalid(auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); }

// "OP_REDUCE_MAX" -> "reduce_max", the stem of emitted node names.
std::string op_stem(OpKind op) {
  std::string name = op_name(op);
  if (name.rfind("OP_", 0) == 0) name = name.substr(3);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

bool has_rule(OpKind op) {
  return is_unary_op(op) || (is_binary_op(op) && !is_comparison_op(op)) ||
         is_reduction_op(op) || op == v1::OP_WHERE || op == v1::OP_CAST ||
         op == v1::OP_MATMUL || op == v1::OP_RESHAPE || op == v1::OP_PERMUTE ||
         op == v1::OP_EXPAND || op == v1::OP_SLICE || op == v1::OP_PAD || op == v1::OP_CONCAT;
}

// Appends nodes to a builder under a name prefix, knowing every node's type: forward nodes'
// from validation, its own from infer_type as they are added. A failure (a bug here, not the
// caller's) is kept in status() and stops further emission.
class Emitter {
 public:
  Emitter(GraphBuilder& builder, std::unordered_map<std::string, TensorType>& types,
          std::unordered_set<std::string>& names)
      : b_(builder), types_(types), names_(names) {}

  const absl::Status& status() const { return status_; }
  void set_prefix(const std::string& forward_node) { prefix_ = "grad/" + forward_node + "/"; }
  const TensorType& type(const Value& v) const { return types_.at(v.name()); }

  Value emit(OpKind op, const std::vector<Value>& inputs, Node attrs = {}) {
    if (!status_.ok()) return Value();
    std::vector<TensorType> in;
    for (const Value& v : inputs) {
      auto it = v.builder() == &b_ ? types_.find(v.name()) : types_.end();
      if (it == types_.end()) {
        status_ = absl::InternalError(absl::StrCat("gradients: ", op_stem(op),
                                                   " under '", prefix_, "' lost an input"));
        return Value();
      }
      in.push_back(it->second);
    }
    attrs.set_op(op);
    attrs.set_name(unique(prefix_ + op_stem(op)));
    auto type = infer_type(attrs, in);
    if (!type.ok()) {
      status_ = absl::InternalError(
          absl::StrCat("gradients: emitted node '", attrs.name(), "': ", type.status().message()));
      return Value();
    }
    const std::string name = attrs.name();
    Value v = b_.add(op, inputs, std::move(attrs));
    types_[name] = *std::move(type);
    return v;
  }

  // A scalar constant.
  Value constant(double value, DType dtype, const std::string& stem = "const") {
    if (!status_.ok()) return Value();
    const std::string name = unique(prefix_ + stem);
    Value v = b_.scalar(value, dtype, name);
    types_[name] = TensorType{dtype, {}};
    return v;
  }
  Value zeros(const TensorType& type) {
    Value zero = constant(0, type.dtype, "zeros");
    return type.shape.empty() ? zero : expand(zero, type.shape);
  }

  Value unary(OpKind op, Value x) { return emit(op, {x}); }
  Value binary(OpKind op, Value a, Value b) { return emit(op, {a, b}); }
  Value where(Value c, Value t, Value e) { return emit(v1::OP_WHERE, {c, t, e}); }
  Value cast(Value x, DType dtype) {
    if (!status_.ok() || type(x).dtype == dtype) return x;
    Node n;
    n.set_dtype(dtype);
    return emit(v1::OP_CAST, {x}, std::move(n));
  }
  Value sum(Value x, const std::vector<int64_t>& axes) {
    Node n;
    for (int64_t a : axes) n.add_axes(a);
    return emit(v1::OP_SUM, {x}, std::move(n));
  }
  Value reshape(Value x, const Shape& shape) {
    if (!status_.ok() || type(x).shape == shape) return x;
    Node n;
    for (int64_t d : shape) n.add_shape(d);
    return emit(v1::OP_RESHAPE, {x}, std::move(n));
  }
  Value expand(Value x, const Shape& shape) {
    if (!status_.ok() || type(x).shape == shape) return x;
    Node n;
    for (int64_t d : shape) n.add_shape(d);
    return emit(v1::OP_EXPAND, {x}, std::move(n));
  }
  Value permute(Value x, const std::vector<int64_t>& axes) {
    Node n;
    for (int64_t a : axes) n.add_axes(a);
    return emit(v1::OP_PERMUTE, {x}, std::move(n));
  }
  Value slice(Value x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends) {
    Node n;
    for (int64_t s : starts) n.add_starts(s);
    for (int64_t e : ends) n.add_ends(e);
    return emit(v1::OP_SLICE, {x}, std::move(n));
  }
  Value pad(Value x, const std::vector<int64_t>& before, const std::vector<int64_t>& after) {
    Node n;
    for (int64_t p : before) n.add_pad_before(p);
    for (int64_t p : after) n.add_pad_after(p);
    return emit(v1::OP_PAD, {x}, std::move(n));
  }

  // Sums `g` down to `to`, undoing NumPy broadcasting: over the added leading axes and over the
  // axes where `to` has size 1, then reshapes to `to`.
  Value unbroadcast(Value g, const Shape& to) {
    if (!status_.ok()) return Value();
    const Shape& from = type(g).shape;
    if (from == to) return g;
    if (from.size() < to.size()) {
      status_ = absl::InternalError(absl::StrCat("gradients: cannot unbroadcast ",
                                                 shape_string(from), " to ", shape_string(to)));
      return Value();
    }
    const size_t lead = from.size() - to.size();
    std::vector<int64_t> axes;
    for (size_t d = 0; d < from.size(); ++d) {
      if (d < lead || (to[d - lead] == 1 && from[d] != 1)) axes.push_back(static_cast<int64_t>(d));
    }
    return reshape(axes.empty() ? g : sum(g, axes), to);
  }

 private:
  std::string unique(const std::string& base) {
    std::string name = base;
    for (int i = 1; names_.count(name) != 0; ++i) name = absl::StrCat(base, "_", i);
    names_.insert(name);
    return name;
  }

  GraphBuilder& b_;
  std::unordered_map<std::string, TensorType>& types_;
  std::unordered_set<std::string>& names_;
  std::string prefix_;
  absl::Status status_;
};

// The gradient rules: for forward node `node` (output y, incoming gradient g), calls
// put(k, contribution) for each input k that wants one. Contributions may have the output's
// broadcast shape and dtype; the caller reduces and casts them to the input's.
struct Rule {
  Emitter& e;
  const Node& node;
  Value y, g;
  std::vector<Value> x;
  std::vector<TensorType> tx;
  TensorType ty;
  std::vector<bool> want;
  std::function<void(int, Value)> put;

  Value constant(double v) { return e.constant(v, ty.dtype); }

  // The axes a reduction reduced (validated), and input 0's shape with them kept as 1.
  std::vector<int> reduced_axes() {
    return reduction_axes(node, static_cast<int>(tx[0].shape.size())).value();
  }
  Shape keepdims_shape() {
    Shape kd = tx[0].shape;
    for (int a : reduced_axes()) kd[a] = 1;
    return kd;
  }

  static std::vector<int64_t> swap_last_two(size_t rank) {
    std::vector<int64_t> axes(rank);
    std::iota(axes.begin(), axes.end(), 0);
    std::swap(axes[rank - 1], axes[rank - 2]);
    return axes;
  }

  void slice_back() {
    const Shape& in = tx[0].shape;
    const std::vector<SliceDim> dims = *slice_dims(node, in);
    for (const SliceDim& d : dims) {
      if (d.size == 0) return;  // Nothing was taken: no contribution.
    }
    // Spread strided dims: [P, n, 1, Q] padded to [P, n, step, Q] puts taken element i at i*step.
    Value v = g;
    Shape cur = ty.shape;
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d].step == 1 || dims[d].size == 1) continue;
      const int64_t outer = num_elements(Shape(cur.begin(), cur.begin() + d));
      const int64_t inner = num_elements(Shape(cur.begin() + d + 1, cur.end()));
      v = e.reshape(v, {outer, cur[d], 1, inner});
      v = e.pad(v, {0, 0, 0, 0}, {0, 0, dims[d].step - 1, 0});
      cur[d] *= dims[d].step;
      v = e.reshape(v, cur);
    }
    // Trim what runs past the input's end, then put it back at the start with zeros around.
    std::vector<int64_t> zeros(in.size(), 0), ends(in.size()), before(in.size()), after(in.size());
    bool trim = false, padded = false;
    for (size_t d = 0; d < in.size(); ++d) {
      ends[d] = std::min(cur[d], in[d] - dims[d].start);
      trim |= ends[d] < cur[d];
      before[d] = dims[d].start;
      after[d] = in[d] - dims[d].start - ends[d];
      padded |= before[d] != 0 || after[d] != 0;
    }
    if (trim) v = e.slice(v, zeros, ends);
    if (padded) v = e.pad(v, before, after);
    put(0, v);
  }

  void concat_back() {
    const int axis = *concat_axis(node, static_cast<int>(ty.shape.size()));
    int64_t offset = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      const int64_t length = tx[k].shape[axis];
      if (want[k]) {
        std::vector<int64_t> starts(ty.shape.size(), 0), ends = ty.shape;
        starts[axis] = offset;
        ends[axis] = offset + length;
        put(static_cast<int>(k), e.slice(g, starts, ends));
      }
      offset += length;
    }
  }

  void apply() {
    const OpKind op = node.op();
    switch (op) {
      case v1::OP_NEG: put(0, e.unary(v1::OP_NEG, g)); break;
      case v1::OP_EXP: put(0, e.binary(v1::OP_MUL, g, y)); break;
      case v1::OP_LOG: put(0, e.binary(v1::OP_DIV, g, x[0])); break;
      case v1::OP_SQRT:
        put(0, e.binary(v1::OP_DIV, g, e.binary(v1::OP_MUL, y, constant(2))));
        break;
      case v1::OP_RELU:
        put(0, e.where(e.binary(v1::OP_GT, x[0], constant(0)), g, constant(0)));
        break;
      case v1::OP_SIGMOID: {  // g * y * (1 - y)
        Value slope = e.binary(v1::OP_MUL, y, e.binary(v1::OP_SUB, constant(1), y));
        put(0, e.binary(v1::OP_MUL, g, slope));
        break;
      }
      case v1::OP_TANH: {  // g * (1 - y * y)
        Value slope = e.binary(v1::OP_SUB, constant(1), e.binary(v1::OP_MUL, y, y));
        put(0, e.binary(v1::OP_MUL, g, slope));
        break;
      }
      case v1::OP_ADD:
        if (want[0]) put(0, g);
        if (want[1]) put(1, g);
        break;
      case v1::OP_SUB:
        if (want[0]) put(0, g);
        if (want[1]) put(1, e.unary(v1::OP_NEG, g));
        break;
      case v1::OP_MUL:
        if (want[0]) put(0, e.binary(v1::OP_MUL, g, x[1]));
        if (want[1]) put(1, e.binary(v1::OP_MUL, g, x[0]));
        break;
      case v1::OP_DIV: {  // d/da = g / b; d/db = -g * a / b^2 = -(g / b) * y.
        Value over_b = e.binary(v1::OP_DIV, g, x[1]);
        if (want[0]) put(0, over_b);
        if (want[1]) put(1, e.unary(v1::OP_NEG, e.binary(v1::OP_MUL, over_b, y)));
        break;
      }
      case v1::OP_MAX:
      case v1::OP_MIN: {  // To the selected side; the first input wins ties.
        Value first = e.binary(op == v1::OP_MAX ? v1::OP_GE : v1::OP_LE, x[0], x[1]);
        Value zero = constant(0);
        if (want[0]) put(0, e.where(first, g, zero));
        if (want[1]) put(1, e.where(first, zero, g));
        break;
      }
      case v1::OP_POW: {
        if (want[0]) {  // g * b * a^(b - 1)
          Value lowered = e.binary(v1::OP_POW, x[0], e.binary(v1::OP_SUB, x[1], constant(1)));
          put(0, e.binary(v1::OP_MUL, g, e.binary(v1::OP_MUL, x[1], lowered)));
        }
        if (want[1]) {  // g * y * log(a) where a > 0, else 0.
          Value base = e.cast(x[0], ty.dtype);
          Value log_base = e.unary(v1::OP_LOG, base);
          Value through_log = e.binary(v1::OP_MUL, g, e.binary(v1::OP_MUL, y, log_base));
          put(1, e.where(e.binary(v1::OP_GT, base, constant(0)), through_log, constant(0)));
        }
        break;
      }
      case v1::OP_WHERE: {
        Value zero = constant(0);
        if (want[1]) put(1, e.where(x[0], g, zero));
        if (want[2]) put(2, e.where(x[0], zero, g));
        break;
      }
      case v1::OP_CAST:
      case v1::OP_EXPAND: put(0, g); break;  // The caller casts and unbroadcasts.
      case v1::OP_SUM: put(0, e.expand(e.reshape(g, keepdims_shape()), tx[0].shape)); break;
      case v1::OP_MEAN: {
        double count = 1;
        for (int a : reduced_axes()) count *= static_cast<double>(tx[0].shape[a]);
        const Shape kd = keepdims_shape();
        Value scaled = e.binary(v1::OP_MUL, g, constant(1.0 / count));
        put(0, e.expand(e.reshape(scaled, kd), tx[0].shape));
        break;
      }
      case v1::OP_REDUCE_MAX:
      case v1::OP_REDUCE_MIN: {  // Every position equal to the result gets all of g.
        const Shape kd = keepdims_shape();
        Value hit = e.binary(v1::OP_EQ, x[0], e.reshape(y, kd));
        put(0, e.where(hit, e.reshape(g, kd), constant(0)));
        break;
      }
      case v1::OP_MATMUL: {  // da = g b^T, db = a^T g, batch dims summed back by the caller.
        auto transposed = [&](int k) { return e.permute(x[k], swap_last_two(tx[k].shape.size())); };
        if (want[0]) put(0, e.binary(v1::OP_MATMUL, g, transposed(1)));
        if (want[1]) put(1, e.binary(v1::OP_MATMUL, transposed(0), g));
        break;
      }
      case v1::OP_RESHAPE: put(0, e.reshape(g, tx[0].shape)); break;
      case v1::OP_PERMUTE: {
        std::vector<int64_t> inverse(node.axes_size());
        for (int i = 0; i < node.axes_size(); ++i) inverse[node.axes(i)] = i;
        put(0, e.permute(g, inverse));
        break;
      }
      case v1::OP_SLICE: slice_back(); break;
      case v1::OP_PAD: {
        const Shape& in = tx[0].shape;
        std::vector<int64_t> starts(in.size()), ends(in.size());
        for (size_t d = 0; d < in.size(); ++d) {
          starts[d] = node.pad_before(static_cast<int>(d));
          ends[d] = starts[d] + in[d];
        }
        put(0, ty.shape == in ? g : e.slice(g, starts, ends));
        break;
      }
      case v1::OP_CONCAT: concat_back(); break;
      default: break;  // has_rule() was checked before anything was emitted.
    }
  }
};

}  // namespace

absl::StatusOr<std::vector<Value>> gradients(Value loss, const std::vector<Value>& wrt) {
  GraphBuilder* builder = loss.builder();
  if (builder == nullptr) return invalid("gradients: loss is an empty Value");
  for (size_t i = 0; i < wrt.size(); ++i) {
    if (wrt[i].builder() == nullptr) return invalid("gradients: wrt[", i, "] is an empty Value");
    if (wrt[i].builder() != builder) {
      return invalid("gradients: wrt[", i, "] ('", wrt[i].name(),
                     "') is a Value from another GraphBuilder than the loss");
    }
  }
  auto graph = builder->build();
  if (!graph.ok()) {
    return invalid("gradients: the graph so far has a mistake: ", graph.status().message());
  }
  auto validated = validate_graph(*graph);
  if (!validated.ok()) {
    return invalid("gradients: the graph so far does not validate: ",
                   validated.status().message());
  }
  std::unordered_map<std::string, TensorType>& types = validated->types;
  const TensorType& loss_type = types.at(loss.name());
  if (!is_floating(loss_type.dtype) || !loss_type.shape.empty()) {
    return invalid("gradients: loss '", loss.name(), "' must be a floating scalar (shape []), got ",
                   loss_type.str());
  }

  const int n = graph->nodes_size();
  std::unordered_map<std::string, int> index;
  std::unordered_set<std::string> names;
  for (int i = 0; i < n; ++i) {
    index[graph->nodes(i).name()] = i;
    names.insert(graph->nodes(i).name());
  }
  // inputs[i][k]: the node read as input k of node i, or -1 where no gradient flows along it.
  std::vector<std::vector<int>> inputs(n);
  for (int i = 0; i < n; ++i) {
    const Node& node = graph->nodes(i);
    const bool floating_out = is_floating(types.at(node.name()).dtype);
    for (int k = 0; k < node.inputs_size(); ++k) {
      const int in = index.at(node.inputs(k));
      const bool flows = floating_out && is_floating(types.at(node.inputs(k)).dtype) &&
                         !(node.op() == v1::OP_WHERE && k == 0);
      inputs[i].push_back(flows ? in : -1);
    }
  }
  const int loss_index = index.at(loss.name());
  std::vector<int> wrt_index;
  for (const Value& v : wrt) wrt_index.push_back(index.at(v.name()));

  // Nodes on a path from some wrt to the loss.
  std::vector<bool> reached(n, false), needed(n, false), on_path(n);
  for (int w : wrt_index) reached[w] = true;
  for (int i : validated->order) {
    for (int in : inputs[i]) reached[i] = reached[i] || (in >= 0 && reached[in]);
  }
  needed[loss_index] = true;
  for (auto it = validated->order.rbegin(); it != validated->order.rend(); ++it) {
    if (!needed[*it]) continue;
    for (int in : inputs[*it]) {
      if (in >= 0) needed[in] = true;
    }
  }
  for (int i = 0; i < n; ++i) on_path[i] = reached[i] && needed[i];
  for (int i = 0; i < n; ++i) {
    if (!on_path[i]) continue;
    const Node& node = graph->nodes(i);
    const bool passes_on = std::any_of(inputs[i].begin(), inputs[i].end(),
                                       [&](int in) { return in >= 0 && on_path[in]; });
    if (passes_on && !has_rule(node.op())) {
      return invalid("gradients: node '", node.name(), "' (", op_name(node.op()),
                     ") lies between wrt and the loss but has no gradient rule");
    }
  }

  Emitter e(*builder, types, names);
  std::vector<Value> grad(n);
  if (on_path[loss_index]) {
    e.set_prefix(loss.name());
    grad[loss_index] = e.constant(1, loss_type.dtype, "seed");
  }
  for (auto it = validated->order.rbegin(); it != validated->order.rend(); ++it) {
    const int i = *it;
    if (!on_path[i] || grad[i].builder() == nullptr) continue;
    const Node& node = graph->nodes(i);
    Rule rule{e, node, builder->node(i), grad[i], {}, {}, types.at(node.name()), {}, {}};
    for (int k = 0; k < node.inputs_size(); ++k) {
      const int in = inputs[i][k];
      rule.x.push_back(builder->node(index.at(node.inputs(k))));
      rule.tx.push_back(types.at(node.inputs(k)));
      rule.want.push_back(in >= 0 && on_path[in]);
    }
    rule.put = [&](int k, Value contribution) {
      const int in = inputs[i][k];
      if (in < 0 || !on_path[in]) return;
      const TensorType& target = rule.tx[k];
      contribution = e.cast(e.unbroadcast(contribution, target.shape), target.dtype);
      if (grad[in].builder() == nullptr) {
        grad[in] = contribution;
      } else {
        e.set_prefix(graph->nodes(in).name());
        grad[in] = e.binary(v1::OP_ADD, grad[in], contribution);
        e.set_prefix(node.name());
      }
    };
    if (std::none_of(rule.want.begin(), rule.want.end(), [](bool w) { return w; })) continue;
    e.set_prefix(node.name());
    rule.apply();
  }

  std::vector<Value> result;
  for (size_t j = 0; j < wrt.size(); ++j) {
    Value g = grad[wrt_index[j]];
    if (g.builder() == nullptr) {
      e.set_prefix(wrt[j].name());
      g = e.zeros(types.at(wrt[j].name()));
    }
    result.push_back(g);
  }
  if (!e.status().ok()) return e.status();
  return result;
}

}  // namespace tg
