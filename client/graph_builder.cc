#include "client/graph_builder.h"

#include <algorithm>
#include <cctype>

namespace tg {

using tgrack::v1::Node;
using tgrack::v1::OpKind;

namespace {

const std::string kEmpty;

std::string op_base_name(OpKind op) {
  std::string name = tgrack::v1::OpKind_Name(op);  // "OP_MATMUL"
  name = name.substr(3);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

}  // namespace

const std::string& Value::name() const {
  if (builder_ == nullptr || index_ < 0) return kEmpty;
  return builder_->graph_.nodes(index_).name();
}

bool GraphBuilder::name_taken(const std::string& name) const {
  for (const Node& node : graph_.nodes()) {
    if (node.name() == name) return true;
  }
  return false;
}

std::string GraphBuilder::unique_name(const std::string& base) {
  std::string name;
  do {
    name = base + "_" + std::to_string(counter_++);
  } while (name_taken(name));
  return name;
}

bool GraphBuilder::check(const Value& value, const char* what) {
  if (value.builder_ == this && value.index_ >= 0) return true;
  if (error_.ok()) {
    error_ = absl::InvalidArgumentError(
        std::string(what) + ": " +
        (value.builder_ == nullptr ? "an empty Value" : "a Value from another GraphBuilder"));
  }
  return false;
}

Value GraphBuilder::add(OpKind op, const std::vector<Value>& inputs, Node attributes) {
  for (const Value& input : inputs) {
    if (!check(input, op_base_name(op).c_str())) return Value();
  }
  if (attributes.name().empty()) {
    attributes.set_name(unique_name(op_base_name(op)));
  } else if (name_taken(attributes.name()) && error_.ok()) {
    error_ = absl::InvalidArgumentError("node name '" + attributes.name() + "' is used twice");
  }
  attributes.set_op(op);
  attributes.clear_inputs();
  for (const Value& input : inputs) attributes.add_inputs(input.name());
  *graph_.add_nodes() = std::move(attributes);
  return Value(this, graph_.nodes_size() - 1);
}

Value GraphBuilder::input(const std::string& name, DType dtype, const Shape& shape) {
  Node node;
  node.set_name(name);
  node.set_dtype(dtype);
  for (int64_t dim : shape) node.add_shape(dim);
  return add(tgrack::v1::OP_INPUT, {}, std::move(node));
}

Value GraphBuilder::constant(const HostTensor& value, const std::string& name) {
  Node node;
  node.set_name(name);
  *node.mutable_value() = value.to_proto();
  return add(tgrack::v1::OP_CONSTANT, {}, std::move(node));
}

Value GraphBuilder::scalar(double value, DType dtype, const std::string& name) {
  HostTensor tensor(TensorType{dtype, {}});
  switch (dtype) {
    case tgrack::v1::DTYPE_F32: tensor.values<float>()[0] = static_cast<float>(value); break;
    case tgrack::v1::DTYPE_F64: tensor.values<double>()[0] = value; break;
    case tgrack::v1::DTYPE_F16: tensor.values<uint16_t>()[0] = float_to_half(static_cast<float>(value)); break;
    case tgrack::v1::DTYPE_BF16: tensor.values<uint16_t>()[0] = float_to_bfloat16(static_cast<float>(value)); break;
    case tgrack::v1::DTYPE_I32: tensor.values<int32_t>()[0] = static_cast<int32_t>(value); break;
    case tgrack::v1::DTYPE_I64: tensor.values<int64_t>()[0] = static_cast<int64_t>(value); break;
    case tgrack::v1::DTYPE_BOOL: tensor.values<uint8_t>()[0] = value != 0; break;
    default:
      if (error_.ok()) error_ = absl::InvalidArgumentError("scalar: unsupported dtype");
      return Value();
  }
  return constant(tensor, name);
}

void GraphBuilder::output(Value value, const std::string& name) {
  if (!check(value, "output")) return;
  Node& node = *graph_.mutable_nodes(value.index_);
  if (!name.empty() && name != node.name()) {
    if (name_taken(name)) {
      if (error_.ok()) error_ = absl::InvalidArgumentError("output name '" + name + "' is used twice");
      return;
    }
    const std::string old_name = node.name();
    node.set_name(name);
    for (Node& other : *graph_.mutable_nodes()) {
      for (std::string& input : *other.mutable_inputs()) {
        if (input == old_name) input = name;
      }
    }
    for (std::string& output : *graph_.mutable_outputs()) {
      if (output == old_name) output = name;
    }
  }
  graph_.add_outputs(node.name());
}

absl::StatusOr<tgrack::v1::Graph> GraphBuilder::build() const {
  if (!error_.ok()) return error_;
  return graph_;
}

namespace {

Value unary(OpKind op, Value x, Node attributes = {}) {
  if (x.builder() == nullptr) return Value();
  return x.builder()->add(op, {x}, std::move(attributes));
}

Value binary(OpKind op, Value a, Value b) {
  GraphBuilder* builder = a.builder() != nullptr ? a.builder() : b.builder();
  if (builder == nullptr) return Value();
  return builder->add(op, {a, b});
}

Value reduction(OpKind op, Value x, const std::vector<int64_t>& axes, bool keepdims) {
  Node node;
  for (int64_t axis : axes) node.add_axes(axis);
  node.set_keepdims(keepdims);
  return unary(op, x, std::move(node));
}

}  // namespace

Value neg(Value x) { return unary(tgrack::v1::OP_NEG, x); }
Value exp(Value x) { return unary(tgrack::v1::OP_EXP, x); }
Value log(Value x) { return unary(tgrack::v1::OP_LOG, x); }
Value sqrt(Value x) { return unary(tgrack::v1::OP_SQRT, x); }
Value relu(Value x) { return unary(tgrack::v1::OP_RELU, x); }
Value sigmoid(Value x) { return unary(tgrack::v1::OP_SIGMOID, x); }
Value tanh(Value x) { return unary(tgrack::v1::OP_TANH, x); }

Value add(Value a, Value b) { return binary(tgrack::v1::OP_ADD, a, b); }
Value sub(Value a, Value b) { return binary(tgrack::v1::OP_SUB, a, b); }
Value mul(Value a, Value b) { return binary(tgrack::v1::OP_MUL, a, b); }
Value div(Value a, Value b) { return binary(tgrack::v1::OP_DIV, a, b); }
Value maximum(Value a, Value b) { return binary(tgrack::v1::OP_MAX, a, b); }
Value minimum(Value a, Value b) { return binary(tgrack::v1::OP_MIN, a, b); }
Value pow(Value a, Value b) { return binary(tgrack::v1::OP_POW, a, b); }
Value eq(Value a, Value b) { return binary(tgrack::v1::OP_EQ, a, b); }
Value ne(Value a, Value b) { return binary(tgrack::v1::OP_NE, a, b); }
Value lt(Value a, Value b) { return binary(tgrack::v1::OP_LT, a, b); }
Value le(Value a, Value b) { return binary(tgrack::v1::OP_LE, a, b); }
Value gt(Value a, Value b) { return binary(tgrack::v1::OP_GT, a, b); }
Value ge(Value a, Value b) { return binary(tgrack::v1::OP_GE, a, b); }
Value operator+(Value a, Value b) { return add(a, b); }
Value operator-(Value a, Value b) { return sub(a, b); }
Value operator*(Value a, Value b) { return mul(a, b); }
Value operator/(Value a, Value b) { return div(a, b); }
Value operator-(Value x) { return neg(x); }

Value where(Value condition, Value then_value, Value else_value) {
  GraphBuilder* builder = condition.builder();
  if (builder == nullptr) return Value();
  return builder->add(tgrack::v1::OP_WHERE, {condition, then_value, else_value});
}

Value cast(Value x, DType dtype) {
  Node node;
  node.set_dtype(dtype);
  return unary(tgrack::v1::OP_CAST, x, std::move(node));
}

Value sum(Value x, const std::vector<int64_t>& axes, bool keepdims) {
  return reduction(tgrack::v1::OP_SUM, x, axes, keepdims);
}
Value reduce_max(Value x, const std::vector<int64_t>& axes, bool keepdims) {
  return reduction(tgrack::v1::OP_REDUCE_MAX, x, axes, keepdims);
}
Value reduce_min(Value x, const std::vector<int64_t>& axes, bool keepdims) {
  return reduction(tgrack::v1::OP_REDUCE_MIN, x, axes, keepdims);
}
Value mean(Value x, const std::vector<int64_t>& axes, bool keepdims) {
  return reduction(tgrack::v1::OP_MEAN, x, axes, keepdims);
}

Value matmul(Value a, Value b) { return binary(tgrack::v1::OP_MATMUL, a, b); }

Value reshape(Value x, const Shape& shape) {
  Node node;
  for (int64_t dim : shape) node.add_shape(dim);
  return unary(tgrack::v1::OP_RESHAPE, x, std::move(node));
}

Value permute(Value x, const std::vector<int64_t>& axes) {
  Node node;
  for (int64_t axis : axes) node.add_axes(axis);
  return unary(tgrack::v1::OP_PERMUTE, x, std::move(node));
}

Value expand(Value x, const Shape& shape) {
  Node node;
  for (int64_t dim : shape) node.add_shape(dim);
  return unary(tgrack::v1::OP_EXPAND, x, std::move(node));
}

Value slice(Value x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
            const std::vector<int64_t>& steps) {
  Node node;
  for (int64_t v : starts) node.add_starts(v);
  for (int64_t v : ends) node.add_ends(v);
  for (int64_t v : steps) node.add_steps(v);
  return unary(tgrack::v1::OP_SLICE, x, std::move(node));
}

Value pad(Value x, const std::vector<int64_t>& before, const std::vector<int64_t>& after,
          double value) {
  Node node;
  for (int64_t v : before) node.add_pad_before(v);
  for (int64_t v : after) node.add_pad_after(v);
  node.set_pad_value(value);
  return unary(tgrack::v1::OP_PAD, x, std::move(node));
}

Value concat(const std::vector<Value>& values, int64_t axis) {
  GraphBuilder* builder = values.empty() ? nullptr : values.front().builder();
  if (builder == nullptr) return Value();
  Node node;
  node.set_axis(axis);
  return builder->add(tgrack::v1::OP_CONCAT, values, std::move(node));
}

}  // namespace tg
