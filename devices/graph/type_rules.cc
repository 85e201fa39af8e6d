#include "devices/graph/type_rules.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "devices/checked_size.h"

namespace tg {
namespace {

using tgrack::v1::Node;
namespace v1 = tgrack::v1;

absl::Status invalid(auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); }

// Position in the promotion order; f16 and bf16 share a rank.
int promotion_rank(DType d) {
  switch (d) {
    case v1::DTYPE_BOOL: return 0;
    case v1::DTYPE_I32: return 1;
    case v1::DTYPE_I64: return 2;
    case v1::DTYPE_F16:
    case v1::DTYPE_BF16: return 3;
    case v1::DTYPE_F32: return 4;
    case v1::DTYPE_F64: return 5;
    default: return -1;
  }
}

std::string short_op(OpKind op) {
  std::string name = op_name(op);
  if (name.rfind("OP_", 0) == 0) name = name.substr(3);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

absl::StatusOr<TensorType> infer_binary(const Node& node, const TensorType& a,
                                        const TensorType& b) {
  const OpKind op = node.op();
  if (a.dtype == v1::DTYPE_BOOL && b.dtype == v1::DTYPE_BOOL && !is_comparison_op(op) &&
      op != v1::OP_MAX && op != v1::OP_MIN) {
    return invalid(short_op(op), " of two bool operands is not defined: ", a.str(), " and ",
                   b.str(), "; cast first");
  }
  const Shape shapes[] = {a.shape, b.shape};
  auto shape = broadcast_shapes(shapes);
  if (!shape.ok()) return shape.status();
  const DType dtype = is_comparison_op(op) ? v1::DTYPE_BOOL : promote_types(a.dtype, b.dtype);
  return TensorType{dtype, *std::move(shape)};
}

absl::StatusOr<TensorType> infer_matmul(const TensorType& a, const TensorType& b) {
  const std::string both = absl::StrCat(a.str(), " x ", b.str());
  if (a.shape.size() < 2 || b.shape.size() < 2) {
    return invalid("matmul needs operands of rank >= 2 (reshape first): ", both);
  }
  const DType dtype = promote_types(a.dtype, b.dtype);
  if (a.dtype == v1::DTYPE_BOOL || b.dtype == v1::DTYPE_BOOL)
    return invalid("matmul of bool is not defined: ", both, "; cast first");
  const int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back();
  const int64_t k2 = b.shape[b.shape.size() - 2], n = b.shape.back();
  if (k != k2) return invalid("inner dimensions differ: ", both);
  const Shape batches[] = {Shape(a.shape.begin(), a.shape.end() - 2),
                           Shape(b.shape.begin(), b.shape.end() - 2)};
  auto batch = broadcast_shapes(batches);
  if (!batch.ok()) return invalid("batch dimensions do not broadcast: ", both);
  Shape shape = *std::move(batch);
  shape.push_back(m);
  shape.push_back(n);
  return TensorType{dtype, std::move(shape)};
}

absl::StatusOr<TensorType> infer_reduction(const Node& node, const TensorType& in) {
  const int rank = static_cast<int>(in.shape.size());
  auto axes = reduction_axes(node, rank);
  if (!axes.ok()) return axes.status();
  if (node.op() == v1::OP_MEAN && !is_floating(in.dtype)) {
    return invalid("mean needs a floating input, got ", in.str(), "; cast first");
  }
  Shape shape;
  for (int d = 0; d < rank; ++d) {
    const bool reduced = std::find(axes->begin(), axes->end(), d) != axes->end();
    if (reduced && in.shape[d] == 0 &&
        (node.op() == v1::OP_REDUCE_MAX || node.op() == v1::OP_REDUCE_MIN)) {
      return invalid(short_op(node.op()), " over empty axis ", d, " of ", in.str(),
                     " has no identity");
    }
    if (!reduced)
      shape.push_back(in.shape[d]);
    else if (node.keepdims())
      shape.push_back(1);
  }
  DType dtype = in.dtype;
  if (node.op() == v1::OP_SUM && dtype == v1::DTYPE_BOOL) dtype = v1::DTYPE_I64;
  return TensorType{dtype, std::move(shape)};
}

absl::StatusOr<TensorType> infer_reshape(const Node& node, const TensorType& in) {
  Shape shape(node.shape().begin(), node.shape().end());
  int inferred = -1;
  int64_t known = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      if (inferred >= 0)
        return invalid("reshape target ", shape_string(shape), " has more than one -1");
      inferred = static_cast<int>(d);
    } else if (shape[d] < 0) {
      return invalid("reshape target ", shape_string(shape), " has a negative dim");
    } else {
      auto product =
          checked_mul(known, shape[d], absl::StrCat("reshape target ", shape_string(shape)));
      if (!product.ok()) return product.status();
      known = *product;
    }
  }
  if (inferred >= 0) {
    if (known == 0 || in.elements() % known != 0) {
      return invalid("cannot reshape ", in.str(), " (", in.elements(), " elements) to ",
                     shape_string(shape));
    }
    shape[inferred] = in.elements() / known;
  } else if (known != in.elements()) {
    return invalid("cannot reshape ", in.str(), " (", in.elements(), " elements) to ",
                   shape_string(shape), " (", known, " elements)");
  }
  return TensorType{in.dtype, std::move(shape)};
}

