// The data-plane listener of one process: accepts peers' connections, reads each one's
// handshake (communicator id, sending rank, receiving rank, stream index) and holds the
// socket until the receiving rank claims it with take(). Connections may arrive before
// their rank asks for them. Thread-safe; one thread runs between start() and the
// destructor.
//
// No peer can stall the listener or hold its resources for long: the thread reads
// handshakes without blocking, many at once, alongside accepting; a handshake not complete
// within ListenerLimits::handshake_timeout, a malformed one, and a connection beyond
// max_pending_handshakes are closed; a handshaken connection nobody claims within
// unclaimed_timeout is closed, and at most max_unclaimed are held. Out of file descriptors,
// the accept step closes what it cannot take and pauses (net/accept_guard.h).
#pragma once

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

#include "net/accept_guard.h"

namespace tg::coll::tcp {

// What a connecting rank sends first on every connection.
struct Handshake {
  std::string comm_id;
  uint32_t from_rank = 0;
  uint32_t to_rank = 0;
  uint32_t stream = 0;  // 0 = control, 1.. = data streams.
};

struct ListenerLimits {
  std::chrono::milliseconds handshake_timeout{5000};  // From accept to a complete handshake.
  int max_pending_handshakes = 256;                   // Connections still handshaking.
  std::chrono::milliseconds unclaimed_timeout{600000};  // Handshaken, waiting for take().
  int max_unclaimed = 4096;
};

class Listener {
 public:
  explicit Listener(ListenerLimits limits = {}) : limits_(limits) {}
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds host:port (port 0 = ephemeral) and starts accepting.
  absl::Status start(const std::string& host, int port, int socket_buffer_bytes);
  // host:port actually bound.
  std::string address() const { return address_; }

  // The socket matching the handshake, once it arrives; DEADLINE_EXCEEDED naming the
  // missing rank when it does not arrive by `deadline`. The caller owns the returned fd.
  absl::StatusOr<int> take(const Handshake& want, std::chrono::steady_clock::time_point deadline);
  // Closes every unclaimed connection of `comm_id`.
  void forget(const std::string& comm_id);

 private:
  using Key = std::tuple<std::string, uint32_t, uint32_t, uint32_t>;
  using Clock = std::chrono::steady_clock;
  // A connection whose handshake is still arriving.
  struct Incoming {
    Clock::time_point deadline;
    std::string bytes;  // Received so far.
  };
  struct Unclaimed {
    int fd;
    Clock::time_point expires;
  };

  void run();
  // Reads what `fd` has; false when the connection is to be closed (EOF, error, malformed).
  // A complete handshake moves the connection to waiting_.
  bool read_handshake(int fd, Incoming& incoming);
  // Closes handshakes and unclaimed connections past their time; the next such time.
  Clock::time_point expire(Clock::time_point now);

  const ListenerLimits limits_;
  AcceptGuard accept_guard_;  // Holds its reserve descriptor from construction on.
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::string address_;
  std::thread thread_;
  std::map<int, Incoming> incoming_;  // By fd; only the listener's thread touches it.
  std::mutex mu_;
  std::condition_variable arrived_;
  std::map<Key, Unclaimed> waiting_;  // Guarded by mu_.
};

// Wire form of a handshake (little-endian), and socket set-up both ends share.
std::string encode_handshake(const Handshake& h);
void tune_socket(int fd, int buffer_bytes);

}  // namespace tg::coll::tcp
