#include "bad_input_pool.h"

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "raw_socket.h"
#include "net/rpc.h"
#include "tests/ops/http_get.h"
#include "test_security.h"

namespace tg::testing {

namespace v1 = tgrack::v1;

absl::Status HostilePool::start() {
  started_ = start_processes();
  return started_;
}

absl::Status HostilePool::start_processes() {
  pool_.controller_args = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                           pool_.dir().file("controller.metrics")};
  pool_.daemon_args["node-a"] = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                                 pool_.dir().file("node-a.metrics")};
  if (absl::Status status = pool_.start_default(); !status.ok()) return status;
  for (auto [file, process, port] :
       {std::tuple{"controller.metrics", &pool_.controller(), &controller_metrics_},
        std::tuple{"node-a.metrics", &pool_.daemon("node-a"), &daemon_metrics_}}) {
    auto address = read_port_file(pool_.dir().file(file), *process);
    if (!address.ok()) return address.status();
    *port = port_of(*address);
  }
  controller_ = v1::ControllerService::NewStub(make_channel(pool_.controller_address(), true));
  // The daemon is called as the controller calls it: its component methods refuse clients.
  use_certificate(net::Role::kController, "controller");
  daemon_ = v1::NodeService::NewStub(make_channel(pool_.daemon_address("node-a"), true));
  use_certificate(net::Role::kNode, "node-a");
  controller_as_node_ =
      v1::ControllerService::NewStub(make_channel(pool_.controller_address(), true));
  use_client_certificate();

  auto nodes = pool_.client().nodes();
  if (!nodes.ok()) return nodes.status();
  for (const v1::NodeInfo& node : *nodes) {
    if (node.name() == "node-a") {
      data_port_ = port_of(node.data_address());
    } else {
      peer_data_port_ = port_of(node.data_address());
    }
  }
  return absl::OkStatus();
}

int HostilePool::metrics_port(Target target) const {
  return target == Target::kController ? controller_metrics_ : daemon_metrics_;
}
std::unique_ptr<v1::ControllerService::Stub> HostilePool::controller_as(
    const std::string& token) const {
  return v1::ControllerService::NewStub(make_channel(pool_.controller_address(), true, token));
}

v1::SignedGrant HostilePool::grant(const std::vector<uint32_t>& devices,
                                   const std::string& plan_id, std::chrono::seconds lifetime,
                                   const std::string& node) const {
  v1::Grant grant;
  grant.set_grant_id("g-hostile");
  grant.set_node(node);
  for (uint32_t d : devices) grant.add_device_indices(d);
  grant.set_plan_id(plan_id);
  grant.set_expires_unix_ms(unix_ms(std::chrono::system_clock::now() + lifetime));
  auto signer = GrantSigner::load_or_create(pool_.grant_key_file());
  return signer.ok() ? signer->sign(grant) : v1::SignedGrant();
}

int HostilePool::data_port(Target target) const {
  return target == Target::kPeerDaemon ? peer_data_port_ : data_port_;
}
pid_t HostilePool::pid(Target target) {
  switch (target) {
    case Target::kController: return pool_.controller().pid();
    case Target::kDaemon: return pool_.daemon("node-a").pid();
    case Target::kPeerDaemon: return pool_.daemon("node-b").pid();
  }
  return -1;
}

absl::Status HostilePool::all_alive() {
  if (!started_.ok()) return started_;
  std::string dead;
  auto check = [&](const std::string& name, Process& process) {
    if (std::optional<int> status = process.wait_exit(0ms)) {
      const std::string log = process.stderr_text();
      dead += name + " exited with status " + std::to_string(*status) + "; log ends:\n" +
              log.substr(log.size() > 1500 ? log.size() - 1500 : 0) + "\n";
    }
  };
  check("tgcontroller", pool_.controller());
  check("tgd node-a", pool_.daemon("node-a"));
  check("tgd node-b", pool_.daemon("node-b"));
  return dead.empty() ? absl::OkStatus() : absl::InternalError(dead);
}

absl::StatusOr<std::string> HostilePool::create_communicator() {
  v1::CreateCommunicatorRequest request;
  for (const char* node : {"node-a", "node-b"}) {
    for (uint32_t index = 0; index < kDevicesPerDaemon; ++index) {
      v1::DeviceRef* device = request.add_devices();
      device->set_node(node);
      device->set_index(index);
    }
  }
  request.set_timeout_ms(10000);
  auto context = context_with_deadline(20s);
  v1::CreateCommunicatorReply reply;
  if (grpc::Status s = controller_->CreateCommunicator(context.get(), request, &reply); !s.ok()) {
    return from_grpc(s);
  }
  return reply.spec().comm_id();
}

