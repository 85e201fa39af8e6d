#include "devices/dtype.h"

#include <bit>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "devices/tensor.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(v1::DTYPE_F32), 4u);
  EXPECT_EQ(dtype_size(v1::DTYPE_BF16), 2u);
  EXPECT_EQ(dtype_size(v1::DTYPE_I64), 8u);
  EXPECT_EQ(dtype_size(v1::DTYPE_BOOL), 1u);
  EXPECT_EQ(dtype_size(v1::DTYPE_UNSPECIFIED), 0u);
  for (DType d : {v1::DTYPE_F32, v1::DTYPE_F16, v1::DTYPE_BF16, v1::DTYPE_F64, v1::DTYPE_I32,
                  v1::DTYPE_I64, v1::DTYPE_BOOL}) {
    EXPECT_EQ(*parse_dtype(dtype_name(d)), d);
  }
  auto bad = parse_dtype("float");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'float'"), std::string::npos);
  EXPECT_TRUE(is_floating(v1::DTYPE_BF16));
  EXPECT_FALSE(is_floating(v1::DTYPE_I32));
  EXPECT_TRUE(is_integer(v1::DTYPE_I64));
  EXPECT_FALSE(is_integer(v1::DTYPE_BOOL));
}

TEST(Half, RoundsTiesToEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(1.0f + 0x1p-11f), 0x3c00);             // Tie, 0x3c00 is even.
  EXPECT_EQ(float_to_half(1.0f + 3 * 0x1p-11f), 0x3c02);         // Tie, rounds up to even.
  EXPECT_EQ(float_to_half(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);  // Just above the tie.
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
}

TEST(Half, OverflowsToInfinity) {
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // Tie between 65504 and 2^16: goes to inf.
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);
  EXPECT_EQ(float_to_half(-1e6f), 0xfc00);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7c00);
}

TEST(Half, Subnormals) {
  EXPECT_EQ(float_to_half(0x1p-14f), 0x0400);      // Smallest normal.
  EXPECT_EQ(float_to_half(0x1p-24f), 0x0001);      // Smallest subnormal.
  EXPECT_EQ(float_to_half(0x1p-25f), 0x0000);      // Tie with 0: even.
  EXPECT_EQ(float_to_half(0x1.8p-24f), 0x0002);    // Tie between 1 and 2: even.
  EXPECT_EQ(float_to_half(0x1.1p-25f), 0x0001);    // Above the tie.
  EXPECT_EQ(float_to_half(0x1.ff8p-15f), 0x03ff);  // Largest subnormal.
  EXPECT_EQ(float_to_half(0x1.ffcp-15f), 0x0400);  // Tie: rounds up into the normals.
  EXPECT_EQ(half_to_float(0x0001), 0x1p-24f);
  EXPECT_EQ(half_to_float(0x8200), -0x1p-15f);
}

TEST(Half, NanStaysNan) {
  EXPECT_EQ(float_to_half(std::nanf("")) & 0x7c00, 0x7c00);
  EXPECT_NE(float_to_half(std::nanf("")) & 0x3ff, 0);
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_TRUE(std::isinf(half_to_float(0xfc00)));
}

TEST(Half, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), h) << std::hex << h;
  }
}

TEST(BFloat16, RoundsTiesToEvenAndOverflows) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(1.0f + 0x1p-8f), 0x3f80);      // Tie: even.
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * 0x1p-8f), 0x3f82);  // Tie: up to even.
  EXPECT_EQ(float_to_bfloat16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::max()), 0x7f80);  // Rounds to inf.
  EXPECT_EQ(float_to_bfloat16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
  EXPECT_EQ(bfloat16_to_float(0x4049), 3.140625f);
}

TEST(Tensor, ProtoRoundTripAndChecks) {
  HostTensor t(TensorType{v1::DTYPE_I32, {2, 3}});
  for (int i = 0; i < 6; ++i) t.values<int32_t>()[i] = i * 7;
  EXPECT_EQ(t.type().str(), "i32[2,3]");
  auto back = HostTensor::from_proto(t.to_proto(), "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->type(), t.type());
  EXPECT_EQ(back->values<int32_t>()[5], 35);

  tgrack::v1::Tensor short_data = t.to_proto();
  short_data.mutable_data()->pop_back();
  auto bad = HostTensor::from_proto(short_data, "x");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("tensor 'x': i32[2,3] needs 24 bytes of data, got 23"),
            std::string::npos)
      << bad.status();

  tgrack::v1::Tensor negative;
  negative.set_dtype(v1::DTYPE_F32);
  negative.add_shape(-1);
  EXPECT_NE(HostTensor::from_proto(negative, "n").status().message().find("negative"),
            std::string::npos);
  tgrack::v1::Tensor untyped;
  EXPECT_NE(HostTensor::from_proto(untyped, "u").status().message().find("dtype"),
            std::string::npos);
  EXPECT_EQ(num_elements({}), 1);
  EXPECT_EQ(num_elements({3, 0}), 0);
}

}  // namespace
}  // namespace tg
