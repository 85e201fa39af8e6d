// The metrics endpoints of a real tgd and tgcontroller survive any HTTP input: unknown paths,
// large bodies, garbage bytes and half-open connections. After each, the process still runs
// and a plain GET /metrics still answers with the process's metrics.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <random>

#include <gtest/gtest.h>

#include "pool.h"
#include "tests/ops/http_get.h"

namespace tg::testing {
namespace {

// A connected TCP socket to 127.0.0.1:port with 10 s send and receive timeouts; -1 if none.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes` (as much as the server takes), then reads until the server closes or stops
// answering. What the server answers does not matter; that it lives on does.
void send_and_drain(int port, const std::string& bytes) {
  const int fd = connect_to(port);
  ASSERT_GE(fd, 0) << "cannot connect to 127.0.0.1:" << port;
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // The server closed or reset: fine.
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buffer[4096];
  while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
  }
  ::close(fd);
}

struct Hostile {
  std::string name;
  std::string bytes;
};

std::vector<Hostile> hostile_requests() {
  std::string garbage(64 << 10, '\0');
  std::mt19937 rng(12);
  for (char& c : garbage) c = static_cast<char>(rng());
  const std::string body(4 << 20, 'x');
  return {
      {"unknown path", "GET /no/such/path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
      {"root path", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
      {"large POST to /metrics",
       "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body},
      {"large POST to an unknown path",
       "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body},
      {"huge header line", "GET /metrics HTTP/1.1\r\nX: " + std::string(1 << 20, 'h') + "\r\n\r\n"},
      {"garbage bytes", garbage},
      {"unknown method", "BREW /metrics HTCPCP/1.0\r\n\r\n"},
  };
}

class MetricsInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_.controller_args = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                             pool_.dir().file("controller.metrics")};
    pool_.daemon_args["node-a"] = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                                   pool_.dir().file("node-a.metrics")};
    ASSERT_TRUE(pool_.start_controller().ok());
    ASSERT_TRUE(pool_.start_daemon("node-a").ok());
  }

  int port_of(const std::string& file, Process& process) {
    auto address = read_port_file(pool_.dir().file(file), process);
    EXPECT_TRUE(address.ok()) << address.status();
    return address.ok() ? std::stoi(address->substr(address->rfind(':') + 1)) : 0;
  }

  // Every hostile request, then a half-open connection held while scraping; after each the
  // process runs and /metrics answers with a metric only it exports.
  void survives_everything(Process& process, int port, const std::string& metric) {
    auto scrape_ok = [&](const std::string& after) {
      EXPECT_FALSE(process.wait_exit(0ms).has_value())
          << "died after " << after << ":\n" << process.stderr_text();
      auto text = http_get(port, "/metrics");
      ASSERT_TRUE(text.ok()) << "after " << after << ": " << text.status();
      EXPECT_NE(text->find(metric), std::string::npos) << "no " << metric << " after " << after;
    };
    for (const Hostile& h : hostile_requests()) {
      send_and_drain(port, h.bytes);
      scrape_ok(h.name);
    }
    const int half_open = connect_to(port);
    ASSERT_GE(half_open, 0);
    const std::string partial = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // No blank line.
    ASSERT_EQ(::send(half_open, partial.data(), partial.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(partial.size()));
    scrape_ok("a half-open connection (still open)");
    ::close(half_open);
    scrape_ok("a half-open connection (closed)");
  }

  Pool pool_;
};

TEST_F(MetricsInputTest, DaemonEndpointSurvivesAnyHttpInput) {
  const int port = port_of("node-a.metrics", pool_.daemon("node-a"));
  ASSERT_GT(port, 0);
  survives_everything(pool_.daemon("node-a"), port, "tgrack_device_info");
}

TEST_F(MetricsInputTest, ControllerEndpointSurvivesAnyHttpInput) {
  const int port = port_of("controller.metrics", pool_.controller());
  ASSERT_GT(port, 0);
  survives_everything(pool_.controller(), port, "tgrack_jobs_submitted_total");
}

}  // namespace
}  // namespace tg::testing
