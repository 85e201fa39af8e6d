// Fuzz target: every method of ControllerService and NodeService. The first input byte picks
// the method (modulo their number, in the order of the methods below; new methods go last, so
// that seeds, named by method index, keep theirs), the second the bearer token the call
// carries (modulo 7): 0 the admin's, 1 tenant fuzz-a's, 2 tenant fuzz-b's, 3 a revoked one,
// 4 a forged one (fuzz-a's id, another secret), 5 none, 6 a malformed one. The rest is
// decoded as that method's request and handed to the handler in-process. The services belong
// to a controller and one daemon (two cpu devices of 64 MiB) started once, in this process, on
// loopback, the daemon registered with the controller, so requests reach real devices.
// A handler may refuse anything; it must not crash, hang, or report success for a reply it
// cannot send. Waits the requests ask for (drain deadlines, timeouts, iterations) are capped
// so one input stays within a second or two.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include <grpcpp/test/server_context_test_spouse.h>

#include "controller/controller_server.h"
#include "daemon/daemon.h"
#include "daemon/node_service.h"
#include "net/bearer_token.h"
#include "net/transport_security.h"
#include "tests/fuzz/quiet_protobuf.h"

namespace {

namespace v1 = tgrack::v1;

constexpr uint32_t kMaxWaitMs = 1000;

// The tokens a call may carry (see the header), made when the pool starts.
std::vector<std::string> tokens;
std::string admin_token_id;
constexpr uint32_t kMaxIterations = 2;

uint32_t capped(uint32_t wait_ms) { return std::min(wait_ms == 0 ? kMaxWaitMs : wait_ms, kMaxWaitMs); }

// Requests as decoded, with their waits capped.
template <class Request> void tame(Request&) {}
template <> void tame(v1::DrainNodeRequest& r) { r.set_deadline_ms(capped(r.deadline_ms())); }
template <> void tame(v1::ResetDeviceRequest& r) { r.set_drain_timeout_ms(capped(r.drain_timeout_ms())); }
template <> void tame(v1::ResetDevicesRequest& r) { r.set_drain_timeout_ms(capped(r.drain_timeout_ms())); }
template <> void tame(v1::RunFragmentsRequest& r) { r.set_timeout_ms(capped(r.timeout_ms())); }
// The admin's token stays good, so later inputs still reach every handler.
template <> void tame(v1::RevokeTokenRequest& r) {
  if (r.token_id() == admin_token_id) r.clear_token_id();
}
template <> void tame(v1::RotateTokenRequest& r) {
  if (r.tenant() == "admin") r.set_tenant("fuzz-b");
}
template <> void tame(v1::RunCollectiveRequest& r) {
  r.set_iters(std::min(r.iters(), kMaxIterations));
  r.set_warmup_iters(std::min(r.warmup_iters(), kMaxIterations));
}

struct Method {
  const char* name;
  std::function<void(const uint8_t*, size_t, const std::string& token)> call;
};

template <class Service, class Request, class Reply>
Method method(const char* name, Service& service,
              grpc::Status (Service::*handler)(grpc::ServerContext*, const Request*, Reply*)) {
  return {name, [name, &service, handler](const uint8_t* data, size_t size,
                                          const std::string& token) {
            Request request;
            if (!request.ParseFromArray(data, static_cast<int>(size))) return;
            tame(request);
            grpc::ServerContext context;
            grpc::testing::ServerContextTestSpouse spouse(&context);
            if (!token.empty()) spouse.AddClientMetadata("authorization", "Bearer " + token);
            Reply reply;
            const grpc::Status status = (service.*handler)(&context, &request, &reply);
            if (status.ok() && reply.ByteSizeLong() > static_cast<size_t>(INT32_MAX)) {
              std::fprintf(stderr, "%s reported success for a %zu-byte reply\n", name,
                           reply.ByteSizeLong());
              std::abort();
            }
          }};
}

// A server context whose call carries the admin's token (the spouse holds the metadata's
// bytes, so it lives as long as the context).
struct AdminContext {
  explicit AdminContext(const std::string& token) {
    spouse.AddClientMetadata("authorization", "Bearer " + token);
  }
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse{&context};
};

struct InProcessPool {
  std::string state_dir;
  std::unique_ptr<tg::ControllerServer> controller;
  std::unique_ptr<tg::Daemon> daemon;
  std::vector<Method> methods;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "services fuzz set-up: %s\n", what.c_str());
  std::exit(1);
}

