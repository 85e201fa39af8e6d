#include "tests/hip/kernel_cases.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include <gtest/gtest.h>

#include "devices/cpu/kernels.h"
#include "devices/dtype.h"

namespace tg::hiptest {
namespace {

namespace v1 = tgrack::v1;

constexpr DType kF32 = v1::DTYPE_F32, kF64 = v1::DTYPE_F64, kF16 = v1::DTYPE_F16,
                kBF16 = v1::DTYPE_BF16, kI32 = v1::DTYPE_I32, kI64 = v1::DTYPE_I64,
                kBool = v1::DTYPE_BOOL;

// Transcendental results may differ by an ulp between libms; one ulp of the stored type is
// allowed (four for f32, whose device functions are accurate to a few ulps).
double transcendental_tolerance(DType d) {
  switch (d) {
    case v1::DTYPE_F16: return 0x1p-10;
    case v1::DTYPE_BF16: return 0x1p-7;
    case v1::DTYPE_F32: return 0x1p-21;
    default: return 0x1p-50;
  }
}

double smallest_normal(DType d) {
  switch (d) {
    case v1::DTYPE_F16: return 0x1p-14;
    case v1::DTYPE_F64: return 0x1p-1022;
    default: return 0x1p-126;
  }
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t in(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

template <class T>
std::vector<std::byte> bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Random 16-bit patterns (NaNs, infinities, subnormals included), after a few fixed ones.
std::vector<uint16_t> bits16(size_t n, Rng& rng) {
  std::vector<uint16_t> v = {0x0000, 0x8000, 0x3c00, 0x3f80, 0x7c00, 0xfc00, 0x7f80, 0x7e00,
                             0x7fc0, 0x0001, 0x8001, 0x03ff, 0x7bff, 0x4000, 0xc000, 0x3555};
  while (v.size() < n) v.push_back(static_cast<uint16_t>(rng.next()));
  v.resize(n);
  return v;
}

// Random finite 16-bit values of moderate size (|x| in [2^-6, 2^6]), for transcendentals.
std::vector<uint16_t> moderate16(DType d, size_t n, Rng& rng) {
  std::vector<uint16_t> v;
  while (v.size() < n) {
    const double x = std::ldexp(static_cast<double>(rng.in(-4096, 4096)) / 4096, rng.in(-6, 6));
    const float f = static_cast<float>(x);
    v.push_back(d == kF16 ? float_to_half(f) : float_to_bfloat16(f));
  }
  return v;
}

std::vector<float> special_floats() {
  const float inf = std::numeric_limits<float>::infinity();
  return {0.0f, -0.0f, 1.0f, -2.5f, inf, -inf, std::nanf(""), 65504.0f, 65520.0f, 65519.99f,
          0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-149f, 3e38f, -3e38f, 0x1.0040p0f, 0x1.0020p0f};
}

std::vector<float> random_floats(size_t n, Rng& rng) {
  std::vector<float> v = special_floats();
  while (v.size() < n) {
    v.push_back(static_cast<float>(std::ldexp(static_cast<double>(rng.in(-1 << 20, 1 << 20)),
                                              static_cast<int>(rng.in(-40, 0)))));
  }
  v.resize(n);
  return v;
}

std::string part(const std::string& s) { return s; }
std::string part(const char* s) { return s; }
std::string part(DType d) { return std::string(dtype_name(d)); }
// A case label from strings and dtypes: label("OP_ADD_", kF16) is "OP_ADD_f16".
template <class... Parts>
std::string label(const Parts&... parts) {
  return (std::string() + ... + part(parts));
}

v1::Node node(v1::OpKind op) {
  v1::Node n;
  n.set_name("n");
  n.set_op(op);
  return n;
}

v1::Node cast_to(DType d) {
  v1::Node n = node(v1::OP_CAST);
  n.set_dtype(d);
  return n;
}

class Builder {
 public:
  void add(std::string name, v1::Node n, std::vector<TensorType> in, TensorType out,
           std::vector<std::vector<std::byte>> data, double tolerance = 0) {
    KernelCase c;
    c.label = std::move(name);
    c.node = std::move(n);
    c.inputs = std::move(in);
    c.output = std::move(out);
    c.data = std::move(data);
    c.tolerance = tolerance;
    cases.push_back(std::move(c));
  }
  std::vector<KernelCase> cases;
};

// Every f16/bf16 pattern to f32; f32 patterns around every rounding boundary to f16/bf16;
// f64 and integers that a double rounding would get wrong; the other casts from and to 16 bits.
void conversions(Builder& b, Rng& rng) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  const int64_t n16 = static_cast<int64_t>(all.size());
  b.add("cast_f16_f32_all", cast_to(kF32), {{kF16, {n16}}}, {kF32, {n16}}, {bytes(all)});
  b.add("cast_bf16_f32_all", cast_to(kF32), {{kBF16, {n16}}}, {kF32, {n16}}, {bytes(all)});

  std::vector<uint32_t> sweep;
  const uint32_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000,
                           0x3000, 0x7fff, 0x8000, 0x8001, 0xefff, 0xffff};
  for (uint32_t high = 0; high < 65536; ++high) {
    for (uint32_t low : lows) sweep.push_back(high << 16 | low);
    sweep.push_back(high << 16 | static_cast<uint32_t>(rng.next() & 0xffff));
  }
  const int64_t ns = static_cast<int64_t>(sweep.size());
  b.add("cast_f32_f16_sweep", cast_to(kF16), {{kF32, {ns}}}, {kF16, {ns}}, {bytes(sweep)});
  b.add("cast_f32_bf16_sweep", cast_to(kBF16), {{kF32, {ns}}}, {kBF16, {ns}}, {bytes(sweep)});

  // Midpoints between neighbouring 16-bit values, exactly and one f64 ulp either side: a
  // conversion through f32 with round-to-nearest would round some of these twice.
  for (DType d : {kF16, kBF16}) {
    std::vector<double> mids;
    for (uint32_t p = 0; p < 0x7fff; ++p) {
      const uint16_t lo = static_cast<uint16_t>(p), hi = static_cast<uint16_t>(p + 1);
      const double a = d == kF16 ? half_to_float(lo) : bfloat16_to_float(lo);
      const double c = d == kF16 ? half_to_float(hi) : bfloat16_to_float(hi);
      if (!std::isfinite(a) || !std::isfinite(c)) continue;
      const double mid = (a + c) / 2;
      for (double x : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, 1e300)}) {
        mids.push_back(x);
        mids.push_back(-x);
      }
    }
    mids.push_back(std::nan(""));
    mids.push_back(1e300);
    mids.push_back(-std::numeric_limits<double>::infinity());
    const int64_t nm = static_cast<int64_t>(mids.size());
    b.add(label("cast_f64_", d, "_midpoints"), cast_to(d), {{kF64, {nm}}}, {d, {nm}},
          {bytes(mids)});
  }

