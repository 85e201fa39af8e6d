// Mutual TLS between real processes: a caller without a certificate, or with one from another
// CA, never gets past the handshake; a node proves its name with its certificate; a client
// certificate cannot call the methods of pool components; plain text only with --insecure,
// and the servers refuse to start with neither.
#include <sys/stat.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "pool.h"
#include "net/rpc.h"
#include "test_security.h"
#include "tgrack/v1/controller.grpc.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;

// ListNodes on the controller at `address` over a channel with `credentials`.
grpc::Status list_nodes(const std::string& address,
                        std::shared_ptr<grpc::ChannelCredentials> credentials) {
  auto stub = v1::ControllerService::NewStub(grpc::CreateChannel(address, credentials));
  v1::ListNodesReply reply;
  return stub->ListNodes(context_with_deadline(10s).get(), {}, &reply);
}

grpc::Status register_node(const std::string& controller, const std::string& node_name) {
  auto stub = v1::ControllerService::NewStub(make_channel(controller, /*own_connection=*/true));
  v1::RegisterRequest request;
  request.mutable_node()->set_name(node_name);
  request.mutable_node()->set_address("127.0.0.1:1");
  v1::RegisterReply reply;
  return stub->Register(context_with_deadline(10s).get(), request, &reply);
}

// y = x + 1 over [1, 2, 3] is [2, 3, 4] through `pool`.
void expect_graph_runs(Pool& pool) {
  GraphBuilder g;
  g.output(g.input("x", v1::DTYPE_F32, {3}) + g.scalar(1), "y");
  HostTensor x(TensorType{v1::DTYPE_F32, {3}});
  for (int i = 0; i < 3; ++i) x.values<float>()[i] = static_cast<float>(i + 1);
  auto result = pool.client().run(*g.build(), {{"x", x}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(std::vector<float>(result->outputs[0].values<float>().begin(),
                                 result->outputs[0].values<float>().end()),
              ::testing::ElementsAre(2, 3, 4));
}

class TlsPool : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool_.start_default().ok()); }
  Pool pool_;
};

TEST_F(TlsPool, ACallerWithoutACertificateFailsTheHandshake) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = read_file(test_ca_file());  // It trusts the pool; it shows nothing.
  const grpc::Status status = list_nodes(pool_.controller_address(), grpc::SslCredentials(options));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  expect_graph_runs(pool_);
}

TEST_F(TlsPool, ACertificateFromAnotherCaFailsTheHandshake) {
  const CertificateFiles stranger = foreign_client_certificate();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = read_file(test_ca_file());
  options.pem_cert_chain = read_file(stranger.cert);
  options.pem_private_key = read_file(stranger.key);
  const grpc::Status status = list_nodes(pool_.controller_address(), grpc::SslCredentials(options));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  expect_graph_runs(pool_);
}

TEST_F(TlsPool, AClientThatTrustsAnotherCaRefusesTheController) {
  const CertificateFiles client = test_certificate(net::Role::kClient, "test");
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = read_file(foreign_ca_file());
  options.pem_cert_chain = read_file(client.cert);
  options.pem_private_key = read_file(client.key);
  const grpc::Status status = list_nodes(pool_.controller_address(), grpc::SslCredentials(options));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsPool, TheCertificateOfNodeBCannotRegisterAsNodeA) {
  use_certificate(net::Role::kNode, "node-b");
  const grpc::Status status = register_node(pool_.controller_address(), "node-a");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("node 'node-b', not node 'node-a'"));
  use_client_certificate();
  expect_graph_runs(pool_);
}

TEST_F(TlsPool, ADaemonWithAnotherNodesCertificateStaysOutOfThePool) {
  pool_.daemon_tls_args["node-c"] = tls_flags_for_node("node-b");
  ASSERT_TRUE(pool_.start_daemon("node-c").ok());
  // Its registrar logs the refusal, naming the certificate's node and the name it asked for.
  ASSERT_TRUE(wait_until(
      [&] {
        return pool_.daemon("node-c").stdout_text().find(
                   "PERMISSION_DENIED: the caller's certificate is node 'node-b', not node "
                   "'node-c'") != std::string::npos;
      },
      30s))
      << pool_.daemon("node-c").stdout_text();
  EXPECT_FALSE(pool_.node_is("node-c", v1::NODE_STATE_UP));
}

