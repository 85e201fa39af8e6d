// The type, broadcasting and shape rules of the graph IR (NumPy's, narrowed where NumPy is
// silently surprising). Validation and every backend's kernels follow exactly these rules.
//
// Promotion (binary ops, where, matmul, concat): bool < i32 < i64 < {f16, bf16} < f32 < f64;
//   the result is the larger type, except f16 with bf16 gives f32. Operands are converted to
//   the result type first (bool -> 0/1), then the op runs in that type.
// Compute: f16 and bf16 are computed in f32 and rounded to nearest even when stored; f32 in
//   f32 (sum/mean accumulate in f64); f64 in f64; integers in their own width, wrapping on
//   overflow (two's complement). Sums of integers accumulate in i64 and wrap on store.
// Broadcasting: shapes align at the right; each pair of dims must be equal or one of them 1;
//   the result takes the larger (a dim of 0 with 1 gives 0).
// Unary: neg and relu take any type but bool; exp, log, sqrt, sigmoid, tanh take floating
//   types only; an integer or bool input is INVALID_ARGUMENT ("... cast first").
// Binary: add, sub, mul, div, pow need at least one non-bool operand; max and min of two
//   bools are or and and. Integer div is floor division (rounds toward negative infinity, as
//   Python's //) and pow of integers is exact repeated multiplication; integer division by
//   zero and an integer raised to a negative power fail at run time with INVALID_ARGUMENT
//   naming the node. Floating div, pow, max, min follow IEEE (max/min propagate NaN).
//   Comparisons (eq, ne, lt, le, gt, ge) compare in the promoted type and give bool.
// Where: condition must be bool; then/else promote; all three broadcast together.
// Cast: any type to any type. Float to integer truncates toward zero, saturates at the
//   target's range and maps NaN to 0; to bool is "!= 0" (NaN is true); integer narrowing wraps;
//   to f16/bf16 rounds to nearest even once (from f64 and i64 too, without double rounding).
// Reductions: axes in [-rank, rank), no repeats, empty = all; keepdims keeps them as 1.
//   sum keeps the type (bool sums to i64); reduce_max/min keep it (over bool: any/all) and
//   need every reduced dim non-empty; mean needs a floating input (empty mean is NaN).
// Matmul: both ranks >= 2, [..., m, k] x [..., k, n] -> [..., m, n]; batch dims broadcast;
//   a bool operand is refused, with any other operand (cast first). Like every promoting op,
//   it converts both operands to the result type first (i32 x f16 multiplies f16 values).
// Movement: reshape keeps the element count (one dim may be -1 when the others' product is
//   non-zero); permute takes a permutation of [0, rank); expand broadcasts the input to the
//   target shape (rank >= input rank); slice takes starts/ends per dim (negative counts from
//   the end, both clamped to [0, dim]) and positive steps; pad takes non-negative
//   pad_before/pad_after per dim and a pad_value exactly representable in the dtype; concat
//   takes one or more inputs of equal rank >= 1 that agree except along `axis`.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/tensor.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

using OpKind = tgrack::v1::OpKind;

// "OP_MATMUL"; "OP_<number>" for a value outside the enum.
std::string op_name(OpKind op);
// Inputs the op takes: an exact count, -1 for "one or more" (concat), -2 for an unknown op.
int op_arity(OpKind op);

// RECV, SEND, ALL_REDUCE, ALL_GATHER: written only by the controller's planner.
bool is_internal_op(OpKind op);
bool is_unary_op(OpKind op);
bool is_binary_op(OpKind op);  // Includes comparisons.
bool is_comparison_op(OpKind op);
bool is_reduction_op(OpKind op);

DType promote_types(DType a, DType b);

// Broadcast shape of all `shapes`; INVALID_ARGUMENT "shapes [2,3] and [4] do not broadcast".
absl::StatusOr<Shape> broadcast_shapes(std::span<const Shape> shapes);

// Output type of `node` given its inputs' types, checking every dtype, shape and attribute
// rule above. INVALID_ARGUMENT stating the rule broken (the caller names the node).
// Leaves: INPUT and RECV use the declared dtype/shape; CONSTANT the value's. SEND and
// ALL_REDUCE keep their input's type; ALL_GATHER multiplies dim 0 (rank >= 1) by
// collective.world_size.
absl::StatusOr<TensorType> infer_type(const tgrack::v1::Node& node,
                                      std::span<const TensorType> inputs);

// Normalized attributes shared by validation and kernels. Callers pass validated nodes.
// Reduced axes, sorted, in [0, rank); all axes when the node lists none.
absl::StatusOr<std::vector<int>> reduction_axes(const tgrack::v1::Node& node, int rank);
// One dim of a slice: first index, stride and number of elements taken.
struct SliceDim {
  int64_t start = 0;
  int64_t step = 1;
  int64_t size = 0;
};
absl::StatusOr<std::vector<SliceDim>> slice_dims(const tgrack::v1::Node& node, const Shape& in);
// Concat axis in [0, rank).
absl::StatusOr<int> concat_axis(const tgrack::v1::Node& node, int rank);

}  // namespace tg
