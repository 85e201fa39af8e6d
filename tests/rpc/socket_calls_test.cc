// SocketCalls and SocketCallServer over real TCP on loopback: replies and statuses arrive
// unchanged, concurrent calls each get their own reply, an unanswered call ends at its
// timeout, a pooled connection broken by a server restart is replaced, unknown methods and
// malformed requests get clear errors, and a server with open idle connections stops at once.
// The server's bounds: no allocation on a peer's word before its hello, a cap on connections
// that refuses the rest by name, idle and hello timeouts, little-endian headers, and an
// accept loop that closes what it cannot take when the process is out of descriptors.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "call_methods.h"
#include "raw_socket.h"
#include "socket_call_server.h"
#include "socket_calls.h"
#include "tgrack/v1/node.pb.h"

namespace tg {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using tgrack::v1::RunGraphReply;
using tgrack::v1::RunGraphRequest;
using tg::testing::DescriptorExhaustion;
using tg::testing::RawSocket;

// Serves RunGraph: job "bad" fails, job "stall" waits until released, any other job is
// echoed back as the data of one output.
class EchoServer {
 public:
  explicit EchoServer(int port = 0, SocketCallLimits limits = {}) : server_(limits) {
    server_.handle<RunGraphRequest>(kCallRunGraph, "RunGraph",
                                    [this](const RunGraphRequest& request) {
                                      return answer(request);
                                    });
    started_ = server_.start("127.0.0.1", port);
  }
  ~EchoServer() { stop(); }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    wake_.notify_all();
  }
  void stop() {
    release();
    server_.stop();
  }
  // Waits until a "stall" call is in its handler; false after 5 s.
  bool wait_stalled() {
    std::unique_lock lock(mu_);
    return wake_.wait_for(lock, 5s, [this] { return stalled_ > 0; });
  }
  const absl::Status& started() const { return started_; }
  int port() const { return server_.port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }

 private:
  absl::StatusOr<RunGraphReply> answer(const RunGraphRequest& request) {
    if (request.job_id() == "bad") {
      return absl::InvalidArgumentError("node 'y': add of f32[4] and f32[5]");
    }
    if (request.job_id() == "stall") {
      std::unique_lock lock(mu_);
      ++stalled_;
      wake_.notify_all();
      wake_.wait_for(lock, 10s, [this] { return released_; });
    }
    RunGraphReply reply;
    reply.add_outputs()->set_data(request.job_id());
    return reply;
  }

  std::mutex mu_;
  std::condition_variable wake_;
  bool released_ = false;
  int stalled_ = 0;
  SocketCallServer server_;
  absl::Status started_;
};

RunGraphRequest job(const std::string& id) {
  RunGraphRequest request;
  request.set_job_id(id);
  return request;
}

absl::StatusOr<RunGraphReply> run(SocketCalls& calls, const std::string& id,
                                  std::chrono::milliseconds timeout = 5s) {
  return calls.call<RunGraphReply>(kCallRunGraph, job(id), timeout);
}

TEST(SocketCalls, RepliesAndStatusesArriveUnchanged) {
  EchoServer server;
  ASSERT_TRUE(server.started().ok()) << server.started();
  SocketCalls calls(server.address(), "RunGraph on " + server.address());
  for (int i = 0; i < 3; ++i) {  // The later calls reuse the pooled connection.
    auto reply = run(calls, "job-" + std::to_string(i));
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->outputs_size(), 1);
    EXPECT_EQ(reply->outputs(0).data(), "job-" + std::to_string(i));
  }
  auto bad = run(calls, "bad");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "node 'y': add of f32[4] and f32[5]");
  auto after = run(calls, "after");  // An error leaves the connection usable.
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->outputs(0).data(), "after");
}

