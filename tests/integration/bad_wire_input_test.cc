// The bad-input catalogue, raw bytes: what a hostile peer sends straight to the metrics
// ports and the collectives' data port of a real controller and real
// daemons — garbage, oversized claims, half-finished messages, idle and dripping
// connections. Each case checks what the port does with the bytes (answers or closes, never
// allocates on a peer's word, never lets one connection block the others), then that every
// process still runs and the pool still computes right.
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bad_input_pool.h"
#include "raw_socket.h"

namespace tg::testing {
namespace {

constexpr uint32_t kOneGiB = uint32_t{1} << 30;
// A server that allocated what a 1 GiB claim asks for shows it in its peak resident memory.
constexpr uint64_t kAllocationTolerance = uint64_t{256} << 20;

std::string le32(uint32_t value) {
  std::string out(4, '\0');
  std::memcpy(out.data(), &value, 4);
  return out;
}

// A data-plane handshake header: magic "TGC1", comm id length, from, to, stream.
std::string handshake_header(uint32_t comm_id_length) {
  return le32(0x31434754) + le32(comm_id_length) + le32(0) + le32(1) + le32(0);
}

struct WireCase {
  std::string name;
  Target target;
  // The port it goes to, and the exchange: OK when the server behaved as it must.
  std::function<int(HostilePool&)> port;
  std::function<absl::Status(HostilePool&, int port)> exchange;
};

std::ostream& operator<<(std::ostream& out, const WireCase& c) { return out << c.name; }

// ---- Exchanges -----------------------------------------------------------------------------

// Sends `bytes`, ends the sending half, and wants the server to close within 10 s; the reply
// (if any) must contain `reply_fragment`.
std::function<absl::Status(HostilePool&, int)> send_and_expect_close(std::string bytes,
                                                                     std::string reply_fragment = "") {
  return [bytes, reply_fragment](HostilePool&, int port) -> absl::Status {
    auto socket = RawSocket::connect(port);
    if (!socket.ok()) return socket.status();
    (void)socket->send(bytes);  // The server may close before it has read everything.
    socket->finish_sending();
    auto reply = socket->read_until_closed(10s);
    if (!reply.ok()) return reply.status();
    if (reply->find(reply_fragment) == std::string::npos) {
      return absl::InternalError("the reply lacks \"" + reply_fragment + "\": " + reply->substr(0, 200));
    }
    return absl::OkStatus();
  };
}

// Sends `bytes` and holds the connection open while the pool must still compute (and, for
// `connections` > 1, holds that many such connections).
std::function<absl::Status(HostilePool&, int)> hold_open_while_computing(std::string bytes,
                                                                         int connections = 1) {
  return [bytes, connections](HostilePool& p, int port) -> absl::Status {
    std::vector<RawSocket> held;
    for (int i = 0; i < connections; ++i) {
      auto socket = RawSocket::connect(port);
      if (!socket.ok()) return socket.status();
      if (absl::Status s = socket->send(bytes); !s.ok()) return s;
      held.push_back(std::move(*socket));
    }
    if (absl::Status s = p.still_computes(); !s.ok()) return s;
    return p.still_scrapes();
  };
}

// Sends `bytes` claiming a 1 GiB payload, then ends the connection: the server's peak
// resident memory must not grow by anything like that.
std::function<absl::Status(HostilePool&, int)> claim_without_allocation(std::string bytes,
                                                                        Target target) {
  return [bytes, target](HostilePool& p, int port) -> absl::Status {
    reset_peak_resident_bytes(p.pid(target));
    const uint64_t before = peak_resident_bytes(p.pid(target));
    if (absl::Status s = send_and_expect_close(bytes)(p, port); !s.ok()) return s;
    const uint64_t after = peak_resident_bytes(p.pid(target));
    if (after > before + kAllocationTolerance) {
      return absl::ResourceExhaustedError(
          "peak resident memory grew from " + std::to_string(before) + " to " +
          std::to_string(after) + " bytes on a peer's claim of " + std::to_string(kOneGiB));
    }
    return absl::OkStatus();
  };
}

// 100 connections that each send half a header and go away: the server's open descriptors
// must come back to where they were.
absl::Status abandoned_handshakes_close(HostilePool& p, int port, Target target, std::string half) {
  const int before = open_fds(p.pid(target));
  for (int i = 0; i < 100; ++i) {
    auto socket = RawSocket::connect(port);
    if (!socket.ok()) return socket.status();
    (void)socket->send(half);
  }
  int now = before;
  if (!wait_until([&] { return (now = open_fds(p.pid(target))) <= before + 4; }, 15s)) {
    return absl::ResourceExhaustedError("open descriptors went from " + std::to_string(before) +
                                        " to " + std::to_string(now) + " and stayed there");
  }
  return absl::OkStatus();
}

// ---- The catalogue ------------------------------------------------------------------------

std::vector<WireCase> metrics_cases(Target target, const std::string& who) {
  auto port = [target](HostilePool& p) { return p.metrics_port(target); };
  return {
      {who + "MetricsUnknownPath", target, port,
       send_and_expect_close("GET /no-such-path HTTP/1.0\r\n\r\n", " 404")},
      {who + "MetricsLargePost", target, port,
       send_and_expect_close("POST /metrics HTTP/1.0\r\nContent-Length: 4194304\r\n\r\n" +
                             std::string(4 << 20, 'x'))},
      {who + "MetricsHugeRequestLine", target, port,
       send_and_expect_close("GET /" + std::string(1 << 20, 'a') + " HTTP/1.0\r\n\r\n")},
      {who + "MetricsBinaryGarbage", target, port,
       send_and_expect_close([] {
         std::string bytes(64 << 10, '\0');
         for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
         return bytes;
       }())},
      {who + "MetricsHalfOpenRequest", target, port, hold_open_while_computing("GET /metr")},
  };
}

// Four connections, each held longer than a handshake may take, outlast a communicator's
// creation deadline if the listener serves them one after another.
std::vector<WireCase> data_port_cases(Target target, const std::string& who) {
  auto port = [target](HostilePool& p) { return p.data_port(target); };
  return {
      {who + "DataIdleConnections", target, port, hold_open_while_computing("", 4)},
      {who + "DataDrippingHandshakes", target, port,
       hold_open_while_computing(handshake_header(8).substr(0, 8), 4)},
      {who + "DataHandshakeClaimsOneGiBCommId", target, port,
       claim_without_allocation(handshake_header(kOneGiB), target)},
      {who + "DataWrongMagic", target, port, send_and_expect_close("GET / HTTP/1.0\r\n\r\n" + std::string(64, 'x'))},
      {who + "DataAbandonedHandshakes", target, port,
       [target](HostilePool& p, int port) {
         return abandoned_handshakes_close(p, port, target, handshake_header(8).substr(0, 10));
       }},
  };
}

std::vector<WireCase> wire_cases() {
  std::vector<WireCase> all;
  for (auto cases : {metrics_cases(Target::kController, "Controller"), metrics_cases(Target::kDaemon, "Daemon"),
                     data_port_cases(Target::kDaemon, "Daemon"),
                     data_port_cases(Target::kPeerDaemon, "PeerDaemon")}) {
    all.insert(all.end(), cases.begin(), cases.end());
  }
  return all;
}

class BadBytes : public ::testing::TestWithParam<WireCase> {};

TEST_P(BadBytes, AreHandledAndHarmNothing) {
  HostilePool& p = shared_hostile_pool();
  ASSERT_TRUE(p.all_alive().ok()) << p.all_alive();
  const WireCase& c = GetParam();
  absl::Status handled = c.exchange(p, c.port(p));
  EXPECT_TRUE(handled.ok()) << handled;
  absl::Status unharmed = p.unharmed();
  EXPECT_TRUE(unharmed.ok()) << unharmed;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadBytes, ::testing::ValuesIn(wire_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tg::testing
