// The data-plane listener of one process: accepts peers' connections, reads each one's
// handshake (communicator id, sending rank, receiving rank, stream index) and holds the
// socket until the receiving rank claims it with take(). Connections may arrive before
// their rank asks for them. Thread-safe; one accept thread runs between start() and the
// destructor.
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

namespace tg::coll::tcp {

// What a connecting rank sends first on every connection.
struct Handshake {
  std::string comm_id;
  uint32_t from_rank = 0;
  uint32_t to_rank = 0;
  uint32_t stream = 0;  // 0 = control, 1.. = data streams.
};

class Listener {
 public:
  Listener() = default;
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
  void accept_loop();
  void handle(int fd);

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::string address_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable arrived_;
  std::map<Key, int> waiting_;  // Guarded by mu_.
};

// Wire form of a handshake, and socket set-up both ends share.
std::string encode_handshake(const Handshake& h);
void tune_socket(int fd, int buffer_bytes);

}  // namespace tg::coll::tcp
