// An RDMA link to one peer: one reliable-connected queue pair on the first RDMA device,
// set up over the peer's tcp control connection (control_channel.h), which then carries
// goodbyes, failure notices and keep-alives, and reports the peer's death. For every receive the receiver registers the destination (or a scratch
// region, for receive-and-reduce) and sends the sender its address and key; the sender
// registers its source and RDMA-writes into it with an immediate, whose arrival completes
// the receive. Ops complete in posting order, as with every Pair.
#pragma once

#include <infiniband/verbs.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "collectives/transport/control_channel.h"
#include "collectives/transport/pair.h"

namespace tg::coll::ibverbs {

class IbvPair : public Pair {
 public:
  // Takes ownership of `ctrl_fd` (a connected, blocking tcp socket to the peer), creates the
  // queue pair and sends its address. connect() then reads the peer's and brings the queue
  // pair up; create every pair before connecting any, so no rank waits on another's order.
  static absl::StatusOr<std::unique_ptr<IbvPair>> create(uint32_t peer, int ctrl_fd,
                                                         std::shared_ptr<const std::vector<std::string>> addresses);
  absl::Status connect(std::chrono::steady_clock::time_point deadline);
  ~IbvPair() override;

  void post(Op* op) override;
  absl::StatusOr<bool> progress() override;
  size_t poll_fds(std::vector<pollfd>& fds) override;
  absl::Status check_events(const pollfd* fds, size_t count) override;
  void abort(uint32_t culprit) override;
  void close(bool orderly) override;
  void send_keepalive(uint64_t sequence, int32_t waiting_on) override;
  PeerLiveness liveness() override;
  uint32_t failed_rank() const override { return peer_; }
  const char* transport() const override { return "ibverbs"; }
  uint32_t peer() const override { return peer_; }
  const std::string& peer_address() const override { return (*addresses_)[peer_]; }

 private:
  struct Credit {  // Receiver -> sender: where the next send lands.
    uint64_t addr;
    uint32_t rkey;
    uint32_t bytes;
  };
  struct Pending {
    Op* op;
    ibv_mr* mr = nullptr;
    std::vector<std::byte> scratch;  // kRecvReduce landing zone.
  };

  IbvPair(uint32_t peer, int ctrl_fd, std::shared_ptr<const std::vector<std::string>> addresses);
  absl::Status open();
  absl::Status error(const std::string& what);
  absl::Status post_credit_recv();
  absl::Status try_send();
  // Reads what arrived on the control connection; a notice or a broken connection poisons
  // the pair.
  absl::Status read_control();

  const uint32_t peer_;
  ControlChannel control_;
  std::shared_ptr<const std::vector<std::string>> addresses_;
  ibv_context* ctx_ = nullptr;
  ibv_pd* pd_ = nullptr;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  uint32_t psn_ = 0;
  // Credits arrive in small registered slots, one posted receive per slot.
  std::vector<Credit> credit_slots_;
  ibv_mr* credit_mr_ = nullptr;
  std::vector<Credit> credit_out_;  // Outgoing credits, one slot per outstanding receive.
  ibv_mr* credit_out_mr_ = nullptr;
  size_t credit_out_next_ = 0;
  std::deque<Credit> credits_;      // Received, not yet used.
  std::deque<Pending> sends_;       // Posted, not yet written.
  std::deque<Pending> writing_;     // Written, completion pending.
  std::deque<Pending> recvs_;       // Credited, data pending.
  bool closed_ = false;
  absl::Status failed_;
};

}  // namespace tg::coll::ibverbs
