// A link between two ranks of one process: no sockets, no staging. The receiving rank's
// thread copies or reduces straight out of the sender's buffer (see hub.h). Failure of any
// local rank is seen by all of them through the hub; so are keep-alives, which a rank posts
// on its board and its peers read from there.
#pragma once

#include <memory>
#include <string>

#include "collectives/transport/local/hub.h"
#include "collectives/transport/pair.h"

namespace tg::coll::local {

class LocalPair : public Pair {
 public:
  LocalPair(uint32_t self, uint32_t peer, std::shared_ptr<LocalHub> hub, std::string peer_address);

  void post(Op* op) override;
  absl::StatusOr<bool> progress() override;
  size_t poll_fds(std::vector<pollfd>&) override { return 0; }
  absl::Status check_events(const pollfd*, size_t) override { return hub_failure(); }
  void abort(uint32_t culprit) override { hub_->fail(culprit, self_); }
  void close(bool orderly) override;
  void send_keepalive(uint64_t sequence, int32_t waiting_on) override;
  PeerLiveness liveness() override;
  uint32_t failed_rank() const override;
  const char* transport() const override { return "local"; }
  uint32_t peer() const override { return peer_; }
  const std::string& peer_address() const override { return peer_address_; }

 private:
  absl::Status hub_failure() const;

  const uint32_t self_;
  const uint32_t peer_;
  std::shared_ptr<LocalHub> hub_;
  std::string peer_address_;
  Channel& out_;  // self -> peer
  Channel& in_;   // peer -> self
  std::shared_ptr<Doorbell> peer_doorbell_;
};

}  // namespace tg::coll::local