TEST_F(TlsPool, AClientCertificateCannotCallComponentMethods) {
  const grpc::Status registered = register_node(pool_.controller_address(), "node-a");
  EXPECT_EQ(registered.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(registered.error_message(), HasSubstr("client 'test', not node 'node-a'"));

  auto daemon = v1::NodeService::NewStub(make_channel(pool_.daemon_address("node-a")));
  v1::PushTensorReply reply;
  const grpc::Status pushed = daemon->PushTensor(context_with_deadline(10s).get(), {}, &reply);
  EXPECT_EQ(pushed.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(pushed.error_message(),
              HasSubstr("PushTensor is for the pool's controller and nodes; the caller's "
                        "certificate is client 'test'"));
  expect_graph_runs(pool_);
}

TEST(PlainText, OnlyWithInsecureAndLoggedAsAWarning) {
  Pool pool;
  pool.insecure = true;
  ASSERT_TRUE(pool.start_default().ok());
  expect_graph_runs(pool);
  for (Process* process : {&pool.controller(), &pool.daemon("node-a")}) {
    EXPECT_THAT(process->stdout_text(), HasSubstr("--insecure: gRPC in plain text"));
  }
}

TEST(PlainText, ServersWithNeitherTlsFilesNorInsecureExitNamingTheFlags) {
  TempDir dir;
  for (const auto& [program, args] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {TGCONTROLLER_PATH, {"--listen", "127.0.0.1:0"}},
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--state-dir", dir.file("state")}},
           {TGD_PATH,  // One file of three is not enough.
            {"--controller", "127.0.0.1:1", "--state-dir", dir.file("state"), "--tls-ca",
             test_ca_file()}}}) {
    SCOPED_TRACE(program);
    const Completed done = run(dir, program, args, 20s);
    EXPECT_EQ(done.exit_status, 2) << done.err;
    EXPECT_THAT(done.err,
                HasSubstr("--tls-cert, --tls-key and --tls-ca are required (tgctl certs init DIR "
                          "makes them), or --insecure for plain text"));
  }
}

TEST(Certificates, TgctlCertsInitMakesAPoolThatServesTgctl) {
  TempDir dir;
  const std::string certs = dir.file("certs");
  const Completed init =
      run(dir, TGCTL_PATH, {"certs", "init", certs, "--nodes", "alpha,beta"}, 30s);
  ASSERT_EQ(init.exit_status, 0) << init.err;
  for (const char* stem : {"ca", "controller", "client", "alpha", "beta"}) {
    struct stat key{};
    ASSERT_EQ(::stat((certs + "/" + stem + ".key").c_str(), &key), 0) << stem;
    EXPECT_EQ(key.st_mode & 0777, 0600u) << stem;
    EXPECT_TRUE(std::filesystem::exists(certs + "/" + stem + ".pem")) << stem;
  }
  const Completed again = run(dir, TGCTL_PATH, {"certs", "init", certs}, 30s);
  EXPECT_EQ(again.exit_status, 1);
  EXPECT_THAT(again.err, HasSubstr("ca.pem exists already"));

  auto controller = Process::spawn(
      TGCONTROLLER_PATH,
      {"--listen", "127.0.0.1:0", "--port-file", dir.file("controller.port"), "--tls-cert",
       certs + "/controller.pem", "--tls-key", certs + "/controller.key", "--tls-ca",
       certs + "/ca.pem", "--bootstrap-admin-token-file", dir.file("admin-token")},
      dir.file("controller.out"), dir.file("controller.err"));
  ASSERT_TRUE(controller.ok()) << controller.status();
  auto address = read_port_file(dir.file("controller.port"), **controller);
  ASSERT_TRUE(address.ok()) << address.status();
  const Completed nodes =
      run(dir, TGCTL_PATH,
          {"--controller", *address, "--tls-ca", certs + "/ca.pem", "--tls-cert",
           certs + "/client.pem", "--tls-key", certs + "/client.key", "--token-file",
           dir.file("admin-token"), "nodes"},
          30s);
  EXPECT_EQ(nodes.exit_status, 0) << nodes.err;
  // Without this pool's CA, tgctl cannot verify the controller, nor the controller it.
  const Completed stranger = run(dir, TGCTL_PATH, {"--controller", *address, "nodes"}, 30s);
  EXPECT_EQ(stranger.exit_status, 1);
  EXPECT_THAT(stranger.err, HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace tg::testing