  std::vector<int64_t> wide = {0, 1, -1, 2049, 2051, -2051, 4097, (1 << 24) + 1, 65520, 65519,
                               std::numeric_limits<int64_t>::max(),
                               std::numeric_limits<int64_t>::min(), (int64_t{1} << 53) + 1};
  while (wide.size() < 4096) {
    wide.push_back(static_cast<int64_t>(rng.next()) >> rng.in(0, 62));
  }
  std::vector<int32_t> narrow_ints;
  for (int64_t x : wide) narrow_ints.push_back(static_cast<int32_t>(x));
  b.add("cast_i64_f16", cast_to(kF16), {{kI64, {4096}}}, {kF16, {4096}}, {bytes(wide)});
  b.add("cast_i64_bf16", cast_to(kBF16), {{kI64, {4096}}}, {kBF16, {4096}}, {bytes(wide)});
  b.add("cast_i32_bf16", cast_to(kBF16), {{kI32, {4096}}}, {kBF16, {4096}},
        {bytes(narrow_ints)});

  const std::vector<uint16_t> r = bits16(4096, rng);
  b.add("cast_f16_i32", cast_to(kI32), {{kF16, {4096}}}, {kI32, {4096}}, {bytes(r)});
  b.add("cast_bf16_i64", cast_to(kI64), {{kBF16, {4096}}}, {kI64, {4096}}, {bytes(r)});
  b.add("cast_bf16_i32", cast_to(kI32), {{kBF16, {4096}}}, {kI32, {4096}}, {bytes(r)});
  b.add("cast_f16_bool", cast_to(kBool), {{kF16, {4096}}}, {kBool, {4096}}, {bytes(r)});
  b.add("cast_f16_bf16", cast_to(kBF16), {{kF16, {4096}}}, {kBF16, {4096}}, {bytes(r)});
  b.add("cast_bf16_f16", cast_to(kF16), {{kBF16, {4096}}}, {kF16, {4096}}, {bytes(r)});
  b.add("cast_bf16_f64", cast_to(kF64), {{kBF16, {4096}}}, {kF64, {4096}}, {bytes(r)});
  b.add("cast_bool_f16", cast_to(kF16), {{kBool, {4}}}, {kF16, {4}},
        {bytes<uint8_t>({0, 1, 1, 0})});
}

