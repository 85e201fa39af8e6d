// A TCP link to one peer: one control connection (orderly goodbye, failure notices,
// keep-alives) and
// several data streams. Each Op is striped over the streams (large ones) or placed on one
// (small ones), both sides choosing identically from the order of Ops and their sizes.
// Bytes move straight between the sockets and the Op's memory; a receive-and-reduce lands in
// its destination and is combined there, or in place (destination = local operand) reads
// through a small per-stream scratch; either way the reduction overlaps the transfer. Sockets are
// non-blocking and only the owning rank's thread touches them. A data stream may be
// encrypted (tls_stream.h); its bytes then pass through TLS records.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "collectives/transport/control_channel.h"
#include "collectives/transport/pair.h"
#include "collectives/transport/tcp/tls_stream.h"

namespace tg::coll::tcp {

class TcpPair : public Pair {
 public:
  // Takes ownership of the connected sockets and of `tls`, one per data stream (nullptr
  // for a plain one). `addresses` maps every rank to its data address, for naming a failed
  // rank reported by this peer.
  TcpPair(uint32_t peer, int ctrl_fd, std::vector<int> data_fds,
          std::vector<std::unique_ptr<TlsStream>> tls,
          std::shared_ptr<const std::vector<std::string>> addresses);
  ~TcpPair() override;

  void post(Op* op) override;
  absl::StatusOr<bool> progress() override;
  size_t poll_fds(std::vector<pollfd>& fds) override;
  absl::Status check_events(const pollfd* fds, size_t count) override;
  void abort(uint32_t culprit) override;
  void close(bool orderly) override;
  void send_keepalive(uint64_t sequence, int32_t waiting_on) override;
  PeerLiveness liveness() override;
  uint32_t failed_rank() const override { return failed_rank_; }
  const char* transport() const override { return "tcp"; }
  uint32_t peer() const override { return peer_; }
  const std::string& peer_address() const override { return (*addresses_)[peer_]; }

 private:
  struct Part {
    Op* op;
    size_t offset;
    size_t length;
    size_t moved = 0;    // Bytes sent, or received.
    size_t reduced = 0;  // kRecvReduce: bytes combined into the destination.
  };
  struct Stream {
    int fd = -1;
    std::unique_ptr<TlsStream> tls;
    std::deque<Part> sends;
    std::deque<Part> recvs;
    std::vector<std::byte> scratch;  // kRecvReduce staging, allocated on first use.
    size_t fill = 0;
  };

  absl::Status error(const std::string& what);
  absl::Status data_error(const std::string& what);
  // What one send or receive on `s` moved: 0 when the socket would block.
  absl::StatusOr<size_t> send_some(Stream& s, const std::byte* bytes, size_t size);
  absl::StatusOr<size_t> receive_some(Stream& s, std::byte* into, size_t size);
  absl::StatusOr<bool> progress_send(Stream& s);
  absl::StatusOr<bool> progress_recv(Stream& s);
  // Reads what arrived on the control connection; a failure notice or a broken connection
  // poisons the pair.
  absl::Status read_control();
  void finish_part(Part& part);

  const uint32_t peer_;
  ControlChannel control_;
  std::vector<Stream> streams_;
  std::shared_ptr<const std::vector<std::string>> addresses_;
  uint64_t send_seq_ = 0;
  uint64_t recv_seq_ = 0;
  bool closed_ = false;
  uint32_t failed_rank_;
  absl::Status failed_;
};

}  // namespace tg::coll::tcp
