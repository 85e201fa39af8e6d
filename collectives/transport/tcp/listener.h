// The data-plane listener of one process: accepts peers' connections, runs the listener's
// side of each one's handshake (handshake.h: who it is for, and proof that the peer holds
// the communicator's secret, registered with expect()) and holds the socket until the
// receiving rank claims it with take(). Connections may arrive before their rank asks for
// them, and before their communicator's secret is known: their proof waits for expect().
// Thread-safe; one thread runs between start() and the destructor.
//
// No peer can stall the listener or hold its resources for long: the thread reads
// handshakes without blocking, many at once, alongside accepting. Closed at once, counted
// and logged with the peer's address (at most one line a second): a connection beyond
// max_connections (handshaking and unclaimed together) or beyond max_pending_handshakes,
// a malformed handshake, a proof that does not verify. A handshake not complete and
// verified within handshake_timeout, and a verified connection nobody claims within
// unclaimed_timeout, are closed too. Out of file descriptors, the accept step closes what it
// cannot take and pauses (net/accept_guard.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "collectives/transport/tcp/handshake.h"
#include "net/accept_guard.h"
#include "net/sockets.h"

namespace tg::coll::tcp {

struct ListenerLimits {
  std::chrono::milliseconds handshake_timeout{5000};  // From accept to a verified proof.
  int max_pending_handshakes = 256;                   // Connections still handshaking.
  std::chrono::milliseconds unclaimed_timeout{600000};  // Verified, waiting for take().
  int max_connections = 4096;  // Handshaking and unclaimed connections held at once.
  // Not a limit: every connection accepted is encrypted (tgd --data-tls), whatever the
  // dialer asks.
  bool require_tls = false;
};

// A verified connection, handed to its rank.
struct Claimed {
  int fd = -1;  // Blocking; the caller owns it.
  Proven proven;
};

// What the listener refused since start, and what it holds now.
struct ListenerCounters {
  uint64_t over_limit = 0;          // Closed at accept: a limit was reached.
  uint64_t malformed = 0;           // Closed: not a handshake, or closed halfway.
  uint64_t unauthenticated = 0;     // Closed: a proof that does not verify.
  uint64_t handshake_timeouts = 0;  // Closed: not verified within handshake_timeout.
  uint64_t held = 0;                // Handshaking or unclaimed now.
};

class Listener {
 public:
  explicit Listener(ListenerLimits limits = {}) : limits_(limits) {}
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Connections for `comm_id` are accepted when they prove `secret` (handshake.h); until
  // this is called, their proofs wait. forget() ends it.
  void expect(const std::string& comm_id, std::string secret);

  // Binds host:port (port 0 = ephemeral) and starts accepting.
  absl::Status start(const std::string& host, int port, int socket_buffer_bytes);
  // host:port actually bound.
  std::string address() const { return address_; }

  // The connection matching the handshake (its tls flag aside), once it arrives;
  // DEADLINE_EXCEEDED naming the missing rank when it does not arrive by `deadline`.
  absl::StatusOr<Claimed> take(const Handshake& want,
                               std::chrono::steady_clock::time_point deadline);
  // Closes every unclaimed connection of `comm_id` and forgets its secret.
  void forget(const std::string& comm_id);

  ListenerCounters counters() const;

 private:
  using Key = std::tuple<std::string, uint32_t, uint32_t, uint32_t>;
  using Clock = std::chrono::steady_clock;
  // A connection whose handshake is under way: its hello arriving, then its proof, then
  // (proof complete) waiting for its communicator's secret.
  struct Incoming {
    Clock::time_point deadline;
    std::string hello;           // Received so far.
    std::string reply;           // Sent once the hello is complete.
    std::string proof;           // Received so far.
  };
  struct Unclaimed {
    Claimed connection;
    Clock::time_point expires;
  };

  void run();
  enum class Outcome { kPending, kDone, kMalformed, kUnauthenticated };
  // Reads what `fd` has and answers; a verified handshake moves the connection to waiting_.
  Outcome read_handshake(int fd, Incoming& incoming);
  // Checks a complete proof against the communicator's secret, when known.
  Outcome verify(int fd, Incoming& incoming);
  // Ends a handshake that left incoming_: kMalformed closes, kUnauthenticated refuses.
  void conclude(int fd, Outcome outcome);
  // Closes `fd`, counts it in `counter` and logs it with the peer's address, at most one
  // line a second.
  void refuse(int fd, std::atomic<uint64_t>& counter, const std::string& why);
  // Closes handshakes and unclaimed connections past their time; the next such time.
  Clock::time_point expire(Clock::time_point now);

  const ListenerLimits limits_;
  AcceptGuard accept_guard_;  // Holds its reserve descriptor from construction on.
  int listen_fd_ = -1;
  net::StopFd wake_;  // Wakes the thread: a secret arrived, or stopping_.
  std::atomic<bool> stopping_{false};
  std::string address_;
  std::thread thread_;
  std::map<int, Incoming> incoming_;  // By fd; only the listener's thread touches it.
  mutable std::mutex mu_;
  std::condition_variable arrived_;
  std::map<Key, Unclaimed> waiting_;  // Guarded by mu_.
  std::map<std::string, std::string> secrets_;  // By communicator; guarded by mu_.
  std::atomic<uint64_t> over_limit_{0}, malformed_{0}, unauthenticated_{0}, timeouts_{0};
  std::atomic<uint64_t> handshaking_{0};  // incoming_.size(), for counters().
  Clock::time_point last_log_{};  // Listener thread only.
  uint64_t unlogged_ = 0;          // Refusals since the last line; listener thread only.
};

// Socket set-up both ends share.
void tune_socket(int fd, int buffer_bytes);

}  // namespace tg::coll::tcp