// f16/bf16 arithmetic computed in f32 and rounded once: exact.
void narrow_arithmetic(Builder& b, Rng& rng) {
  for (DType d : {kF16, kBF16}) {
    const std::vector<std::byte> x = bytes(bits16(64 * 64, rng)), y = bytes(bits16(64, rng));
    for (v1::OpKind op : {v1::OP_ADD, v1::OP_SUB, v1::OP_MUL, v1::OP_DIV, v1::OP_MAX,
                          v1::OP_MIN}) {
      b.add(label(v1::OpKind_Name(op), "_", d), node(op), {{d, {64, 64}}, {d, {64}}},
            {d, {64, 64}}, {x, y});
    }
    for (v1::OpKind op : {v1::OP_LT, v1::OP_EQ}) {
      b.add(label(v1::OpKind_Name(op), "_", d), node(op), {{d, {64, 64}}, {d, {64}}},
            {kBool, {64, 64}}, {x, y});
    }
    for (v1::OpKind op : {v1::OP_NEG, v1::OP_RELU}) {
      b.add(label(v1::OpKind_Name(op), "_", d), node(op), {{d, {64, 64}}}, {d, {64, 64}},
            {x});
    }
  }
  const std::vector<std::byte> h = bytes(bits16(256, rng)), g = bytes(bits16(256, rng));
  b.add("add_f16_bf16_is_f32", node(v1::OP_ADD), {{kF16, {256}}, {kBF16, {256}}}, {kF32, {256}},
        {h, g});
  std::vector<int32_t> ints;
  for (int i = 0; i < 256; ++i) ints.push_back(static_cast<int32_t>(rng.in(-70000, 70000)));
  b.add("mul_i32_f16_is_f16", node(v1::OP_MUL), {{kI32, {256}}, {kF16, {256}}}, {kF16, {256}},
        {bytes(ints), h});
  b.add("ge_bool_bf16", node(v1::OP_GE), {{kBool, {2}}, {kBF16, {256, 2}}}, {kBool, {256, 2}},
        {bytes<uint8_t>({1, 0}), g});
}

void narrow_transcendentals(Builder& b, Rng& rng) {
  for (DType d : {kF16, kBF16}) {
    const std::vector<std::byte> x = bytes(moderate16(d, 2048, rng));
    const std::vector<std::byte> y = bytes(moderate16(d, 2048, rng));
    const double tol = transcendental_tolerance(d);
    for (v1::OpKind op : {v1::OP_EXP, v1::OP_LOG, v1::OP_SQRT, v1::OP_TANH, v1::OP_SIGMOID}) {
      b.add(label(v1::OpKind_Name(op), "_", d), node(op), {{d, {2048}}}, {d, {2048}}, {x},
            tol);
    }
    b.add(label("OP_POW_", d), node(v1::OP_POW), {{d, {2048}}, {d, {2048}}}, {d, {2048}},
          {x, y}, tol);
  }
}

