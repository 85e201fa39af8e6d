// Elementwise ops: unary, binary (arithmetic and comparisons, with broadcasting) and where.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>

#include "devices/cpu/element.h"
#include "devices/cpu/kernels.h"
#include "devices/cpu/strided.h"
#include "devices/graph/type_rules.h"

namespace tg::cpu {
namespace {

namespace v1 = tgrack::v1;

template <class C>
C wrap_neg(C a) {
  if constexpr (std::is_integral_v<C>)
    return static_cast<C>(0 - static_cast<std::make_unsigned_t<C>>(a));
  else
    return -a;
}
template <class C>
C wrap_add(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <class C>
C wrap_sub(C a, C b) {
  return wrap_add(a, wrap_neg(b));
}
template <class C>
C wrap_mul(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}
// Floor division; the caller has checked b != 0.
template <class C>
C floor_div(C a, C b) {
  if (b == -1) return wrap_neg(a);
  C q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}
// The caller has checked exponent >= 0.
template <class C>
C int_pow(C base, C exponent) {
  using U = std::make_unsigned_t<C>;
  U result = 1, b = static_cast<U>(base);
  for (U e = static_cast<U>(exponent); e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<C>(result);
}
template <class C>
C nan_max(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return b > a ? b : a;
}
template <class C>
C nan_min(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return b < a ? b : a;
}

// Elements between checks of a kernel's stop flag in unary loops: a few milliseconds.
constexpr int64_t kStopCheckElements = int64_t{1} << 22;

bool stopped(const std::atomic<bool>* stop) {
  return stop != nullptr && stop->load(std::memory_order_relaxed);
}

// In blocks of elements, so a cancelled run (Kernel::stop) ends at the next block.
template <DType D, class F>
void unary_loop(ThreadPool* pool, const std::atomic<bool>* stop, const std::byte* in,
                std::byte* out, int64_t n, F f) {
  using E = Elem<D>;
  const auto* x = reinterpret_cast<const typename E::Storage*>(in);
  auto* y = reinterpret_cast<typename E::Storage*>(out);
  for (int64_t first = 0; first < n && !stopped(stop); first += kStopCheckElements) {
    const int64_t count = std::min(kStopCheckElements, n - first);
    parallel_range(pool, count, [&](int64_t begin, int64_t end) {
      for (int64_t i = first + begin; i < first + end; ++i) y[i] = E::store(f(E::load(x[i])));
    });
  }
}

// out = f(a, b) with a and b of dtype P broadcast to the output's shape; the output has dtype O.
template <DType P, DType O, class F>
void binary_loop(ThreadPool* pool, const Kernel& k, const std::byte* a, const std::byte* b,
                 std::byte* out, F f) {
  using EP = Elem<P>;
  using EO = Elem<O>;
  const auto* x = reinterpret_cast<const typename EP::Storage*>(a);
  const auto* z = reinterpret_cast<const typename EP::Storage*>(b);
  auto* y = reinterpret_cast<typename EO::Storage*>(out);
  const Shape& shape = k.output.shape;
  const std::array<std::vector<int64_t>, 3> strides = {dense_strides(shape),
                                                       broadcast_strides(k.inputs[0].shape, shape),
                                                       broadcast_strides(k.inputs[1].shape, shape)};
  const int64_t n = row_length(shape), sa = row_step(strides[1]), sb = row_step(strides[2]);
  for_each_row_parallel<3>(pool, shape, strides, [&](auto off) {
    if (k.stop_requested()) return;  // A cancelled run ends at the next row.
    if (sa == 1 && sb == 1) {  // The common dense case, kept simple for the vectorizer.
      for (int64_t i = 0; i < n; ++i) {
        y[off[0] + i] = EO::store(f(EP::load(x[off[1] + i]), EP::load(z[off[2] + i])));
      }
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      y[off[0] + i] = EO::store(f(EP::load(x[off[1] + i * sa]), EP::load(z[off[2] + i * sb])));
    }
  });
}

template <DType P>
absl::Status binary(ThreadPool* pool, const Kernel& k, const std::byte* a, const std::byte* b,
                    std::byte* out) {
  using C = typename Elem<P>::Compute;
  constexpr DType B = v1::DTYPE_BOOL;
  switch (k.node->op()) {
    case v1::OP_EQ:
      binary_loop<P, B>(pool, k, a, b, out, [](C x, C y) { return x == y; });
      return {};
    case v1::OP_NE:
      binary_loop<P, B>(pool, k, a, b, out, [](C x, C y) { return x != y; });
      return {};
    case v1::OP_LT:
      binary_loop<P, B>(pool, k, a, b, out, [](C x, C y) { return x < y; });
      return {};
    case v1::OP_LE:
      binary_loop<P, B>(pool, k, a, b, out, [](C x, C y) { return x <= y; });
      return {};
    case v1::OP_GT:
      binary_loop<P, B>(pool, k, a, b, out, [](C x, C y) { return x > y; });
      return {};
    case v1::OP_GE:
      binary_loop<P, B>(pool, k, a, b, out, [](C x, C y) { return x >= y; });
      return {};
    case v1::OP_MAX: binary_loop<P, P>(pool, k, a, b, out, nan_max<C>); return {};
    case v1::OP_MIN: binary_loop<P, P>(pool, k, a, b, out, nan_min<C>); return {};
    default: break;
  }
  if constexpr (std::is_same_v<C, bool>) {
    return absl::InternalError("arithmetic on bool operands");
  } else {
    switch (k.node->op()) {
      case v1::OP_ADD: binary_loop<P, P>(pool, k, a, b, out, wrap_add<C>); return {};
      case v1::OP_SUB: binary_loop<P, P>(pool, k, a, b, out, wrap_sub<C>); return {};
      case v1::OP_MUL: binary_loop<P, P>(pool, k, a, b, out, wrap_mul<C>); return {};
      case v1::OP_DIV:
        if constexpr (std::is_integral_v<C>) {
          std::atomic<bool> by_zero = false;
          binary_loop<P, P>(pool, k, a, b, out, [&](C x, C y) {
            if (y == 0) {
              by_zero = true;
              return C(0);
            }
            return floor_div(x, y);
          });
          if (by_zero) return absl::InvalidArgumentError("integer division by zero");
        } else {
          binary_loop<P, P>(pool, k, a, b, out, [](C x, C y) { return x / y; });
        }
        return {};
      case v1::OP_POW:
        if constexpr (std::is_integral_v<C>) {
          std::atomic<bool> negative = false;
          binary_loop<P, P>(pool, k, a, b, out, [&](C x, C y) {
            if (y < 0) {
              negative = true;
              return C(0);
            }
            return int_pow(x, y);
          });
          if (negative) return absl::InvalidArgumentError("integer to a negative integer power");
        } else {
          binary_loop<P, P>(pool, k, a, b, out, [](C x, C y) { return std::pow(x, y); });
        }
        return {};
      default: return absl::InternalError("not a binary op");
    }
  }
}

template <DType D>
absl::Status unary(ThreadPool* pool, const Kernel& k, const std::byte* in, std::byte* out) {
  using C = typename Elem<D>::Compute;
  const int64_t n = k.output.elements();
  if constexpr (std::is_same_v<C, bool>) {
    return absl::InternalError("unary op on bool");
  } else {
    switch (k.node->op()) {
      case v1::OP_NEG: unary_loop<D>(pool, k.stop, in, out, n, wrap_neg<C>); return {};
      case v1::OP_RELU:
        unary_loop<D>(pool, k.stop, in, out, n, [](C x) { return x < C(0) ? C(0) : x; });
        return {};
      default: break;
    }
    if constexpr (std::is_floating_point_v<C>) {
      switch (k.node->op()) {
        case v1::OP_EXP:
          unary_loop<D>(pool, k.stop, in, out, n, [](C x) { return std::exp(x); });
          return {};
        case v1::OP_LOG:
          unary_loop<D>(pool, k.stop, in, out, n, [](C x) { return std::log(x); });
          return {};
        case v1::OP_SQRT:
          unary_loop<D>(pool, k.stop, in, out, n, [](C x) { return std::sqrt(x); });
          return {};
        case v1::OP_TANH:
          unary_loop<D>(pool, k.stop, in, out, n, [](C x) { return std::tanh(x); });
          return {};
        case v1::OP_SIGMOID:
          // exp(x) / (1 + exp(x)) below 0: 1 / (1 + exp(-x)) would overflow exp to inf and
          // give 0 where the result is subnormal.
          unary_loop<D>(pool, k.stop, in, out, n, [](C x) {
            return x >= C(0) ? C(1) / (C(1) + std::exp(-x)) : std::exp(x) / (C(1) + std::exp(x));
          });
          return {};
        default: break;
      }
    }
    return absl::InternalError("unary op needs a floating input");
  }
}

}  // namespace

absl::Status run_unary(const Kernel& k, Inputs inputs, std::byte* output, ThreadPool* pool) {
  return visit_dtype(k.output.dtype,
                     [&]<DType D>() { return unary<D>(pool, k, inputs[0], output); });
}

absl::Status run_binary(const Kernel& k, Inputs inputs, std::byte* output, ThreadPool* pool) {
  const DType p = promote_types(k.inputs[0].dtype, k.inputs[1].dtype);
  std::vector<std::byte> scratch_a, scratch_b;
  const std::byte* a = as_dtype(k.inputs[0], inputs[0], p, scratch_a);
  const std::byte* b = as_dtype(k.inputs[1], inputs[1], p, scratch_b);
  return visit_dtype(p, [&]<DType P>() { return binary<P>(pool, k, a, b, output); });
}

void run_where(const Kernel& k, Inputs inputs, std::byte* output, ThreadPool* pool) {
  std::vector<std::byte> scratch_a, scratch_b;
  const DType d = k.output.dtype;
  const std::byte* a = as_dtype(k.inputs[1], inputs[1], d, scratch_a);
  const std::byte* b = as_dtype(k.inputs[2], inputs[2], d, scratch_b);
  const size_t size = dtype_size(d);
  const Shape& shape = k.output.shape;
  const std::array<std::vector<int64_t>, 4> strides = {
      dense_strides(shape), broadcast_strides(k.inputs[0].shape, shape),
      broadcast_strides(k.inputs[1].shape, shape), broadcast_strides(k.inputs[2].shape, shape)};
  const int64_t n = row_length(shape);
  const int64_t sc = row_step(strides[1]), sa = row_step(strides[2]), sb = row_step(strides[3]);
  const auto* cond = reinterpret_cast<const uint8_t*>(inputs[0]);
  for_each_row_parallel<4>(pool, shape, strides, [&](auto off) {
    for (int64_t i = 0; i < n; ++i) {
      const std::byte* src =
          cond[off[1] + i * sc] ? a + (off[2] + i * sa) * size : b + (off[3] + i * sb) * size;
      std::memcpy(output + (off[0] + i) * size, src, size);
    }
  });
}

}  // namespace tg::cpu
