// The calibration's fit of one link from the times it takes over it: latency and sustained
// rate from a small message and a probe sent right after another, the burst from what a
// probe after a pause did not wait for.
#include <algorithm>

#include <gtest/gtest.h>

#include "collectives/calibration.h"

namespace tg::coll {
namespace {

constexpr size_t kSmallBytes = 64;
constexpr size_t kProbeBytes = 1 << 20;

// One-way time of `bytes` over a link of `alpha`, `bytes_per_s` and a full bucket of `burst`.
double one_way(double alpha, double bytes_per_s, double burst, double bytes) {
  return alpha + std::max(0.0, bytes - burst) / bytes_per_s;
}

TEST(CalibrationFit, ReadsTheSustainedRateAndTheBurstOfAShapedLink) {
  // 200 Mbit/s with a 128 KiB bucket, as tc tbf shapes the 4x4 racks' uplinks.
  const double alpha = 20e-6, rate = 25e6, burst = 128 << 10;
  auto link = fit_link(one_way(alpha, rate, 0, kSmallBytes), one_way(alpha, rate, 0, kProbeBytes),
                       one_way(alpha, rate, burst, kProbeBytes), kSmallBytes, kProbeBytes);
  ASSERT_TRUE(link.has_value());
  EXPECT_NEAR(link->alpha_s, alpha, 1e-9);
  EXPECT_NEAR(1 / link->beta_s_per_byte, rate, rate * 1e-6);
  EXPECT_NEAR(link->burst_bytes, burst, 1);
}

TEST(CalibrationFit, AnUnshapedLinkHasNoBurstThoughTheRestedProbeWasAFewPercentFaster) {
  // Scheduling moves a probe's time by a few percent either way: 3% faster is not a burst.
  const double alpha = 15e-6, rate = 2.5e9;
  const double drained = one_way(alpha, rate, 0, kProbeBytes);
  auto link = fit_link(alpha, drained, 0.97 * drained, kSmallBytes, kProbeBytes);
  ASSERT_TRUE(link.has_value());
  EXPECT_EQ(link->burst_bytes, 0);
  link = fit_link(alpha, drained, 1.2 * drained, kSmallBytes, kProbeBytes);
  ASSERT_TRUE(link.has_value());
  EXPECT_EQ(link->burst_bytes, 0);
}

TEST(CalibrationFit, ABurstAsLargeAsTheProbeReadsAsTheProbe) {
  // A rested probe that waited for nothing shows a bucket of at least its size.
  const double alpha = 20e-6, rate = 25e6;
  auto link = fit_link(one_way(alpha, rate, 0, kSmallBytes), one_way(alpha, rate, 0, kProbeBytes),
                       one_way(alpha, rate, kProbeBytes, kProbeBytes), kSmallBytes, kProbeBytes);
  ASSERT_TRUE(link.has_value());
  EXPECT_EQ(link->burst_bytes, kProbeBytes);
}

TEST(CalibrationFit, AProbeFasterThanASmallMessageIsNoFit) {
  EXPECT_FALSE(fit_link(50e-6, 40e-6, 40e-6, kSmallBytes, kProbeBytes).has_value());
}

}  // namespace
}  // namespace tg::coll