void narrow_reductions_and_matmul(Builder& b, Rng& rng) {
  const std::vector<std::byte> x = bytes(moderate16(kF16, 8 * 300 * 5, rng));
  const std::vector<std::byte> y = bytes(moderate16(kBF16, 8 * 300 * 5, rng));
  v1::Node sum = node(v1::OP_SUM);
  sum.add_axes(1);
  b.add("sum_f16_axis1", sum, {{kF16, {8, 300, 5}}}, {kF16, {8, 5}}, {x});
  b.add("sum_bf16_axis1", sum, {{kBF16, {8, 300, 5}}}, {kBF16, {8, 5}}, {y});
  b.add("mean_bf16_all", node(v1::OP_MEAN), {{kBF16, {8, 300, 5}}}, {kBF16, {}}, {y});
  v1::Node mx = node(v1::OP_REDUCE_MAX);
  mx.add_axes(0);
  mx.add_axes(2);
  const std::vector<std::byte> z = bytes(bits16(8 * 300 * 5, rng));  // With NaNs.
  b.add("reduce_max_f16_nan", mx, {{kF16, {8, 300, 5}}}, {kF16, {300}}, {z});
  v1::Node mn = node(v1::OP_REDUCE_MIN);
  mn.add_axes(-1);
  b.add("reduce_min_bf16", mn, {{kBF16, {8, 300, 5}}}, {kBF16, {8, 300}}, {y});

  // Quarters in [-2, 2]: every product and partial sum is exact in f32, so the order of the
  // additions cannot change the result.
  auto quarters = [&](DType d, size_t n) {
    std::vector<uint16_t> v;
    for (size_t i = 0; i < n; ++i) {
      const float f = static_cast<float>(rng.in(-8, 8)) / 4;
      v.push_back(d == kF16 ? float_to_half(f) : float_to_bfloat16(f));
    }
    return bytes(v);
  };
  b.add("matmul_f16_batched", node(v1::OP_MATMUL), {{kF16, {2, 19, 21}}, {kF16, {21, 17}}},
        {kF16, {2, 19, 17}}, {quarters(kF16, 2 * 19 * 21), quarters(kF16, 21 * 17)});
  // i32 operands convert to f32 directly, not through bf16 (257 is not a bf16 value).
  std::vector<int32_t> ints;
  for (int i = 0; i < 21 * 9; ++i) ints.push_back(static_cast<int32_t>(rng.in(-300, 300)));
  b.add("matmul_bf16_i32", node(v1::OP_MATMUL), {{kBF16, {13, 21}}, {kI32, {21, 9}}},
        {kBF16, {13, 9}}, {quarters(kBF16, 13 * 21), bytes(ints)});
}

void integer_div_pow(Builder& b, Rng& rng) {
  constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
  constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
  std::vector<int32_t> a = {7, -7, 7, -7, kMin32, kMin32, 0, 5, -1, kMin32};
  std::vector<int32_t> d = {2, 2, -2, -2, -1, 1, 3, kMin32, kMin32, kMin32};
  while (a.size() < 64 * 16) {
    a.push_back(static_cast<int32_t>(rng.next()) >> rng.in(0, 30));
    int32_t v = 0;
    while (v == 0) v = static_cast<int32_t>(rng.in(-40, 40));
    d.push_back(v);
  }
  b.add("div_i32", node(v1::OP_DIV), {{kI32, {64, 16}}, {kI32, {64, 16}}}, {kI32, {64, 16}},
        {bytes(a), bytes(d)});
  std::vector<int64_t> wide = {kMin64, kMin64, -9, 9};
  while (wide.size() < 64) wide.push_back(static_cast<int64_t>(rng.next()));
  b.add("div_i64_by_i32_broadcast", node(v1::OP_DIV), {{kI64, {64, 1}}, {kI32, {16}}},
        {kI64, {64, 16}}, {bytes(wide), bytes(std::vector<int32_t>(d.begin(), d.begin() + 16))});
  std::vector<int32_t> with_zero = {4, 0, 3};
  b.add("div_i32_by_zero_fails", node(v1::OP_DIV), {{kI32, {3}}, {kI32, {3}}}, {kI32, {3}},
        {bytes<int32_t>({1, 2, 3}), bytes(with_zero)});
  b.add("div_bool_by_i64", node(v1::OP_DIV), {{kBool, {4}}, {kI64, {4}}}, {kI64, {4}},
        {bytes<uint8_t>({1, 0, 1, 1}), bytes<int64_t>({1, 5, -1, -3})});

  std::vector<int64_t> base, exponent;
  for (int64_t x = -3; x <= 3; ++x) {
    for (int64_t e : {0, 1, 2, 3, 31, 32, 62, 63, 64, 65}) {
      base.push_back(x);
      exponent.push_back(e);
    }
  }
  while (base.size() < 256) {
    base.push_back(static_cast<int64_t>(rng.next()));
    exponent.push_back(rng.in(0, 200));
  }
  const int64_t nb = static_cast<int64_t>(base.size());
  b.add("pow_i64", node(v1::OP_POW), {{kI64, {nb}}, {kI64, {nb}}}, {kI64, {nb}},
        {bytes(base), bytes(exponent)});
  std::vector<int32_t> base32;
  for (int64_t x : base) base32.push_back(static_cast<int32_t>(x));
  b.add("pow_i32_by_bool", node(v1::OP_POW), {{kI32, {nb}}, {kBool, {1}}}, {kI32, {nb}},
        {bytes(base32), bytes<uint8_t>({1})});
  b.add("pow_i32_negative_exponent_fails", node(v1::OP_POW), {{kI32, {3}}, {kI32, {3}}},
        {kI32, {3}}, {bytes<int32_t>({2, 2, 2}), bytes<int32_t>({1, -1, 2})});
}

