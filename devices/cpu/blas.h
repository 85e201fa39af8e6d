// Dense f32 and f64 GEMM from OpenBLAS (row-major, C = A B, A is m x k, B is k x n), loaded
// with dlopen on first use instead of linked.
//
// OpenBLAS keeps about 60 KiB of thread-local storage. A library linked at start has its
// thread-local storage in the static TLS block, which glibc carves from the stack of every
// thread the process creates, so threads that libraries start with small fixed stacks lose
// most of them: the metrics endpoint's CivetWeb workers (100 KiB) kept about 35 KiB and
// overflowed while writing an error page. Loaded later, the storage is allocated only for the
// threads that call into OpenBLAS, off their stacks.
//
// False when OpenBLAS cannot be loaded (the caller then computes the product itself).
#pragma once

#include <cstdint>

namespace tg::cpu {

bool blas_gemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);
bool blas_gemm(int64_t m, int64_t n, int64_t k, const double* a, const double* b, double* c);

}  // namespace tg::cpu
