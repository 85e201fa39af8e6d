// The reply size check: outputs that fit one message pass, one byte more is
// RESOURCE_EXHAUSTED naming the outputs, the size, the limit and the remedy.
#include "controller/reply_size.h"

#include <gtest/gtest.h>

#include "net/rpc.h"

namespace tg {
namespace {

using tgrack::v1::DTYPE_F32;

TEST(ReplySize, OutputsUpToTheMessageLimitPass) {
  EXPECT_TRUE(check_returned_outputs({}).ok());
  // Two f32 outputs of half the limit each: exactly the default limit together.
  const int64_t quarter = kDefaultMessageLimit / 8;
  EXPECT_TRUE(check_returned_outputs({{"a", TensorType{DTYPE_F32, {quarter}}},
                                      {"b", TensorType{DTYPE_F32, {quarter}}}})
                  .ok());
}

TEST(ReplySize, OneByteOverTheLimitIsResourceExhaustedNamingEverything) {
  const int64_t quarter = kDefaultMessageLimit / 8;
  const absl::Status status = check_returned_outputs(
      {{"a", TensorType{DTYPE_F32, {quarter}}}, {"b", TensorType{DTYPE_F32, {quarter + 1}}}});
  ASSERT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(status.message(),
            "the reply with outputs (a: f32[8388608], b: f32[8388609]) needs 67108868 "
            "bytes, more than the message limit of 67108864 bytes; keep large results on the "
            "pool as remote tensors (RunOptions keep)");
}

TEST(ReplySize, ASumThatOverflowsIsInvalidNotWrapped) {
  const TensorType huge{DTYPE_F32, {int64_t{1} << 60}};  // 2^62 bytes each.
  const absl::Status status = check_returned_outputs({{"a", huge}, {"b", huge}});
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("bytes of the returned outputs: 4611686018427387904 + "
                                  "4611686018427387904 does not fit in a 64-bit size"),
            std::string::npos)
      << status;
}

}  // namespace
}  // namespace tg
