// CallStreams and CallStreamServer over real gRPC on loopback: replies and statuses arrive
// unchanged, concurrent calls each get their own reply, an unanswered call ends at its
// timeout, a pooled stream broken by a server restart is replaced, and a server with open
// idle streams shuts down at once.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "call_stream_server.h"
#include "call_streams.h"
#include "rpc.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using tgrack::v1::RunGraphReply;
using tgrack::v1::RunGraphRequest;
using tgrack::v1::RunGraphStreamReply;
using Streams = CallStreams<RunGraphRequest, RunGraphStreamReply>;

// Answers RunGraphStream: job "bad" fails, job "stall" waits until released, any other job
// is echoed back as the data of one output.
class EchoService final : public tgrack::v1::NodeService::Service {
 public:
  grpc::Status RunGraphStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<RunGraphStreamReply, RunGraphRequest>* stream) override {
    return streams_.serve(context, stream, [this](const RunGraphRequest& request) {
      return answer(request);
    });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    wake_.notify_all();
  }
  void end_streams() { streams_.stop(); }

 private:
  absl::StatusOr<RunGraphReply> answer(const RunGraphRequest& request) {
    if (request.job_id() == "bad") {
      return absl::InvalidArgumentError("node 'y': add of f32[4] and f32[5]");
    }
    if (request.job_id() == "stall") {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, 10s, [this] { return released_; });
    }
    RunGraphReply reply;
    reply.add_outputs()->set_data(request.job_id());
    return reply;
  }

  std::mutex mu_;
  std::condition_variable wake_;
  bool released_ = false;
  CallStreamServer streams_;
};

// A server on 127.0.0.1 (port 0 = any); stop() ends its streams, then shuts it down.
class Server {
 public:
  explicit Server(int port = 0) {
    grpc::ServerBuilder builder;
    configure_server(builder);
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~Server() { stop(); }
  void stop() {
    if (!server_) return;
    service_.release();
    service_.end_streams();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_.reset();
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  EchoService& service() { return service_; }

 private:
  EchoService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

Streams streams_to(const std::string& address) {
  auto stub = std::shared_ptr<tgrack::v1::NodeService::Stub>(
      tgrack::v1::NodeService::NewStub(make_channel(address)));
  return Streams([stub](grpc::ClientContext* context) { return stub->RunGraphStream(context); },
                 "RunGraph on " + address);
}

RunGraphRequest job(const std::string& id) {
  RunGraphRequest request;
  request.set_job_id(id);
  return request;
}

TEST(CallStreams, RepliesAndStatusesArriveUnchanged) {
  Server server;
  Streams streams = streams_to(server.address());
  for (int i = 0; i < 3; ++i) {  // The later calls reuse the pooled stream.
    auto reply = streams.call(job("job-" + std::to_string(i)), 5s);
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->outputs_size(), 1);
    EXPECT_EQ(reply->outputs(0).data(), "job-" + std::to_string(i));
  }
  auto bad = streams.call(job("bad"), 5s);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "node 'y': add of f32[4] and f32[5]");
  auto after = streams.call(job("after"), 5s);  // An error leaves the stream usable.
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->outputs(0).data(), "after");
}

TEST(CallStreams, ConcurrentCallsEachGetTheirOwnReply) {
  Server server;
  Streams streams = streams_to(server.address());
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string id = std::to_string(t) + "/" + std::to_string(i);
        auto reply = streams.call(job(id), 5s);
        if (!reply.ok() || reply->outputs(0).data() != id) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TEST(CallStreams, AnUnansweredCallEndsAtItsTimeoutAndTheNextCallWorks) {
  Server server;
  Streams streams = streams_to(server.address());
  const auto start = Clock::now();
  auto stalled = streams.call(job("stall"), 300ms);
  const auto waited = Clock::now() - start;
  EXPECT_EQ(stalled.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(stalled.status().message(), "RunGraph on " + server.address() +
                                            ": no reply within 300 ms");
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
  server.service().release();
  auto next = streams.call(job("next"), 5s);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->outputs(0).data(), "next");
}

TEST(CallStreams, AStreamBrokenByAServerRestartIsReplaced) {
  auto server = std::make_unique<Server>();
  const int port = server->port();
  Streams streams = streams_to(server->address());
  ASSERT_TRUE(streams.call(job("before"), 5s).ok());  // Leaves one idle stream in the pool.
  server->stop();
  server = std::make_unique<Server>(port);
  ASSERT_EQ(server->port(), port);
  auto after = streams.call(job("after"), 5s);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->outputs(0).data(), "after");
}

TEST(CallStreams, NoServerIsUnavailable) {
  int port = 0;
  {
    Server server;  // Finds a free port, then frees it.
    port = server.port();
  }
  Streams streams = streams_to("127.0.0.1:" + std::to_string(port));
  auto reply = streams.call(job("nobody"), 5s);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
}

TEST(CallStreamServer, AServerWithIdleStreamsShutsDownAtOnce) {
  Server server;
  Streams streams = streams_to(server.address());
  ASSERT_TRUE(streams.call(job("one"), 5s).ok());  // The stream stays open, idle.
  const auto start = Clock::now();
  server.stop();  // Shutdown would wait its full 5 s for an open stream.
  EXPECT_LT(Clock::now() - start, 2s);
}

}  // namespace
}  // namespace tg