absl::StatusOr<TensorType> infer_permute(const Node& node, const TensorType& in) {
  const size_t rank = in.shape.size();
  std::vector<bool> seen(rank, false);
  bool ok = static_cast<size_t>(node.axes_size()) == rank;
  Shape shape;
  for (int64_t axis : node.axes()) {
    if (!ok || axis < 0 || axis >= static_cast<int64_t>(rank) || seen[axis]) {
      ok = false;
      break;
    }
    seen[axis] = true;
    shape.push_back(in.shape[axis]);
  }
  if (!ok) {
    return invalid("axes [", absl::StrJoin(node.axes(), ","), "] are not a permutation of [0, ",
                   rank, ") for ", in.str());
  }
  return TensorType{in.dtype, std::move(shape)};
}

absl::StatusOr<TensorType> infer_expand(const Node& node, const TensorType& in) {
  Shape shape(node.shape().begin(), node.shape().end());
  auto fail = [&](absl::string_view why) {
    return invalid("cannot expand ", in.str(), " to ", shape_string(shape), ": ", why);
  };
  if (shape.size() < in.shape.size()) return fail("target rank is smaller");
  const size_t lead = shape.size() - in.shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) return fail("negative dim");
    if (d >= lead && in.shape[d - lead] != 1 && in.shape[d - lead] != shape[d]) {
      return fail(absl::StrCat("dim ", d, " is neither 1 nor equal"));
    }
  }
  if (auto elements = checked_elements(shape, "expand target"); !elements.ok()) {
    return elements.status();
  }
  return TensorType{in.dtype, std::move(shape)};
}

absl::StatusOr<TensorType> infer_slice(const Node& node, const TensorType& in) {
  auto dims = slice_dims(node, in.shape);
  if (!dims.ok()) return dims.status();
  Shape shape;
  for (const SliceDim& d : *dims) shape.push_back(d.size);
  return TensorType{in.dtype, std::move(shape)};
}

bool representable(double value, DType dtype) {
  switch (dtype) {
    case v1::DTYPE_BOOL: return value == 0 || value == 1;
    case v1::DTYPE_I32:
      return std::trunc(value) == value && value >= std::numeric_limits<int32_t>::min() &&
             value <= std::numeric_limits<int32_t>::max();
    case v1::DTYPE_I64: return std::trunc(value) == value && value >= -0x1p63 && value < 0x1p63;
    default: return true;  // Floats round to nearest; NaN and inf are representable.
  }
}

absl::StatusOr<TensorType> infer_pad(const Node& node, const TensorType& in) {
  const size_t rank = in.shape.size();
  if (static_cast<size_t>(node.pad_before_size()) != rank ||
      static_cast<size_t>(node.pad_after_size()) != rank) {
    return invalid("pad_before and pad_after need ", rank, " entries for ", in.str(), ", got ",
                   node.pad_before_size(), " and ", node.pad_after_size());
  }
  Shape shape = in.shape;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t before = node.pad_before(d), after = node.pad_after(d);
    if (before < 0 || after < 0) return invalid("negative padding on dim ", d);
    const std::string field = absl::StrCat("padded dim ", d, " of ", in.str());
    auto padded = checked_add(shape[d], before, field);
    if (padded.ok()) padded = checked_add(*padded, after, field);
    if (!padded.ok()) return padded.status();
    shape[d] = *padded;
  }
  if (!representable(node.pad_value(), in.dtype)) {
    return invalid("pad_value ", node.pad_value(), " is not representable in ",
                   std::string(dtype_name(in.dtype)));
  }
  return TensorType{in.dtype, std::move(shape)};
}

