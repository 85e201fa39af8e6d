// Adding up tgrack.v1.JobUsage: a job's usage is the sum of its fragments' (on one daemon)
// and of its daemons' (on the controller). Integer counts saturate at 2^64 - 1 rather than
// wrap, so a sum never reads less than a part.
#pragma once

#include <cstdint>
#include <limits>

#include "tgrack/v1/common.pb.h"

namespace tg {

inline uint64_t saturating_add(uint64_t a, uint64_t b) {
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<uint64_t>::max() : sum;
}

inline void add_usage(tgrack::v1::JobUsage& total, const tgrack::v1::JobUsage& part) {
  total.set_flops(saturating_add(total.flops(), part.flops()));
  total.set_device_seconds(total.device_seconds() + part.device_seconds());
  total.set_bytes_moved(saturating_add(total.bytes_moved(), part.bytes_moved()));
  total.set_peak_memory_bytes(saturating_add(total.peak_memory_bytes(), part.peak_memory_bytes()));
}

}  // namespace tg
