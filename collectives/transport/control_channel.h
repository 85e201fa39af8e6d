// The control connection of a link to one peer, shared by the tcp and ibverbs transports: a
// tcp socket beside the data path that carries an orderly goodbye, failure notices and
// keep-alives (liveness.h), as one-letter messages:
//   'B'                                  goodbye: the peer closes after its last operation;
//   'A' culprit (4 bytes)                the peer gives up because rank `culprit` failed;
//   'K' sequence (8) waiting_on (4)      keep-alive: the peer waits in operation `sequence`
//                                        for rank `waiting_on` (-1: no one).
// Integers in host byte order: both ends run on the same kind of machine. Nothing here
// blocks: what the socket does not take waits and goes out first next time, so messages
// never interleave; a keep-alive that finds earlier bytes still waiting is dropped whole.
// Used by one thread, its rank's.
#pragma once

#include <cstdint>
#include <string>

#include "collectives/transport/liveness.h"

namespace tg::coll {

class ControlChannel {
 public:
  explicit ControlChannel(int fd);  // Takes ownership of the connected socket.
  ~ControlChannel();
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  int fd() const { return fd_; }
  // The peer said goodbye and closed: nothing more will come (poll no longer for it).
  bool ended() const { return ended_; }

  // What reading the messages that arrived found.
  struct Reading {
    enum class Kind {
      kNothing,    // Only goodbyes and keep-alives (or nothing) so far.
      kClosed,     // The connection ended without a goodbye: the peer died.
      kBroken,     // The connection failed (`what` says how).
      kAbort,      // The peer gave up because of rank `culprit`.
      kViolation,  // Bytes that are no message.
    };
    Kind kind = Kind::kNothing;
    uint32_t culprit = 0;
    std::string what;
    // What went wrong, for an error naming the peer: "" for kNothing.
    std::string problem() const;
  };
  // Reads every whole message that has arrived, without blocking.
  Reading read();

  void say_goodbye();
  void send_abort(uint32_t culprit);
  void send_keepalive(uint64_t sequence, int32_t waiting_on);
  // What the peer's keep-alives said so far (reads none: call read() first).
  const PeerLiveness& heard() const { return heard_; }

  // Closes the socket; unread bytes (the peer's keep-alives) are read first, which would
  // otherwise turn an orderly close into a reset.
  void close();

 private:
  void send(const char* message, size_t size);

  int fd_;
  std::string unsent_;
  PeerLiveness heard_{.supported = true};
  bool said_bye_ = false;  // By the peer.
  bool ended_ = false;
  bool closed_ = false;
};

}  // namespace tg::coll
