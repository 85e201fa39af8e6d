// The known values RunCollective fills buffers with when asked to check, and the results a
// correct collective must produce from them. Values are small integers, so every dtype holds
// every input and every reduction exactly (sums up to 7 * world size; products powers of two).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tgrack/v1/collectives.pb.h"
#include "tgrack/v1/common.pb.h"

namespace tg::coll {

// Input element `i` of `rank`.
double pattern_value(tgrack::v1::ReduceOp op, uint32_t rank, uint64_t i);
// The reduction of element `i` over `world` ranks.
double pattern_reduced(tgrack::v1::ReduceOp op, uint32_t world, uint64_t i);

// Writes `value` as element `i` of `data` in `dtype`.
void store_value(tgrack::v1::DType dtype, std::byte* data, uint64_t i, double value);
// True when element `i` of `data` equals `value` converted to `dtype` (AVG of integers
// truncates, as the collective does).
bool holds_value(tgrack::v1::DType dtype, const std::byte* data, uint64_t i, double value);

}  // namespace tg::coll
