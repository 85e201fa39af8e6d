// The differential test's comparison of a result from the pool with the reference's.
// Integers and bool, and floats from ops that round at most once (casts, movement, where,
// neg, relu, max, min, comparisons, reduce_max/min), must equal the reference exactly.
// Other float results must lie within a bound derived, per dtype and op, from the op's
// error analysis (see compare.cc); NaN must be where the reference has NaN, and an infinity
// where the exact result is infinite. The sign of a zero is not compared.
#pragma once

#include <string>

#include "ref_values.h"

namespace tg::differential {

// Empty when `actual` agrees with `expected`; otherwise names the first few elements that
// do not, with both values and the bound. `partials` is the number of partial results the
// pool may have rounded to the dtype and combined (the shard count of a sharded run, 0 on
// one device).
std::string compare(const RefTensor& expected, const HostTensor& actual, int partials);

// The largest |actual - exact| allowed for element i of `expected` (0 for exact ops).
long double error_bound(const RefTensor& expected, int64_t i, int partials);

}  // namespace tg::differential
