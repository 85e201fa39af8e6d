// Elementwise reduction kernels shared by every algorithm and transport.
//
// A Reducer combines two arrays of one dtype with one op: dst[i] = a[i] op b[i], where dst
// may be exactly a or exactly b but must not otherwise overlap them. f16 and bf16 are widened
// to f32 for each combination and rounded back. AVG reduces as SUM; the rank that owns the
// final value calls finalize() once to divide by the world size (integers truncate).
#pragma once

#include <cstddef>
#include <cstdint>

#include <absl/status/statusor.h>

#include "tgrack/v1/collectives.pb.h"
#include "tgrack/v1/common.pb.h"

namespace tg::coll {

using ReduceFn = void (*)(std::byte* dst, const std::byte* a, const std::byte* b, size_t n);
using FinalizeFn = void (*)(std::byte* data, size_t n, uint32_t world);

struct Reducer {
  tgrack::v1::DType dtype = tgrack::v1::DTYPE_UNSPECIFIED;
  tgrack::v1::ReduceOp op = tgrack::v1::REDUCE_OP_UNSPECIFIED;
  size_t elem_size = 1;
  ReduceFn fn = nullptr;
  FinalizeFn finalize = nullptr;  // Non-null only for AVG.

  void operator()(std::byte* dst, const std::byte* a, const std::byte* b, size_t n) const {
    fn(dst, a, b, n);
  }
};

// INVALID_ARGUMENT naming the dtype or op when the pair is not supported (bool, unspecified).
absl::StatusOr<Reducer> make_reducer(tgrack::v1::DType dtype, tgrack::v1::ReduceOp op);

// Short names used in messages and benchmark tables: "sum", "prod", "min", "max", "avg".
const char* reduce_op_name(tgrack::v1::ReduceOp op);
absl::StatusOr<tgrack::v1::ReduceOp> parse_reduce_op(const std::string& name);

}  // namespace tg::coll
