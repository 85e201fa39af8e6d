// Reductions: sum, reduce_max, reduce_min and mean over any axes.
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>

#include "devices/cpu/element.h"
#include "devices/cpu/kernels.h"
#include "devices/cpu/strided.h"
#include "devices/graph/type_rules.h"

namespace tg::cpu {
namespace {

namespace v1 = tgrack::v1;

// acc[j] = combine(acc[j], x) for every input x that reduces into output element j, then
// out[j] = finish(acc[j]).
template <DType In, DType Out, class Acc, class Combine, class Finish>
void reduce_loop(const Kernel& k, const std::byte* in, std::byte* out, Acc init, Combine combine,
                 Finish finish) {
  const Shape& shape = k.inputs[0].shape;
  const std::vector<int> axes = *reduction_axes(*k.node, static_cast<int>(shape.size()));
  Shape kept = shape;
  for (int a : axes) kept[a] = 1;
  std::vector<int64_t> out_strides = dense_strides(kept);
  for (int a : axes) out_strides[a] = 0;

  const size_t outputs = static_cast<size_t>(num_elements(kept));
  std::unique_ptr<Acc[]> acc(new Acc[outputs]);  // Not vector: vector<bool> has no bool&.
  std::fill(acc.get(), acc.get() + outputs, init);
  const auto* x = reinterpret_cast<const typename Elem<In>::Storage*>(in);
  const int64_t n = row_length(shape), so = row_step(out_strides);
  for_each_row<2>(shape, {dense_strides(shape), out_strides}, {0, 0}, [&](auto off) {
    for (int64_t i = 0; i < n; ++i) {
      Acc& a = acc[off[1] + i * so];
      a = combine(a, Elem<In>::load(x[off[0] + i]));
    }
  });
  auto* y = reinterpret_cast<typename Elem<Out>::Storage*>(out);
  for (size_t j = 0; j < outputs; ++j) y[j] = Elem<Out>::store(finish(acc[j]));
}

template <DType D>
void reduce(const Kernel& k, const std::byte* in, std::byte* out) {
  using C = typename Elem<D>::Compute;
  const OpKind op = k.node->op();
  if (op == v1::OP_SUM || op == v1::OP_MEAN) {
    if constexpr (std::is_floating_point_v<C>) {
      // Elements per output; an empty mean is 0 / 0 = NaN.
      const double count = static_cast<double>(k.inputs[0].elements()) /
                           static_cast<double>(std::max<int64_t>(k.output.elements(), 1));
      const bool mean = op == v1::OP_MEAN;
      // The f64 results are stored as the cast op does, so f16/bf16 round only once.
      std::vector<std::byte> wide(static_cast<size_t>(k.output.elements()) * sizeof(double));
      reduce_loop<D, v1::DTYPE_F64>(
          k, in, wide.data(), 0.0, [](double a, C x) { return a + static_cast<double>(x); },
          [&](double a) { return mean ? a / count : a; });
      cast_elements(v1::DTYPE_F64, wide.data(), D, out, k.output.elements());
    } else {
      constexpr DType Out = std::is_same_v<C, bool> ? v1::DTYPE_I64 : D;
      using OutC = typename Elem<Out>::Compute;
      reduce_loop<D, Out>(
          k, in, out, uint64_t{0},
          [](uint64_t a, C x) { return a + static_cast<uint64_t>(static_cast<int64_t>(x)); },
          [](uint64_t a) { return static_cast<OutC>(static_cast<int64_t>(a)); });
    }
    return;
  }
  const bool is_max = op == v1::OP_REDUCE_MAX;
  C init;
  if constexpr (std::is_floating_point_v<C>) {
    init = is_max ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
  } else {
    init = is_max ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
  }
  auto pick = [is_max](C a, C x) {
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(a) || std::isnan(x)) return std::isnan(a) ? a : x;
    }
    return (is_max ? x > a : x < a) ? x : a;
  };
  reduce_loop<D, D>(k, in, out, init, pick, [](C a) { return a; });
}

}  // namespace

void run_reduction(const Kernel& k, Inputs inputs, std::byte* output) {
  visit_dtype(k.inputs[0].dtype, [&]<DType D>() { reduce<D>(k, inputs[0], output); });
}

}  // namespace tg::cpu
