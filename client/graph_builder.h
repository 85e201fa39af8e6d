// GraphBuilder: a small typed front end for the tensor graph IR (tgrack/v1/graph.proto).
//
//   GraphBuilder g;
//   Value x = g.input("x", tgrack::v1::DTYPE_F32, {2, 3});
//   Value w = g.constant<float>({...}, {3, 4});
//   Value b = g.constant<float>({...}, {4});
//   g.output(relu(matmul(x, w) + b), "y");
//   absl::StatusOr<tgrack::v1::Graph> graph = g.build();
//
// Every op of graph.proto has a function here; nodes get unique names ("matmul_2") unless
// named. Types and shapes are checked where the graph is validated (controller and daemon),
// not here; mistakes only the builder can see — a Value from another builder or an empty
// one, a name used twice — are recorded and returned by build(). A Value is a handle into
// its builder and must not outlive it. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/tensor.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

class GraphBuilder;

// One node's output.
class Value {
 public:
  Value() = default;
  GraphBuilder* builder() const { return builder_; }
  // The node's current name ("" for an empty Value).
  const std::string& name() const;

 private:
  friend class GraphBuilder;
  Value(GraphBuilder* builder, int index) : builder_(builder), index_(index) {}
  GraphBuilder* builder_ = nullptr;
  int index_ = -1;
};

class GraphBuilder {
 public:
  GraphBuilder() = default;
  GraphBuilder(const GraphBuilder&) = delete;  // Values point at their builder.
  GraphBuilder& operator=(const GraphBuilder&) = delete;

  Value input(const std::string& name, DType dtype, const Shape& shape);
  Value constant(const HostTensor& value, const std::string& name = "");
  // A constant from values in row-major order; T is float, double, int32_t or int64_t.
  template <class T>
  Value constant(const std::vector<T>& values, const Shape& shape, const std::string& name = "");
  // A scalar (shape []) constant of `dtype`.
  Value scalar(double value, DType dtype = tgrack::v1::DTYPE_F32, const std::string& name = "");

  // Appends `value` to the graph's outputs, first renaming its node to `name` if given.
  void output(Value value, const std::string& name = "");

  // Appends a node of `op` reading `inputs`; `attributes` carries the op's attributes (its
  // name, op and inputs are filled in here). Every op function below goes through it.
  Value add(tgrack::v1::OpKind op, const std::vector<Value>& inputs,
            tgrack::v1::Node attributes = {});

  // The graph so far, or the first mistake recorded.
  absl::StatusOr<tgrack::v1::Graph> build() const;
  // The Value of the node at `index` in build()'s graph (nodes stay in the order added);
  // an empty Value when out of range.
  Value node(int index) {
    return index >= 0 && index < graph_.nodes_size() ? Value(this, index) : Value();
  }

 private:
  friend class Value;
  std::string unique_name(const std::string& base);
  bool check(const Value& value, const char* what);
  bool name_taken(const std::string& name) const;

  tgrack::v1::Graph graph_;
  int counter_ = 0;
  absl::Status error_;
};

// Elementwise unary.
Value neg(Value x);
Value exp(Value x);
Value log(Value x);
Value sqrt(Value x);
Value relu(Value x);
Value sigmoid(Value x);
Value tanh(Value x);
// Elementwise binary, NumPy broadcasting and promotion.
Value add(Value a, Value b);
Value sub(Value a, Value b);
Value mul(Value a, Value b);
Value div(Value a, Value b);
Value maximum(Value a, Value b);
Value minimum(Value a, Value b);
Value pow(Value a, Value b);
Value eq(Value a, Value b);
Value ne(Value a, Value b);
Value lt(Value a, Value b);
Value le(Value a, Value b);
Value gt(Value a, Value b);
Value ge(Value a, Value b);
Value operator+(Value a, Value b);
Value operator-(Value a, Value b);
Value operator*(Value a, Value b);
Value operator/(Value a, Value b);
Value operator-(Value x);
// Selection and conversion.
Value where(Value condition, Value then_value, Value else_value);
Value cast(Value x, DType dtype);
// Reductions over `axes` (empty = all).
Value sum(Value x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Value reduce_max(Value x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Value reduce_min(Value x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Value mean(Value x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
// [..., m, k] x [..., k, n].
Value matmul(Value a, Value b);
// Movement.
Value reshape(Value x, const Shape& shape);
Value permute(Value x, const std::vector<int64_t>& axes);
Value expand(Value x, const Shape& shape);
Value slice(Value x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
            const std::vector<int64_t>& steps = {});
Value pad(Value x, const std::vector<int64_t>& before, const std::vector<int64_t>& after,
          double value = 0);
Value concat(const std::vector<Value>& values, int64_t axis);

template <class T>
Value GraphBuilder::constant(const std::vector<T>& values, const Shape& shape,
                             const std::string& name) {
  DType dtype;
  if constexpr (std::is_same_v<T, float>) dtype = tgrack::v1::DTYPE_F32;
  else if constexpr (std::is_same_v<T, double>) dtype = tgrack::v1::DTYPE_F64;
  else if constexpr (std::is_same_v<T, int32_t>) dtype = tgrack::v1::DTYPE_I32;
  else if constexpr (std::is_same_v<T, int64_t>) dtype = tgrack::v1::DTYPE_I64;
  else static_assert(sizeof(T) == 0, "constant<T>: T must be float, double, int32_t or int64_t");
  HostTensor tensor(TensorType{dtype, shape});
  if (static_cast<int64_t>(values.size()) != tensor.elements()) {
    if (error_.ok()) {
      error_ = absl::InvalidArgumentError(
          "constant '" + name + "': " + std::to_string(values.size()) + " values for shape " +
          shape_string(shape));
    }
    return Value();
  }
  std::copy(values.begin(), values.end(), tensor.values<T>().begin());
  return constant(tensor, name);
}

}  // namespace tg