void where_cases(Builder& b, Rng& rng) {
  std::vector<uint8_t> cond;
  for (int i = 0; i < 12; ++i) cond.push_back(static_cast<uint8_t>(rng.in(0, 1)));
  b.add("where_f32_broadcast", node(v1::OP_WHERE), {{kBool, {3, 1, 4}}, {kF32, {5, 4}}, {kF32, {}}},
        {kF32, {3, 5, 4}}, {bytes(cond), bytes(random_floats(20, rng)), bytes<float>({-0.5f})});
  b.add("where_i32_f16_is_f16", node(v1::OP_WHERE), {{kBool, {6}}, {kI32, {6}}, {kF16, {1}}},
        {kF16, {6}},
        {bytes<uint8_t>({1, 0, 1, 1, 0, 1}), bytes<int32_t>({1, 2049, -65519, 70000, 3, 4}),
         bytes<uint16_t>({0x3555})});
  b.add("where_bool", node(v1::OP_WHERE), {{kBool, {4}}, {kBool, {4}}, {kBool, {1}}},
        {kBool, {4}}, {bytes<uint8_t>({1, 1, 0, 0}), bytes<uint8_t>({0, 1, 0, 1}),
                       bytes<uint8_t>({1})});
}

v1::Node slice(std::vector<int64_t> starts, std::vector<int64_t> ends,
               std::vector<int64_t> steps) {
  v1::Node n = node(v1::OP_SLICE);
  for (int64_t s : starts) n.add_starts(s);
  for (int64_t e : ends) n.add_ends(e);
  for (int64_t s : steps) n.add_steps(s);
  return n;
}

v1::Node pad(std::vector<int64_t> before, std::vector<int64_t> after, double value) {
  v1::Node n = node(v1::OP_PAD);
  for (int64_t x : before) n.add_pad_before(x);
  for (int64_t x : after) n.add_pad_after(x);
  n.set_pad_value(value);
  return n;
}

v1::Node concat(int64_t axis) {
  v1::Node n = node(v1::OP_CONCAT);
  n.set_axis(axis);
  return n;
}

void movement_cases(Builder& b, Rng& rng) {
  std::vector<int32_t> x(5 * 7 * 6);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int32_t>(i);
  b.add("slice_steps_negative_start", slice({1, -6, 0}, {5, 7, 6}, {2, 3, 1}),
        {{kI32, {5, 7, 6}}}, {kI32, {2, 2, 6}}, {bytes(x)});
  b.add("slice_f16_clamped", slice({-100}, {100}, {4}), {{kF16, {10}}}, {kF16, {3}},
        {bytes(bits16(10, rng))});
  b.add("slice_bool_size_one_dims", slice({1, 0}, {2, 3}, {}), {{kBool, {3, 3}}},
        {kBool, {1, 3}}, {bytes<uint8_t>({0, 0, 0, 1, 0, 1, 0, 1, 0})});

  b.add("pad_i32", pad({1, 0}, {2, 3}, -7), {{kI32, {3, 4}}}, {kI32, {6, 7}},
        {bytes(std::vector<int32_t>(x.begin(), x.begin() + 12))});
  b.add("pad_f16_value_rounds", pad({0, 1, 2}, {1, 0, 0}, 1.1), {{kF16, {2, 3, 2}}},
        {kF16, {3, 4, 4}}, {bytes(bits16(12, rng))});
  b.add("pad_bf16_nan", pad({2}, {1}, std::nan("")), {{kBF16, {3}}}, {kBF16, {6}},
        {bytes(bits16(3, rng))});
  b.add("pad_f64_inf", pad({1, 1}, {0, 1}, -std::numeric_limits<double>::infinity()),
        {{kF64, {2, 2}}}, {kF64, {3, 4}}, {bytes<double>({1, 2, 3, 4})});

  std::vector<int32_t> c0(2 * 3 * 4);
  for (size_t i = 0; i < c0.size(); ++i) c0[i] = static_cast<int32_t>(i * 1001) - 4097;
  b.add("concat_promotes_i32_f16_bf16", concat(1),
        {{kI32, {2, 3, 4}}, {kF16, {2, 0, 4}}, {kBF16, {2, 2, 4}}}, {kF32, {2, 5, 4}},
        {bytes(c0), {}, bytes(bits16(16, rng))});
  b.add("concat_i32_f16_is_f16", concat(-1), {{kI32, {2, 3}}, {kF16, {2, 1}}}, {kF16, {2, 4}},
        {bytes<int32_t>({2049, 2051, -3, 65519, 65520, 7}), bytes(bits16(2, rng))});
  b.add("concat_f64_axis0", concat(0), {{kF64, {1, 2}}, {kF64, {3, 2}}}, {kF64, {4, 2}},
        {bytes<double>({1, 2}), bytes<double>({3, 4, 5, 6, 7, 8})});
  b.add("concat_single_bool", concat(0), {{kBool, {3}}}, {kBool, {3}},
        {bytes<uint8_t>({1, 0, 1})});
}

