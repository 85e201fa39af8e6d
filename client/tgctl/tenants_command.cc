// tgctl tenants: who may use the pool (admin only). `create NAME` prints the tenant's first
// bearer token (the only time it is shown); `list` shows tenants, quotas and token ids (never
// secrets); `quota NAME` sets a tenant's limits; `rotate NAME` makes a fresh token and
// revokes the tenant's others; `revoke TOKEN_ID` refuses a token from now on.
// --quota takes KEY=VALUE,...: devices=N, memory=SIZE (e.g. 4G), flops=N (e.g. 1e15),
// device-seconds=N, period=DURATION (e.g. 24h; the budget's period, default a day).
#include <iostream>

#include <nlohmann/json.hpp>

#include <absl/strings/numbers.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <absl/time/time.h>

#include "client/tgctl/command.h"
#include "client/tgctl/table.h"
#include "devices/units.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::tgctl {
namespace {

namespace v1 = tgrack::v1;
using Stub = v1::ControllerService::Stub;

std::unique_ptr<Stub> stub(const GlobalOptions& options) {
  return v1::ControllerService::NewStub(make_channel(options.controller));
}

template <class Request, class Reply>
absl::Status call(const GlobalOptions& options,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Reply*),
                  const Request& request, Reply* reply) {
  auto context = context_with_deadline(std::chrono::seconds(10));
  return from_grpc(((*stub(options)).*method)(context.get(), request, reply));
}

absl::StatusOr<v1::Quota> parse_quota(const std::string& text) {
  v1::Quota quota;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    const auto& [key, value] = kv;
    auto bad = [&] {
      return absl::InvalidArgumentError("--quota: '" + std::string(item) +
                                        "' is not KEY=VALUE with KEY one of devices, memory, "
                                        "flops, device-seconds, period");
    };
    double number = 0;
    if (key == "devices") {
      uint32_t devices = 0;
      if (!absl::SimpleAtoi(value, &devices)) return bad();
      quota.set_devices(devices);
    } else if (key == "memory") {
      auto bytes = parse_bytes(value);
      if (!bytes.ok()) return bad();
      quota.set_device_memory_bytes(*bytes);
    } else if (key == "flops") {
      if (!absl::SimpleAtod(value, &number) || number < 0) return bad();
      quota.set_flops_per_period(static_cast<uint64_t>(number));
    } else if (key == "device-seconds") {
      if (!absl::SimpleAtod(value, &number) || number < 0) return bad();
      quota.set_device_seconds_per_period(number);
    } else if (key == "period") {
      absl::Duration period;
      if (!absl::ParseDuration(value, &period) || period < absl::Seconds(1)) return bad();
      quota.set_period_seconds(static_cast<uint32_t>(absl::ToInt64Seconds(period)));
    } else {
      return bad();
    }
  }
  return quota;
}

std::string role_name(v1::TokenRole role) {
  return role == v1::TOKEN_ROLE_ADMIN ? "admin" : "tenant";
}

nlohmann::json quota_json(const v1::Quota& quota) {
  return {{"device_count", quota.devices()},
          {"device_memory_bytes", quota.device_memory_bytes()},
          {"flops_per_period", quota.flops_per_period()},
          {"device_seconds_per_period", quota.device_seconds_per_period()},
          {"period_seconds", quota.period_seconds() == 0 ? 86400 : quota.period_seconds()}};
}

nlohmann::json token_json(const v1::TokenInfo& token) {
  return {{"id", token.id()},
          {"tenant_id", token.tenant()},
          {"role", role_name(token.role())},
          {"created_unix_seconds", token.created_unix_seconds()},
          {"revoked", token.revoked()}};
}

nlohmann::json tenant_json(const v1::TenantInfo& tenant) {
  nlohmann::json tokens = nlohmann::json::array();
  for (const v1::TokenInfo& token : tenant.tokens()) tokens.push_back(token_json(token));
  return {{"id", tenant.name()},
          {"quota", quota_json(tenant.quota())},
          {"created_unix_seconds", tenant.created_unix_seconds()},
          {"tokens", tokens}};
}

std::string quota_text(const v1::Quota& quota) {
  std::vector<std::string> parts;
  if (quota.devices() > 0) parts.push_back("devices=" + std::to_string(quota.devices()));
  if (quota.device_memory_bytes() > 0) {
    parts.push_back("memory=" + std::to_string(quota.device_memory_bytes()));
  }
  if (quota.flops_per_period() > 0) {
    parts.push_back("flops=" + std::to_string(quota.flops_per_period()));
  }
  if (quota.device_seconds_per_period() > 0) {
    parts.push_back("device-seconds=" + std::to_string(quota.device_seconds_per_period()));
  }
  if (quota.period_seconds() > 0) parts.push_back("period=" + std::to_string(quota.period_seconds()) + "s");
  return parts.empty() ? "none" : absl::StrJoin(parts, ",");
}

absl::Status run_create(const GlobalOptions& options, const std::string& name,
                        const std::string& quota_text_given, bool admin) {
  v1::CreateTenantRequest request;
  request.set_name(name);
  auto quota = parse_quota(quota_text_given);
  if (!quota.ok()) return quota.status();
  *request.mutable_quota() = *quota;
  request.set_role(admin ? v1::TOKEN_ROLE_ADMIN : v1::TOKEN_ROLE_TENANT);
  v1::CreateTenantReply reply;
  if (absl::Status s = call(options, &Stub::CreateTenant, request, &reply); !s.ok()) return s;
  if (options.json) {
    nlohmann::json out = tenant_json(reply.tenant());
    out["token"] = reply.token();
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "tenant " << name << " created; its token (shown once):\n" << reply.token() << "\n";
  }
  return absl::OkStatus();
}

