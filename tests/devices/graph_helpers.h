// Test helpers: building graphs, making tensors from doubles, reading them back, and an
// independent reference for broadcasting (index arithmetic in plain loops).
#pragma once

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "devices/cpu/cpu_device.h"
#include "devices/graph/graph_api.h"
#include "devices/tensor.h"

namespace tg::testing {

namespace v1 = tgrack::v1;
constexpr DType F32 = v1::DTYPE_F32, F16 = v1::DTYPE_F16, BF16 = v1::DTYPE_BF16,
                F64 = v1::DTYPE_F64, I32 = v1::DTYPE_I32, I64 = v1::DTYPE_I64,
                BOOL = v1::DTYPE_BOOL;

class GraphBuilder {
 public:
  v1::Node& node(const std::string& name, v1::OpKind op,
                 std::initializer_list<std::string> inputs = {}) {
    v1::Node* n = graph_.add_nodes();
    n->set_name(name);
    n->set_op(op);
    for (const std::string& in : inputs) n->add_inputs(in);
    return *n;
  }
  v1::Node& input(const std::string& name, DType dtype, const Shape& shape) {
    v1::Node& n = node(name, v1::OP_INPUT);
    n.set_dtype(dtype);
    for (int64_t d : shape) n.add_shape(d);
    return n;
  }
  GraphBuilder& output(const std::string& name) {
    graph_.add_outputs(name);
    return *this;
  }
  v1::Graph& graph() { return graph_; }

 private:
  v1::Graph graph_;
};

// Exact for every value representable in `dtype`.
inline void store_double(DType dtype, double v, std::byte* p) {
  switch (dtype) {
    case v1::DTYPE_F32: {
      float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
      break;
    }
    case v1::DTYPE_F64: std::memcpy(p, &v, 8); break;
    case v1::DTYPE_F16: {
      uint16_t h = float_to_half(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case v1::DTYPE_BF16: {
      uint16_t h = float_to_bfloat16(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case v1::DTYPE_I32: {
      int32_t i = static_cast<int32_t>(v);
      std::memcpy(p, &i, 4);
      break;
    }
    case v1::DTYPE_I64: {
      int64_t i = static_cast<int64_t>(v);
      std::memcpy(p, &i, 8);
      break;
    }
    default: {
      uint8_t b = v != 0;
      std::memcpy(p, &b, 1);
      break;
    }
  }
}

inline double load_double(DType dtype, const std::byte* p) {
  switch (dtype) {
    case v1::DTYPE_F32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case v1::DTYPE_F64: {
      double d;
      std::memcpy(&d, p, 8);
      return d;
    }
    case v1::DTYPE_F16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return half_to_float(h);
    }
    case v1::DTYPE_BF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return bfloat16_to_float(h);
    }
    case v1::DTYPE_I32: {
      int32_t i;
      std::memcpy(&i, p, 4);
      return i;
    }
    case v1::DTYPE_I64: {
      int64_t i;
      std::memcpy(&i, p, 8);
      return static_cast<double>(i);
    }
    default: {
      uint8_t b;
      std::memcpy(&b, p, 1);
      return b;
    }
  }
}

inline HostTensor tensor(DType dtype, const Shape& shape, const std::vector<double>& values) {
  HostTensor t(TensorType{dtype, shape});
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.elements());
  for (size_t i = 0; i < values.size(); ++i)
    store_double(dtype, values[i], t.data() + i * dtype_size(dtype));
  return t;
}

inline std::vector<double> values(const HostTensor& t) {
  std::vector<double> out(t.elements());
  for (int64_t i = 0; i < t.elements(); ++i)
    out[i] = load_double(t.dtype(), t.data() + i * dtype_size(t.dtype()));
  return out;
}

// Deterministic pseudo-random values in [lo, hi), rounded to `dtype` so the reference sees
// exactly what the device sees.
inline std::vector<double> sample(DType dtype, int64_t n, double lo, double hi, uint32_t seed = 1) {
  std::vector<double> out(n);
  uint32_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    double v = lo + (hi - lo) * ((s >> 8) / 16777216.0);
    if (dtype == v1::DTYPE_I32 || dtype == v1::DTYPE_I64) v = std::floor(v);
    std::byte tmp[8];
    store_double(dtype, v, tmp);
    out[i] = load_double(dtype, tmp);
  }
  return out;
}

// Flat offset into a dense tensor of `in` for output multi-index of flat position `flat` in
// `out`, with NumPy broadcasting.
inline int64_t broadcast_offset(int64_t flat, const Shape& out, const Shape& in) {
  int64_t offset = 0, stride = 1;
  for (int d = static_cast<int>(out.size()) - 1, e = static_cast<int>(in.size()) - 1; e >= 0;
       --d, --e) {
    const int64_t index = flat % out[d];
    flat /= out[d];
    if (in[e] != 1) offset += index * stride;
    stride *= in[e];
  }
  return offset;
}

// Runs a graph on a fresh cpu device and returns its outputs; fails the test on error.
inline std::vector<HostTensor> run(GraphBuilder& b,
                                   const std::vector<std::pair<std::string, HostTensor>>& feeds) {
  CpuDevice device("cpu0", uint64_t{1} << 30, 1);
  std::vector<HostTensor> tensors;
  std::vector<std::string> names;
  for (const auto& [name, t] : feeds) {
    names.push_back(name);
    tensors.push_back(t);
  }
  auto result = run_graph(device, b.graph(), tensors, names);
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(device.memory_used(), 0u);
  return result.ok() ? *std::move(result) : std::vector<HostTensor>{};
}

inline absl::Status run_status(GraphBuilder& b,
                               const std::vector<std::pair<std::string, HostTensor>>& feeds) {
  CpuDevice device("cpu0", uint64_t{1} << 30, 1);
  std::vector<HostTensor> tensors;
  std::vector<std::string> names;
  for (const auto& [name, t] : feeds) {
    names.push_back(name);
    tensors.push_back(t);
  }
  auto result = run_graph(device, b.graph(), tensors, names);
  EXPECT_EQ(device.memory_used(), 0u);
  return result.status();
}

// |got - want| within rel * max(1, |want|), treating NaN == NaN and equal infinities as equal.
inline void expect_near_all(const std::vector<double>& got, const std::vector<double>& want,
                            double rel) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], rel * std::max(1.0, std::fabs(want[i]))) << "at " << i;
    }
  }
}

// Relative tolerance of one rounding to `dtype` (plus slack for f32 library functions).
inline double tolerance(DType dtype) {
  switch (dtype) {
    case v1::DTYPE_F64: return 1e-12;
    case v1::DTYPE_F32: return 1e-6;
    case v1::DTYPE_F16: return 1e-3;
    case v1::DTYPE_BF16: return 8e-3;
    default: return 0;
  }
}

}  // namespace tg::testing