std::vector<KernelCase> build() {
  Builder b;
  Rng rng(20261125);
  conversions(b, rng);
  narrow_arithmetic(b, rng);
  narrow_transcendentals(b, rng);
  narrow_reductions_and_matmul(b, rng);
  integer_div_pow(b, rng);
  where_cases(b, rng);
  movement_cases(b, rng);
  return std::move(b.cases);
}

// Bit-exact elements, or within the relative tolerance (with one subnormal step of slack).
bool close(double want, double got, double tolerance, DType d) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (want == got) return true;
  return std::fabs(want - got) <=
         tolerance * std::max({std::fabs(want), std::fabs(got), smallest_normal(d)});
}

}  // namespace

const std::vector<KernelCase>& kernel_cases() {
  static const std::vector<KernelCase>* cases = new std::vector<KernelCase>(build());
  return *cases;
}

std::vector<std::string> kernel_case_labels() {
  std::vector<std::string> labels;
  for (const KernelCase& c : kernel_cases()) labels.push_back(c.label);
  return labels;
}

const KernelCase& kernel_case(const std::string& label) {
  for (const KernelCase& c : kernel_cases()) {
    if (c.label == label) return c;
  }
  static const KernelCase none;
  ADD_FAILURE() << "no kernel case " << label;
  return none;
}

Reference cpu_reference(const KernelCase& c) {
  Reference r;
  r.bytes.resize(c.output.bytes());
  std::vector<const std::byte*> inputs;
  for (const auto& d : c.data) inputs.push_back(d.data());
  r.status = cpu::run_kernel(c.kernel(), inputs, r.bytes.data());
  if (!r.status.ok()) r.bytes.clear();
  return r;
}

void expect_matches_cpu(const KernelCase& c, const absl::Status& status,
                        const std::vector<std::byte>& bytes) {
  const Reference want = cpu_reference(c);
  if (!want.status.ok()) {
    EXPECT_EQ(status.code(), want.status.code()) << status;
    EXPECT_EQ(status.message(), want.status.message());
    return;
  }
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(bytes.size(), want.bytes.size());
  const DType d = c.output.dtype;
  const int64_t n = c.output.elements();
  const size_t size = dtype_size(d);
  // Elements compared as f64 (exactly representable for every dtype but i64, compared as
  // bits), reported by index.
  std::vector<double> w(n), g(n);
  if (d != v1::DTYPE_I64) {
    cpu::cast_elements(d, want.bytes.data(), v1::DTYPE_F64,
                       reinterpret_cast<std::byte*>(w.data()), n);
    cpu::cast_elements(d, bytes.data(), v1::DTYPE_F64, reinterpret_cast<std::byte*>(g.data()),
                       n);
  }
  int reported = 0;
  for (int64_t i = 0; i < n && reported < 10; ++i) {
    const bool same = std::memcmp(want.bytes.data() + i * size, bytes.data() + i * size, size) == 0;
    // NaN payloads are not specified (x86 and GPUs propagate different ones): NaN matches NaN.
    const bool both_nan = is_floating(d) && std::isnan(w[i]) && std::isnan(g[i]);
    if (same || both_nan || (c.tolerance > 0 && close(w[i], g[i], c.tolerance, d))) continue;
    uint64_t want_bits = 0, got_bits = 0;
    std::memcpy(&want_bits, want.bytes.data() + i * size, size);
    std::memcpy(&got_bits, bytes.data() + i * size, size);
    ADD_FAILURE() << c.label << " element " << i << ": cpu " << w[i] << " (bits 0x" << std::hex
                  << want_bits << "), got " << g[i] << " (bits 0x" << got_bits << std::dec
                  << ")" << (c.tolerance > 0 ? " beyond tolerance" : "");
    ++reported;
  }
}

}  // namespace tg::hiptest
