// Tenants and tokens: a token authenticates its tenant and role until it is revoked or
// rotated away; the store keeps its hash, never the token; forged and malformed tokens are
// refused naming why; tenants, quotas and revocations survive loading the store again.
#include "controller/tenants.h"

#include <gtest/gtest.h>

#include "controller/sqlite_store.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

class TenantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::open("");
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    auto tenants = Tenants::load(*store_);
    ASSERT_TRUE(tenants.ok());
    tenants_ = *std::move(tenants);
  }
  v1::CreateTenantReply create(const std::string& name, v1::TokenRole role = v1::TOKEN_ROLE_TENANT) {
    v1::CreateTenantRequest request;
    request.set_name(name);
    request.set_role(role);
    request.mutable_quota()->set_devices(3);
    auto reply = tenants_->create(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::CreateTenantReply();
  }
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Tenants> tenants_;
};

TEST_F(TenantsTest, ATokenAuthenticatesItsTenantAndRole) {
  const v1::CreateTenantReply a = create("team-a");
  const v1::CreateTenantReply root = create("ops", v1::TOKEN_ROLE_ADMIN);
  auto caller = tenants_->authenticate(a.token());
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->tenant, "team-a");
  EXPECT_FALSE(caller->admin());
  EXPECT_EQ(caller->scope(), "team-a");
  EXPECT_EQ(caller->token_id, a.tenant().tokens(0).id());
  auto admin = tenants_->authenticate(root.token());
  ASSERT_TRUE(admin.ok());
  EXPECT_TRUE(admin->admin());
  EXPECT_EQ(admin->scope(), "");
  EXPECT_TRUE(tenants_->has_admin());
}

TEST_F(TenantsTest, TheStoreKeepsTheTokensHashNeverTheToken) {
  const v1::CreateTenantReply a = create("team-a");
  const std::string secret = a.token().substr(a.token().rfind('_') + 1);
  ASSERT_EQ(secret.size(), 32u);  // 128 bits in hex.
  for (const char* table : {"tenants", "tokens", "token-hashes"}) {
    auto rows = store_->table(table);
    ASSERT_TRUE(rows.ok());
    for (const auto& [key, value] : *rows) {
      EXPECT_EQ(value.find(secret), std::string::npos) << table << "/" << key;
    }
  }
}

TEST_F(TenantsTest, ForgedMalformedAndRevokedTokensAreRefusedSayingWhy) {
  const v1::CreateTenantReply a = create("team-a");
  std::string forged = a.token();
  forged.back() = forged.back() == '0' ? '1' : '0';
  auto refused = tenants_->authenticate(forged);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("unknown or forged"), std::string::npos);
  refused = tenants_->authenticate("hunter2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("malformed"), std::string::npos);

  const std::string id = a.tenant().tokens(0).id();
  ASSERT_TRUE(tenants_->revoke(id).ok());
  refused = tenants_->authenticate(a.token());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("'" + id + "' was revoked"), std::string::npos)
      << refused.status();
  EXPECT_EQ(tenants_->revoked_ids(), std::vector<std::string>{id});
  EXPECT_EQ(tenants_->revoke("0123456789abcdef").code(), absl::StatusCode::kNotFound);
}

TEST_F(TenantsTest, RotatingMakesAFreshTokenAndRevokesTheOld) {
  const v1::CreateTenantReply a = create("team-a");
  auto rotated = tenants_->rotate("team-a");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->revoked_token_ids_size(), 1);
  EXPECT_EQ(tenants_->authenticate(a.token()).status().code(), absl::StatusCode::kUnauthenticated);
  auto fresh = tenants_->authenticate(rotated->token());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->tenant, "team-a");
  EXPECT_EQ(tenants_->rotate("nobody").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TenantsTest, NamesAreCheckedAndUnique) {
  create("team-a");
  v1::CreateTenantRequest request;
  request.set_name("team-a");
  EXPECT_EQ(tenants_->create(request).status().code(), absl::StatusCode::kAlreadyExists);
  request.set_name("Team A");
  auto bad = tenants_->create(request);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'Team A'"), std::string::npos);
}

TEST_F(TenantsTest, TenantsTokensQuotasAndRevocationsSurviveReloading) {
  const v1::CreateTenantReply a = create("team-a");
  const v1::CreateTenantReply b = create("team-b");
  v1::Quota quota;
  quota.set_flops_per_period(1000);
  ASSERT_TRUE(tenants_->set_quota("team-b", quota).ok());
  ASSERT_TRUE(tenants_->revoke(b.tenant().tokens(0).id()).ok());

  auto reloaded = Tenants::load(*store_);
  ASSERT_TRUE(reloaded.ok());
  auto caller = (*reloaded)->authenticate(a.token());
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->tenant, "team-a");
  EXPECT_EQ((*reloaded)->authenticate(b.token()).status().code(),
            absl::StatusCode::kUnauthenticated);
  auto team_b = (*reloaded)->tenant("team-b");
  ASSERT_TRUE(team_b.ok());
  EXPECT_EQ(team_b->quota().flops_per_period(), 1000u);
  EXPECT_EQ((*reloaded)->list().size(), 2u);
}

}  // namespace
}  // namespace tg