TEST(SocketCalls, UnknownMethodsAndMalformedRequestsAreRefusedByName) {
  EchoServer server;
  SocketCalls calls(server.address(), "call to " + server.address());
  auto unknown = calls.call(99, "", 5s);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(unknown.status().message(), "no socket call method 99");
  auto malformed = calls.call(kCallRunGraph, "\xff\xff\xff", 5s);
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(malformed.status().message(),
            "malformed tgrack.v1.RunGraphRequest in a RunGraph call");
  auto fine = run(calls, "fine");
  ASSERT_TRUE(fine.ok()) << fine.status();
}

TEST(SocketCalls, ConcurrentCallsEachGetTheirOwnReply) {
  EchoServer server;
  SocketCalls calls(server.address(), "RunGraph");
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string id = std::to_string(t) + "/" + std::to_string(i);
        auto reply = run(calls, id);
        if (!reply.ok() || reply->outputs(0).data() != id) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TEST(SocketCalls, AnUnansweredCallEndsAtItsTimeoutAndTheNextCallWorks) {
  EchoServer server;
  SocketCalls calls(server.address(), "RunGraph on " + server.address());
  const auto start = Clock::now();
  auto stalled = run(calls, "stall", 300ms);
  const auto waited = Clock::now() - start;
  EXPECT_EQ(stalled.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(stalled.status().message(),
            "RunGraph on " + server.address() + ": no reply within 300 ms");
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
  server.release();
  auto next = run(calls, "next");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->outputs(0).data(), "next");
}

TEST(SocketCalls, AConnectionBrokenByAServerRestartIsReplaced) {
  auto server = std::make_unique<EchoServer>();
  const int port = server->port();
  SocketCalls calls(server->address(), "RunGraph");
  ASSERT_TRUE(run(calls, "before").ok());  // Leaves one idle connection in the pool.
  server->stop();
  server = std::make_unique<EchoServer>(port);
  ASSERT_TRUE(server->started().ok()) << server->started();
  auto after = run(calls, "after");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->outputs(0).data(), "after");
}

TEST(SocketCalls, NoServerIsUnavailableNamingTheAddress) {
  int port = 0;
  {
    EchoServer server;  // Finds a free port, then frees it.
    port = server.port();
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  SocketCalls calls(address, "RunGraph on " + address);
  auto reply = run(calls, "nobody");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(reply.status().message(), "RunGraph on " + address + ": cannot connect to " +
                                          address + ": Connection refused");
}

TEST(SocketCallServer, AServerWithIdleConnectionsStopsAtOnce) {
  EchoServer server;
  SocketCalls calls(server.address(), "RunGraph");
  ASSERT_TRUE(run(calls, "one").ok());  // The connection stays open, idle.
  const auto start = Clock::now();
  server.stop();
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(SocketCallServer, ACallInProgressWhenStopBeginsStillGetsItsReply) {
  auto server = std::make_unique<EchoServer>();
  SocketCalls calls(server->address(), "RunGraph");
  std::thread caller([&] {
    auto reply = run(calls, "stall");
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->outputs(0).data(), "stall");
  });
  EXPECT_TRUE(server->wait_stalled());
  server->stop();  // Releases the stalled handler, then waits for its reply to be written.
  caller.join();
}

// A frame header written byte by byte, little-endian as the wire format says.
std::string header(uint32_t size, uint32_t tag) {
  std::string bytes;
  for (uint32_t value : {size, tag}) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(value >> (8 * i)));
  }
  return bytes;
}

std::string hello() { return header(kSocketCallHello.size(), 0) + std::string(kSocketCallHello); }

TEST(SocketCallServer, AHeaderBeforeTheHelloIsNotTakenAtItsWord) {
  EchoServer server;
  {
    RawSocket peer = RawSocket::connect(server.port()).value();
    ASSERT_TRUE(peer.send(header(1u << 30, 0)).ok());  // "A 1 GiB hello follows" — and nothing does.
    EXPECT_TRUE(peer.read_until_closed(5s).ok()) << "the server waits for a 1 GiB hello";
  }
  SocketCalls calls(server.address(), "RunGraph");
  auto after = run(calls, "after");
  ASSERT_TRUE(after.ok()) << after.status();
}