absl::Status HostilePool::still_computes() {
  // sum(x * x) for x = 1..8, sharded by rows over all four devices: 204.
  v1::Graph graph;
  v1::Node* x = graph.add_nodes();
  x->set_name("x");
  x->set_op(v1::OP_INPUT);
  x->set_dtype(v1::DTYPE_F32);
  x->add_shape(4);
  x->add_shape(2);
  for (const char* node : {"node-a", "node-b"}) {
    for (uint32_t index = 0; index < kDevicesPerDaemon; ++index) {
      v1::DeviceRef* device = x->mutable_sharding()->add_devices();
      device->set_node(node);
      device->set_index(index);
    }
  }
  v1::Node* square = graph.add_nodes();
  square->set_name("square");
  square->set_op(v1::OP_MUL);
  square->add_inputs("x");
  square->add_inputs("x");
  v1::Node* sum = graph.add_nodes();
  sum->set_name("sum");
  sum->set_op(v1::OP_SUM);
  sum->add_inputs("square");
  graph.add_outputs("sum");
  HostTensor feed(TensorType{v1::DTYPE_F32, {4, 2}});
  for (int i = 0; i < 8; ++i) feed.values<float>()[i] = static_cast<float>(i + 1);
  auto result = pool_.client().run(graph, {{"x", feed}});
  if (!result.ok()) return result.status();
  if (result->outputs.size() != 1 || result->outputs[0].elements() != 1 ||
      result->outputs[0].values<float>()[0] != 204.0f) {
    return absl::InternalError("the sharded graph gave a wrong sum");
  }

  auto comm = create_communicator();
  if (!comm.ok()) return comm.status();
  v1::RunCollectiveRequest request;
  request.set_comm_id(*comm);
  request.set_kind(v1::COLLECTIVE_ALL_REDUCE);
  request.set_dtype(v1::DTYPE_F32);
  request.set_op(v1::REDUCE_OP_SUM);
  request.set_count(1024);
  request.set_check(true);
  auto context = context_with_deadline(20s);
  v1::RunCollectiveReply reply;
  if (grpc::Status s = controller_->RunCollective(context.get(), request, &reply); !s.ok()) {
    return from_grpc(s);
  }
  if (reply.results_size() != 4) {
    return absl::InternalError("the all-reduce answered for " +
                               std::to_string(reply.results_size()) + " ranks, not 4");
  }
  for (const v1::RankResult& rank : reply.results()) {
    if (rank.wrong() != 0) {
      return absl::InternalError("rank " + std::to_string(rank.rank()) + " of the all-reduce has " +
                                 std::to_string(rank.wrong()) + " wrong elements");
    }
  }
  auto destroy = context_with_deadline(10s);
  v1::DestroyCommunicatorRequest drop;
  drop.set_comm_id(*comm);
  v1::DestroyCommunicatorReply dropped;
  return from_grpc(controller_->DestroyCommunicator(destroy.get(), drop, &dropped));
}

absl::Status HostilePool::still_scrapes() {
  for (Target target : {Target::kController, Target::kDaemon}) {
    auto body = http_get(metrics_port(target), "/metrics");
    if (!body.ok()) return body.status();
    if (body->find("tgrack_") == std::string::npos) {
      return absl::InternalError("a scrape answered without tgrack_ metrics");
    }
  }
  return absl::OkStatus();
}

absl::Status HostilePool::unharmed() {
  if (absl::Status status = all_alive(); !status.ok()) return status;
  if (absl::Status status = still_computes(); !status.ok()) return status;
  return still_scrapes();
}

HostilePool& shared_hostile_pool() {
  static std::unique_ptr<HostilePool> shared;
  if (shared == nullptr || !shared->unharmed().ok()) {
    shared = std::make_unique<HostilePool>();
    if (absl::Status status = shared->start(); !status.ok()) {
      std::fprintf(stderr, "the pool did not start: %s\n", status.ToString().c_str());
    }
  }
  return *shared;
}

uint64_t peak_resident_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      uint64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

void reset_peak_resident_bytes(pid_t pid) {
  std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";
}

int open_fds(pid_t pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = ::readdir(dir)) count += entry->d_name[0] != '.';
  ::closedir(dir);
  return count;
}

}  // namespace tg::testing
