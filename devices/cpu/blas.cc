#include "devices/cpu/blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <spdlog/spdlog.h>

namespace tg::cpu {
namespace {

struct Blas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
};

const Blas& blas() {
  static const Blas loaded = [] {
    Blas b;
    void* library = nullptr;
    for (const char* path : {TG_OPENBLAS_PATH, "libopenblas.so.0"}) {
      if ((library = ::dlopen(path, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    }
    if (library == nullptr) {
      spdlog::warn("OpenBLAS not loaded ({}); f32/f64 matmul runs as a plain loop", ::dlerror());
      return b;
    }
    b.sgemm = reinterpret_cast<decltype(&cblas_sgemm)>(::dlsym(library, "cblas_sgemm"));
    b.dgemm = reinterpret_cast<decltype(&cblas_dgemm)>(::dlsym(library, "cblas_dgemm"));
    return b;
  }();
  return loaded;
}

}  // namespace

bool blas_gemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  if (blas().sgemm == nullptr) return false;
  blas().sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
  return true;
}

bool blas_gemm(int64_t m, int64_t n, int64_t k, const double* a, const double* b, double* c) {
  if (blas().dgemm == nullptr) return false;
  blas().dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, k, b, n, 0.0, c, n);
  return true;
}

}  // namespace tg::cpu
