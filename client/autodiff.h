// Reverse-mode automatic differentiation over a GraphBuilder's graph, so that a training step
// (forward pass, gradients, parameter update) is one graph.
//
//   absl::StatusOr<std::vector<Value>> gradients(Value loss, const std::vector<Value>& wrt);
//
// Appends to `loss`'s builder the nodes computing d(loss)/d(x) for every x in `wrt` and returns
// them in that order, each with x's dtype and shape. `loss` must be a floating scalar (shape []);
// every Value must come from the loss's builder, and the graph so far must validate
// (tg::validate_graph), which is where types and shapes come from. Otherwise INVALID_ARGUMENT
// naming the problem; nothing is appended then.
//
// - Gradient flows only along edges whose both ends are floating (f16, bf16, f32, f64): bool,
//   integer and comparison paths carry none, nor does where's condition. A contribution is
//   summed in the consumer's dtype and then cast to the producer's.
// - A wrt value the loss does not depend on (through such edges) gets zeros: a scalar constant
//   0 of its dtype, expanded to its shape.
// - Several contributions to one value are accumulated with add.
// - Broadcasting (binary ops, where, matmul batch dims, expand) is undone by summing over the
//   added leading axes and the axes where the input had size 1, then reshaping.
// - At non-differentiable points: relu passes no gradient at 0; maximum/minimum give it to the
//   first input on ties; reduce_max/reduce_min give the full gradient to every position equal
//   to the result (each tied position gets all of it); pow's gradient to the exponent is 0
//   where the base is <= 0.
// - An op with no rule on a path from wrt to loss is INVALID_ARGUMENT naming the node and op
//   (every op a client may submit has a rule).
// Emitted nodes are named "grad/<forward node>/<op>" (the seed is "grad/<loss>/seed"), with a
// numeric suffix when a name is taken, so gradients() may run several times on one builder.
#pragma once

#include <vector>

#include <absl/status/statusor.h>

#include "client/graph_builder.h"

namespace tg {

absl::StatusOr<std::vector<Value>> gradients(Value loss, const std::vector<Value>& wrt);

}  // namespace tg
