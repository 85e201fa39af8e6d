// The differential test's reference evaluator: runs a graph of the IR on the host, one
// node at a time, with plain loops over multi-indices. Each op computes its exact result
// in wide types (long double, __int128), then rounds once to the result dtype; integers
// wrap. Written from graph.proto and the rules in devices/graph/type_rules.h, sharing no
// code with the backends. A graph that must fail (integer division by zero, a negative
// integer power, max/min over an empty axis) gives INVALID_ARGUMENT with the message
// fragment the pool must report.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "ref_values.h"

namespace tg::differential {

// The graph's outputs, in order. The generator's graphs are valid; the reference does not
// re-check the IR's rules.
absl::StatusOr<std::vector<RefTensor>> evaluate(const tgrack::v1::Graph& graph,
                                                const std::map<std::string, HostTensor>& feeds);

// The IR's promotion: bool < i32 < i64 < {f16, bf16} < f32 < f64; f16 with bf16 is f32.
DType promote(DType a, DType b);

}  // namespace tg::differential