TEST(SocketCallServer, ConnectionsOverTheLimitAreRefusedNamingTheLimit) {
  EchoServer server(0, SocketCallLimits{.max_connections = 2});
  std::vector<RawSocket> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(RawSocket::connect(server.port()).value());
    ASSERT_TRUE(held.back().send(hello()).ok());
  }
  {
    RawSocket third = RawSocket::connect(server.port()).value();
    auto refusal = read_frame(third.fd(), Clock::now() + 5s);
    ASSERT_TRUE(refusal.ok()) << refusal.status();
    EXPECT_EQ(refusal->tag, static_cast<uint32_t>(absl::StatusCode::kResourceExhausted));
    EXPECT_EQ(refusal->payload, "socket calls on port " + std::to_string(server.port()) +
                                    ": all 2 connections in use; try again later");
    EXPECT_TRUE(third.read_until_closed(5s).ok());
  }
  held.clear();
  // The closed connections free their places: a call gets through once the server has
  // seen them go.
  SocketCalls calls(server.address(), "RunGraph");
  absl::StatusOr<RunGraphReply> reply = absl::UnknownError("not called");
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    reply = run(calls, "later");
    if (reply.ok()) break;
    ASSERT_TRUE(absl::IsResourceExhausted(reply.status()) || absl::IsUnavailable(reply.status()))
        << reply.status();
  }
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->outputs(0).data(), "later");
}

TEST(SocketCallServer, ConnectionsIdleOrSilentPastTheirTimeoutsAreClosed) {
  EchoServer server(0, SocketCallLimits{.idle_timeout = 200ms, .hello_timeout = 200ms});
  RawSocket silent = RawSocket::connect(server.port()).value();  // Never says hello.
  RawSocket idle = RawSocket::connect(server.port()).value();    // Says hello, then nothing.
  ASSERT_TRUE(idle.send(hello()).ok());
  EXPECT_TRUE(silent.read_until_closed(10s).ok()) << "a connection without a hello stays open";
  EXPECT_TRUE(idle.read_until_closed(10s).ok()) << "an idle connection stays open";
}

TEST(SocketCallServer, FrameHeadersAreLittleEndian) {
  EchoServer server;
  RawSocket peer = RawSocket::connect(server.port()).value();
  const std::string request = job("le").SerializeAsString();
  ASSERT_TRUE(peer.send(hello() + header(request.size(), kCallRunGraph) + request).ok());
  unsigned char reply_header[8];
  ASSERT_TRUE(
      read_exactly(peer.fd(), reinterpret_cast<char*>(reply_header), 8, Clock::now() + 5s).ok());
  const uint32_t size = reply_header[0] | reply_header[1] << 8 | reply_header[2] << 16 |
                        uint32_t{reply_header[3]} << 24;
  std::string payload(size, '\0');
  ASSERT_TRUE(read_exactly(peer.fd(), payload.data(), size, Clock::now() + 5s).ok());
  RunGraphReply reply;
  ASSERT_TRUE(reply.ParseFromString(payload));
  EXPECT_EQ(reply.outputs(0).data(), "le");
}

TEST(SocketCallServer, OutOfDescriptorsTheServerClosesWhatItCannotTakeAndRecovers) {
  EchoServer server;
  {
    RawSocket client = RawSocket::unconnected().value();
    DescriptorExhaustion exhausted;
    ASSERT_TRUE(client.connect_to(server.port()).ok());
    EXPECT_TRUE(client.read_until_closed(5s).ok())
        << "a connection the server cannot accept waits in its backlog";
  }
  SocketCalls calls(server.address(), "RunGraph");
  auto after = run(calls, "after");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->outputs(0).data(), "after");
}

}  // namespace
}  // namespace tg
