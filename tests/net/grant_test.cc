// Grants signed and checked in-process: what verifies, what is refused and why, the cache of
// verified grants, and keys that outlive a controller restart.
#include "net/grant.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using std::chrono::system_clock;

v1::Grant grant_for(std::vector<uint32_t> devices, system_clock::time_point expires) {
  v1::Grant g;
  g.set_grant_id("g-1");
  g.set_node("node-a");
  for (uint32_t d : devices) g.add_device_indices(d);
  g.set_expires_unix_ms(unix_ms(expires));
  return g;
}

const system_clock::time_point kNow = system_clock::time_point(std::chrono::hours(500000));

TEST(Grant, AValidGrantVerifiesAndTheSameBytesWithAnotherGrantDoNot) {
  auto signer = GrantSigner::generate();
  ASSERT_TRUE(signer.ok());
  GrantVerifier verifier;
  ASSERT_TRUE(verifier.trust(signer->public_key()).ok());
  v1::SignedGrant signed_grant = signer->sign(grant_for({0, 1}, kNow + std::chrono::minutes(1)));
  auto ok = verifier.verify(signed_grant, {"node-a", {1}, ""}, kNow);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->grant_id(), "g-1");
  // Verified once, then remembered: altered bytes under the remembered signature still fail.
  v1::Grant altered = grant_for({0, 1, 2}, kNow + std::chrono::minutes(1));
  signed_grant.set_grant(altered.SerializeAsString());
  auto refused = verifier.verify(signed_grant, {"node-a", {2}, ""}, kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("does not verify"), std::string::npos);
}

TEST(Grant, AGrantOfARevokedTokenIsRefusedEvenOnceVerifiedAndGoodWhenNoLongerListed) {
  auto signer = GrantSigner::generate();
  ASSERT_TRUE(signer.ok());
  GrantVerifier verifier;
  ASSERT_TRUE(verifier.trust(signer->public_key()).ok());
  v1::Grant grant = grant_for({0}, kNow + std::chrono::minutes(1));
  grant.set_tenant("team-a");
  grant.set_token_id("0123456789abcdef");
  const v1::SignedGrant signed_grant = signer->sign(grant);
  ASSERT_TRUE(verifier.verify(signed_grant, {"node-a", {0}, ""}, kNow).ok());  // Remembered.
  verifier.set_revoked({"0123456789abcdef"});
  auto refused = verifier.verify(signed_grant, {"node-a", {0}, ""}, kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find(
                "grant g-1 was issued under token '0123456789abcdef', which was revoked"),
            std::string::npos)
      << refused.status();
  verifier.set_revoked({"fedcba9876543210"});
  auto good = verifier.verify(signed_grant, {"node-a", {0}, ""}, kNow);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->tenant(), "team-a");
}

// verify_tenant (FetchTensor, CancelJob) takes a grant of any devices and plan on its node,
// and refuses what verify refuses of the grant itself: another node, expiry, revocation.
TEST(Grant, ATenantCheckTakesAnyGrantOfTheNodeButNotOfAnotherNodeOrExpired) {
  auto signer = GrantSigner::generate();
  ASSERT_TRUE(signer.ok());
  GrantVerifier verifier;
  ASSERT_TRUE(verifier.trust(signer->public_key()).ok());
  v1::Grant grant = grant_for({1}, kNow + std::chrono::minutes(1));
  grant.set_tenant("team-a");
  grant.set_plan_id("plan-1");
  grant.set_token_id("0123456789abcdef");
  const v1::SignedGrant signed_grant = signer->sign(grant);
  auto ok = verifier.verify_tenant(signed_grant, "node-a", kNow);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->tenant(), "team-a");
  auto elsewhere = verifier.verify_tenant(signed_grant, "node-b", kNow);
  EXPECT_EQ(elsewhere.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(elsewhere.status().message().find("is for node 'node-a', not 'node-b'"),
            std::string::npos);
  auto late = verifier.verify_tenant(signed_grant, "node-a", kNow + std::chrono::minutes(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(late.status().message().find("expired"), std::string::npos);
  verifier.set_revoked({"0123456789abcdef"});
  auto revoked = verifier.verify_tenant(signed_grant, "node-a", kNow);
  EXPECT_EQ(revoked.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(revoked.status().message().find("which was revoked"), std::string::npos);
  auto none = verifier.verify_tenant({}, "node-a", kNow);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);

  // Only the expiry is worth a fresh grant, also with a daemon's words around it; a revoked
  // token, a missing grant or another node is not.
  EXPECT_TRUE(is_expired_grant(late.status()));
  EXPECT_TRUE(is_expired_grant(absl::UnauthenticatedError(
      "FetchTensor on node 'node-a' refused: " + std::string(late.status().message()))));
  EXPECT_FALSE(is_expired_grant(absl::PermissionDeniedError(late.status().message())));
  EXPECT_FALSE(is_expired_grant(revoked.status()));
  EXPECT_FALSE(is_expired_grant(none.status()));
  EXPECT_FALSE(is_expired_grant(elsewhere.status()));
}

TEST(Grant, ExpiryIsExactToTheMillisecond) {
  auto signer = GrantSigner::generate();
  GrantVerifier verifier;
  ASSERT_TRUE(verifier.trust(signer->public_key()).ok());
  const v1::SignedGrant signed_grant = signer->sign(grant_for({0}, kNow));
  EXPECT_TRUE(verifier.verify(signed_grant, {"node-a", {0}, ""}, kNow - std::chrono::milliseconds(1)).ok());
  auto expired = verifier.verify(signed_grant, {"node-a", {0}, ""}, kNow);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(expired.status().message().find("grant g-1 expired at"), std::string::npos)
      << expired.status();
}

TEST(Grant, AVerifierWithoutKeysIsUnavailableNotUnauthenticated) {
  auto signer = GrantSigner::generate();
  GrantVerifier verifier;
  auto refused = verifier.verify(signer->sign(grant_for({0}, kNow + std::chrono::minutes(1))),
                                 {"node-a", {0}, ""}, kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("not registered"), std::string::npos);
  EXPECT_EQ(verifier.trust("short").code(), absl::StatusCode::kInvalidArgument);
}

TEST(Grant, GrantsOfAnEarlierKeyStayGoodAfterANewKeyIsTrusted) {
  auto before = GrantSigner::generate();
  auto after = GrantSigner::generate();
  GrantVerifier verifier;
  ASSERT_TRUE(verifier.trust(before->public_key()).ok());
  ASSERT_TRUE(verifier.trust(after->public_key()).ok());
  for (const GrantSigner* signer : {&*before, &*after}) {
    auto ok = verifier.verify(signer->sign(grant_for({0}, kNow + std::chrono::minutes(1))),
                              {"node-a", {0}, ""}, kNow);
    EXPECT_TRUE(ok.ok()) << ok.status();
  }
}

TEST(Grant, AKeyFileIsMadeOnceAndLoadedAfter) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("grant-test-" + std::to_string(getpid()) + ".pem"))
          .string();
  std::filesystem::remove(path);
  auto made = GrantSigner::load_or_create(path);
  ASSERT_TRUE(made.ok()) << made.status();
  auto loaded = GrantSigner::load_or_create(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(made->public_key(), loaded->public_key());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tg