InProcessPool& pool() {
  static InProcessPool* pool = [] {
    spdlog::set_level(spdlog::level::off);
    auto* p = new InProcessPool;
    char dir[] = "/tmp/tgrack-fuzz-XXXXXX";
    if (::mkdtemp(dir) == nullptr) die("mkdtemp failed");
    p->state_dir = dir;

    tg::ControllerConfig controller;
    controller.listen_address = "127.0.0.1:0";
    controller.heartbeat_interval = std::chrono::milliseconds(200);
    controller.down_after = std::chrono::milliseconds(60000);
    controller.job_timeout = std::chrono::milliseconds(2000);
    controller.bootstrap_admin_token_file = p->state_dir + "/admin-token";
    // In-process handlers have no TLS peer to check; plain text lets every method through.
    tg::net::TransportSecurity plain_text;
    plain_text.insecure = true;
    tg::net::set_transport_security(plain_text);
    auto started = tg::ControllerServer::start(controller);
    if (!started.ok()) die(started.status().ToString());
    p->controller = std::move(*started);

    tg::DaemonConfig daemon;
    daemon.controller_address = p->controller->address();
    daemon.backend = "cpu";
    daemon.cpu_devices = 2;
    daemon.device_memory = uint64_t{64} << 20;
    daemon.state_dir = p->state_dir;
    daemon.name = "fuzz-node";
    auto created = tg::Daemon::create(daemon);
    if (!created.ok()) die(created.status().ToString());
    p->daemon = std::move(*created);
    if (absl::Status status = p->daemon->start(); !status.ok()) die(status.ToString());

    tg::ControllerServiceImpl& c = p->controller->service();
    auto admin = tg::net::read_token_file(controller.bootstrap_admin_token_file);
    if (!admin.ok()) die(admin.status().ToString());
    std::vector<v1::CreateTenantReply> made;
    for (const char* name : {"fuzz-a", "fuzz-b", "fuzz-revoked"}) {
      AdminContext admin_context(*admin);
      grpc::ServerContext& context = admin_context.context;
      v1::CreateTenantRequest request;
      request.set_name(name);
      if (!c.CreateTenant(&context, &request, &made.emplace_back()).ok()) die("CreateTenant");
    }
    {
      AdminContext admin_context(*admin);
      grpc::ServerContext& context = admin_context.context;
      v1::RevokeTokenRequest request;
      request.set_token_id(made[2].tenant().tokens(0).id());
      v1::RevokeTokenReply reply;
      if (!c.RevokeToken(&context, &request, &reply).ok()) die("RevokeToken");
    }
    v1::ListTenantsReply listed;
    {
      AdminContext admin_context(*admin);
      grpc::ServerContext& context = admin_context.context;
      v1::ListTenantsRequest request;
      if (!c.ListTenants(&context, &request, &listed).ok()) die("ListTenants");
    }
    admin_token_id = listed.tenants(0).tokens(0).id();
    std::string forged = made[0].token();
    forged.replace(forged.size() - 32, 32, std::string(32, 'f'));
    tokens = {*admin, made[0].token(), made[1].token(), made[2].token(), forged, "",
              "Basic dXNlcjpwYXNz"};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (true) {
      AdminContext admin_context(*admin);
      grpc::ServerContext& context = admin_context.context;
      v1::ListNodesRequest request;
      v1::ListNodesReply reply;
      if (c.ListNodes(&context, &request, &reply).ok() && reply.nodes_size() == 1) break;
      if (std::chrono::steady_clock::now() > deadline) die("the daemon never registered");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    using C = tg::ControllerServiceImpl;
    tg::NodeServiceImpl& n = p->daemon->service();
    using N = tg::NodeServiceImpl;
    p->methods = {
        method("Controller.Register", c, &C::Register),
        method("Controller.Heartbeat", c, &C::Heartbeat),
        method("Controller.ListNodes", c, &C::ListNodes),
        method("Controller.Submit", c, &C::Submit),
        method("Controller.Place", c, &C::Place),
        method("Controller.CreateCommunicator", c, &C::CreateCommunicator),
        method("Controller.RunCollective", c, &C::RunCollective),
        method("Controller.DestroyCommunicator", c, &C::DestroyCommunicator),
        method("Controller.CordonNode", c, &C::CordonNode),
        method("Controller.UncordonNode", c, &C::UncordonNode),
        method("Controller.DrainNode", c, &C::DrainNode),
        method("Controller.ResetDevice", c, &C::ResetDevice),
        method("Controller.OpenSession", c, &C::OpenSession),
        method("Controller.RenewSession", c, &C::RenewSession),
        method("Controller.CloseSession", c, &C::CloseSession),
        method("Controller.ListSessions", c, &C::ListSessions),
        method("Controller.FreeTensors", c, &C::FreeTensors),
        method("Controller.DropPlan", c, &C::DropPlan),
        method("Controller.ListJobs", c, &C::ListJobs),
        method("Controller.CancelJob", c, &C::CancelJob),
        method("Node.GetNodeInfo", n, &N::GetNodeInfo),
        method("Node.JoinCommunicator", n, &N::JoinCommunicator),
        method("Node.RunCollective", n, &N::RunCollective),
        method("Node.DestroyCommunicator", n, &N::DestroyCommunicator),
        method("Node.GetKernelStats", n, &N::GetKernelStats),
        method("Node.ResetDevices", n, &N::ResetDevices),
        method("Node.InstallPlan", n, &N::InstallPlan),
        method("Node.DropPlan", n, &N::DropPlan),
        method("Node.RunFragments", n, &N::RunFragments),
        method("Node.PushTensor", n, &N::PushTensor),
        method("Node.FetchTensor", n, &N::FetchTensor),
        method("Node.FreeTensors", n, &N::FreeTensors),
        method("Node.ListTensors", n, &N::ListTensors),
        method("Node.CancelJob", n, &N::CancelJob),
        method("Controller.RemoveNode", c, &C::RemoveNode),
        method("Controller.CreateTenant", c, &C::CreateTenant),
        method("Controller.ListTenants", c, &C::ListTenants),
        method("Controller.SetQuota", c, &C::SetQuota),
        method("Controller.RotateToken", c, &C::RotateToken),
        method("Controller.RevokeToken", c, &C::RevokeToken),
        method("Controller.ListAudit", c, &C::ListAudit),
        method("Controller.GetUsage", c, &C::GetUsage),
        method("Controller.ListCommunicators", c, &C::ListCommunicators),
        method("Controller.TraceCommunicator", c, &C::TraceCommunicator),
        method("Controller.ShrinkCommunicator", c, &C::ShrinkCommunicator),
        method("Controller.GrowCommunicator", c, &C::GrowCommunicator),
        method("Node.GetFlightRecords", n, &N::GetFlightRecords),
        method("Controller.GetPoolKernelStats", c, &C::GetPoolKernelStats),
        method("Controller.RefreshTensorGrants", c, &C::RefreshTensorGrants),
    };
    return p;
  }();
  return *pool;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::fuzz::quiet_protobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return -1;
  InProcessPool& p = pool();
  const std::string& token = tokens[data[1] % tokens.size()];
  p.methods[data[0] % p.methods.size()].call(data + 2, size - 2, token);
  return 0;
}