absl::Status run_list(const GlobalOptions& options) {
  v1::ListTenantsReply reply;
  if (absl::Status s = call(options, &Stub::ListTenants, v1::ListTenantsRequest(), &reply);
      !s.ok()) {
    return s;
  }
  if (options.json) {
    nlohmann::json tenants = nlohmann::json::array();
    for (const v1::TenantInfo& tenant : reply.tenants()) tenants.push_back(tenant_json(tenant));
    std::cout << nlohmann::json({{"tenants", tenants}}).dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"TENANT", "QUOTA", "TOKEN", "ROLE", "REVOKED"});
  for (const v1::TenantInfo& tenant : reply.tenants()) {
    if (tenant.tokens().empty()) table.add_row({tenant.name(), quota_text(tenant.quota())});
    for (const v1::TokenInfo& token : tenant.tokens()) {
      table.add_row({tenant.name(), quota_text(tenant.quota()), token.id(),
                     role_name(token.role()), token.revoked() ? "yes" : "no"});
    }
  }
  table.print(std::cout);
  return absl::OkStatus();
}

absl::Status run_quota(const GlobalOptions& options, const std::string& name,
                       const std::string& quota_text_given) {
  v1::SetQuotaRequest request;
  request.set_tenant(name);
  auto quota = parse_quota(quota_text_given);
  if (!quota.ok()) return quota.status();
  *request.mutable_quota() = *quota;
  v1::SetQuotaReply reply;
  if (absl::Status s = call(options, &Stub::SetQuota, request, &reply); !s.ok()) return s;
  if (options.json) {
    std::cout << nlohmann::json({{"id", name}, {"quota", quota_json(*quota)}}).dump(2) << "\n";
  } else {
    std::cout << "tenant " << name << ": quota " << quota_text(*quota) << "\n";
  }
  return absl::OkStatus();
}

absl::Status run_rotate(const GlobalOptions& options, const std::string& name) {
  v1::RotateTokenRequest request;
  request.set_tenant(name);
  v1::RotateTokenReply reply;
  if (absl::Status s = call(options, &Stub::RotateToken, request, &reply); !s.ok()) return s;
  if (options.json) {
    nlohmann::json out = token_json(reply.info());
    out["token"] = reply.token();
    out["revoked_token_ids"] = std::vector<std::string>(reply.revoked_token_ids().begin(),
                                                        reply.revoked_token_ids().end());
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "tenant " << name << ": new token (shown once), "
              << reply.revoked_token_ids_size() << " revoked:\n" << reply.token() << "\n";
  }
  return absl::OkStatus();
}

absl::Status run_revoke(const GlobalOptions& options, const std::string& token_id) {
  v1::RevokeTokenRequest request;
  request.set_token_id(token_id);
  v1::RevokeTokenReply reply;
  if (absl::Status s = call(options, &Stub::RevokeToken, request, &reply); !s.ok()) return s;
  if (options.json) {
    std::cout << nlohmann::json({{"id", token_id}, {"revoked", true}}).dump(2) << "\n";
  } else {
    std::cout << "token " << token_id << " revoked\n";
  }
  return absl::OkStatus();
}

}  // namespace

void add_tenants_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* tenants = app.add_subcommand("tenants", "Tenants and their tokens (admin only)");
  tenants->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto quota = std::make_shared<std::string>();
  auto admin = std::make_shared<bool>(false);

  CLI::App* create = tenants->add_subcommand("create", "Create a tenant; prints its token once");
  create->add_option("NAME", *name, "Tenant name ([a-z0-9][a-z0-9._-]*)")->required();
  create->add_option("--quota", *quota,
                     "Limits: devices=N,memory=SIZE,flops=N,device-seconds=N,period=24h");
  create->add_flag("--admin", *admin, "Its token has role admin");
  create->callback([&options, &action, name, quota, admin] {
    action = [&options, name, quota, admin] { return run_create(options, *name, *quota, *admin); };
  });

  CLI::App* list = tenants->add_subcommand("list", "Tenants, quotas and token ids");
  list->callback([&options, &action] { action = [&options] { return run_list(options); }; });

  CLI::App* set = tenants->add_subcommand("quota", "Set a tenant's quota");
  set->add_option("NAME", *name, "Tenant name")->required();
  set->add_option("--quota", *quota, "As for create; an empty one lifts every limit")->required();
  set->callback([&options, &action, name, quota] {
    action = [&options, name, quota] { return run_quota(options, *name, *quota); };
  });

  CLI::App* rotate = tenants->add_subcommand("rotate", "New token for a tenant; revokes its others");
  rotate->add_option("NAME", *name, "Tenant name")->required();
  rotate->callback([&options, &action, name] {
    action = [&options, name] { return run_rotate(options, *name); };
  });

  auto token_id = std::make_shared<std::string>();
  CLI::App* revoke = tenants->add_subcommand("revoke", "Revoke a token by its id");
  revoke->add_option("TOKEN_ID", *token_id, "As tgctl tenants list shows it")->required();
  revoke->callback([&options, &action, token_id] {
    action = [&options, token_id] { return run_revoke(options, *token_id); };
  });
}

}  // namespace tg::tgctl