absl::StatusOr<TensorType> infer_concat(const Node& node, std::span<const TensorType> inputs) {
  const int rank = static_cast<int>(inputs[0].shape.size());
  auto axis = concat_axis(node, rank);
  if (!axis.ok()) return axis.status();
  Shape shape = inputs[0].shape;
  DType dtype = inputs[0].dtype;
  for (size_t i = 1; i < inputs.size(); ++i) {
    const TensorType& t = inputs[i];
    bool agree = static_cast<int>(t.shape.size()) == rank;
    for (int d = 0; agree && d < rank; ++d) agree = d == *axis || t.shape[d] == shape[d];
    if (!agree) {
      return invalid("concat inputs must agree except along axis ", *axis, ": ", inputs[0].str(),
                     " and ", t.str());
    }
    auto joined = checked_add(shape[*axis], t.shape[*axis],
                              absl::StrCat("concatenated dim ", *axis, " (input ", i, ")"));
    if (!joined.ok()) return joined.status();
    shape[*axis] = *joined;
    dtype = promote_types(dtype, t.dtype);
  }
  return TensorType{dtype, std::move(shape)};
}

absl::StatusOr<TensorType> infer_leaf(const Node& node) {
  if (node.op() == v1::OP_CONSTANT) {
    auto value = HostTensor::from_proto(node.value(), "value");
    if (!value.ok()) return value.status();
    return value->type();
  }
  if (dtype_size(node.dtype()) == 0) return invalid("input dtype is unspecified or unknown");
  Shape shape(node.shape().begin(), node.shape().end());
  for (int64_t d : shape) {
    if (d < 0) return invalid("input shape ", shape_string(shape), " has a negative dim");
  }
  if (auto elements = checked_elements(shape, "input"); !elements.ok()) return elements.status();
  return TensorType{node.dtype(), std::move(shape)};
}

}  // namespace

std::string op_name(OpKind op) {
  if (!tgrack::v1::OpKind_IsValid(op)) return absl::StrCat("OP_", static_cast<int>(op));
  return tgrack::v1::OpKind_Name(op);
}

int op_arity(OpKind op) {
  if (op == v1::OP_INPUT || op == v1::OP_CONSTANT || op == v1::OP_RECV) return 0;
  if (is_internal_op(op)) return 1;
  if (is_unary_op(op) || is_reduction_op(op) || op == v1::OP_CAST) return 1;
  if (is_binary_op(op) || op == v1::OP_MATMUL) return 2;
  if (op == v1::OP_WHERE) return 3;
  if (op == v1::OP_RESHAPE || op == v1::OP_PERMUTE || op == v1::OP_EXPAND || op == v1::OP_SLICE ||
      op == v1::OP_PAD) {
    return 1;
  }
  if (op == v1::OP_CONCAT) return -1;
  return -2;
}

bool is_internal_op(OpKind op) {
  return op == v1::OP_RECV || op == v1::OP_SEND || op == v1::OP_ALL_REDUCE ||
         op == v1::OP_ALL_GATHER;
}

bool is_unary_op(OpKind op) { return op >= v1::OP_NEG && op <= v1::OP_TANH; }
bool is_binary_op(OpKind op) { return op >= v1::OP_ADD && op <= v1::OP_GE; }
bool is_comparison_op(OpKind op) { return op >= v1::OP_EQ && op <= v1::OP_GE; }
bool is_reduction_op(OpKind op) { return op >= v1::OP_SUM && op <= v1::OP_MEAN; }

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (promotion_rank(a) == 3 && promotion_rank(b) == 3) return v1::DTYPE_F32;  // f16 with bf16.
  return promotion_rank(a) >= promotion_rank(b) ? a : b;
}

absl::StatusOr<Shape> broadcast_shapes(std::span<const Shape> shapes) {
  Shape out;
  for (const Shape& s : shapes) out.resize(std::max(out.size(), s.size()), 1);
  for (size_t k = 0; k < shapes.size(); ++k) {
    const Shape& s = shapes[k];
    const size_t lead = out.size() - s.size();
    for (size_t d = 0; d < s.size(); ++d) {
      int64_t& o = out[lead + d];
      if (s[d] == o || s[d] == 1) continue;
      if (o != 1) {
        std::vector<std::string> names;
        for (const Shape& t : shapes) names.push_back(shape_string(t));
        return invalid("shapes ", absl::StrJoin(names, " and "), " do not broadcast");
      }
      o = s[d];
    }
  }
  return out;
}

absl::StatusOr<TensorType> infer_type(const Node& node, std::span<const TensorType> inputs) {
  const OpKind op = node.op();
  const int arity = op_arity(op);
  if (arity == -2) return invalid("unknown op ", static_cast<int>(op));
  if ((arity >= 0 && static_cast<int>(inputs.size()) != arity) || (arity == -1 && inputs.empty())) {
    return invalid("takes ", arity >= 0 ? absl::StrCat(arity) : "one or more", " inputs, got ",
                   inputs.size());
  }
  if (arity == 0) return infer_leaf(node);
  const TensorType& in = inputs[0];
  if (is_unary_op(op)) {
    const bool float_only = op != v1::OP_NEG && op != v1::OP_RELU;
    if (float_only && !is_floating(in.dtype)) {
      return invalid(short_op(op), " needs a floating input, got ", in.str(), "; cast first");
    }
    if (in.dtype == v1::DTYPE_BOOL) {
      return invalid(short_op(op), " of bool is not defined: ", in.str(), "; cast first");
    }
    return in;
  }
  if (is_binary_op(op)) return infer_binary(node, in, inputs[1]);
  if (is_reduction_op(op)) return infer_reduction(node, in);
  switch (op) {
    case v1::OP_WHERE: {
      if (in.dtype != v1::DTYPE_BOOL) return invalid("condition must be bool, got ", in.str());
      const Shape shapes[] = {in.shape, inputs[1].shape, inputs[2].shape};
      auto shape = broadcast_shapes(shapes);
      if (!shape.ok()) return shape.status();
      return TensorType{promote_types(inputs[1].dtype, inputs[2].dtype), *std::move(shape)};
    }
    case v1::OP_CAST:
      if (dtype_size(node.dtype()) == 0)
        return invalid("cast target dtype is unspecified or unknown");
      return TensorType{node.dtype(), in.shape};
    case v1::OP_MATMUL: return infer_matmul(in, inputs[1]);
    case v1::OP_RESHAPE: return infer_reshape(node, in);
    case v1::OP_PERMUTE: return infer_permute(node, in);
    case v1::OP_EXPAND: return infer_expand(node, in);
    case v1::OP_SLICE: return infer_slice(node, in);
    case v1::OP_PAD: return infer_pad(node, in);
    case v1::OP_CONCAT: return infer_concat(node, inputs);
    case v1::OP_SEND:
    case v1::OP_ALL_REDUCE: return in;
    case v1::OP_ALL_GATHER: {
      if (in.shape.empty()) return invalid("all_gather needs an input of rank >= 1, got ", in.str());
      const uint32_t world = node.collective().world_size();
      if (world == 0) return invalid("all_gather needs collective.world_size >= 1");
      TensorType out = in;
      auto gathered =
          checked_mul(in.shape[0], world, "all_gather dim 0 times collective.world_size");
      if (!gathered.ok()) return gathered.status();
      out.shape[0] = *gathered;
      return out;
    }
    default: return invalid("unknown op ", static_cast<int>(op));
  }
}

absl::StatusOr<std::vector<int>> reduction_axes(const Node& node, int rank) {
  std::vector<int> axes;
  for (int64_t axis : node.axes()) {
    if (axis < -rank || axis >= rank) {
      return invalid("axis ", axis, " is out of range for rank ", rank);
    }
    const int a = static_cast<int>(axis < 0 ? axis + rank : axis);
    if (std::find(axes.begin(), axes.end(), a) != axes.end()) {
      return invalid("axis ", axis, " is repeated");
    }
    axes.push_back(a);
  }
  if (node.axes().empty()) {
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

absl::StatusOr<std::vector<SliceDim>> slice_dims(const Node& node, const Shape& in) {
  const size_t rank = in.size();
  if (static_cast<size_t>(node.starts_size()) != rank ||
      static_cast<size_t>(node.ends_size()) != rank ||
      (node.steps_size() != 0 && static_cast<size_t>(node.steps_size()) != rank)) {
    return invalid("slice of rank ", rank, " needs ", rank,
                   " starts and ends (and steps, if any), got ", node.starts_size(), ", ",
                   node.ends_size(), " and ", node.steps_size());
  }
  std::vector<SliceDim> dims(rank);
  for (size_t d = 0; d < rank; ++d) {
    auto clamp = [&](int64_t i) { return std::clamp(i < 0 ? i + in[d] : i, int64_t{0}, in[d]); };
    const int64_t start = clamp(node.starts(d)), end = clamp(node.ends(d));
    const int64_t step = node.steps().empty() ? 1 : node.steps(d);
    if (step <= 0) return invalid("slice step ", step, " on dim ", d, " is not positive");
    dims[d] = {start, step, end > start ? 1 + (end - start - 1) / step : 0};
  }
  return dims;
}

absl::StatusOr<int> concat_axis(const Node& node, int rank) {
  if (rank == 0) return invalid("cannot concat scalars (reshape to rank 1 first)");
  const int64_t axis = node.axis();
  if (axis < -rank || axis >= rank)
    return invalid("axis ", axis, " is out of range for rank ", rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace tg
