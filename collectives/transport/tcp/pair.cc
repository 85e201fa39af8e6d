#include "collectives/transport/tcp/pair.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <absl/strings/str_cat.h>

namespace tg::coll::tcp {
namespace {

// Ops at least this large are striped over every stream.
constexpr size_t kStripeMin = 256 << 10;
// Striping granularity: a multiple of every element size, so stripes hold whole elements.
constexpr size_t kStripeAlign = 4096;
// In-place receive-and-reduce stages this much per stream: small enough that the bytes the
// kernel copies in are still in L1/L2 when the reduction reads them.
constexpr size_t kScratchBytes = 64 << 10;

}  // namespace

TcpPair::TcpPair(uint32_t peer, int ctrl_fd, std::vector<int> data_fds,
                 std::vector<std::unique_ptr<TlsStream>> tls,
                 std::shared_ptr<const std::vector<std::string>> addresses)
    : peer_(peer), control_(ctrl_fd), addresses_(std::move(addresses)), failed_rank_(peer) {
  streams_.resize(data_fds.size());
  for (size_t i = 0; i < data_fds.size(); ++i) {
    streams_[i].fd = data_fds[i];
    if (i < tls.size()) streams_[i].tls = std::move(tls[i]);
  }
}

TcpPair::~TcpPair() { close(true); }

void TcpPair::post(Op* op) {
  auto queue_of = [&](Stream& s) -> std::deque<Part>& {
    return op->kind == Op::Kind::kSend ? s.sends : s.recvs;
  };
  uint64_t& seq = op->kind == Op::Kind::kSend ? send_seq_ : recv_seq_;
  const size_t n = streams_.size();
  const size_t start = seq++ % n;
  size_t parts = op->bytes >= kStripeMin ? n : 1;
  size_t chunk = (op->bytes + parts - 1) / parts;
  chunk = (chunk + kStripeAlign - 1) / kStripeAlign * kStripeAlign;
  op->parts_left = 0;
  for (size_t k = 0, off = 0; off < op->bytes; ++k, off += chunk) {
    queue_of(streams_[(start + k) % n]).push_back(Part{op, off, std::min(chunk, op->bytes - off)});
    ++op->parts_left;
  }
}

void TcpPair::finish_part(Part& part) {
  if (--part.op->parts_left == 0) part.op->complete();
}

absl::Status TcpPair::data_error(const std::string& what) {
  // A peer that gives up sends a notice naming the rank at fault before resetting its
  // streams; prefer that notice to the bare reset.
  if (failed_.ok() && !closed_) {
    absl::Status notice = read_control();
    if (!notice.ok()) return notice;
  }
  return error(what);
}

absl::Status TcpPair::error(const std::string& what) {
  if (failed_.ok()) {
    count_error();
    failed_ = absl::UnavailableError(
        absl::StrCat("peer rank ", peer_, " at ", peer_address(), " over tcp: ", what));
  }
  return failed_;
}

absl::StatusOr<size_t> TcpPair::send_some(Stream& s, const std::byte* bytes, size_t size) {
  if (s.tls) {
    absl::StatusOr<size_t> sent = s.tls->send(bytes, size);
    if (!sent.ok()) return data_error(std::string(sent.status().message()));
    return sent;
  }
  while (true) {
    const ssize_t n = ::send(s.fd, bytes, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) return data_error(absl::StrCat("send failed: ", std::strerror(errno)));
  }
}

absl::StatusOr<size_t> TcpPair::receive_some(Stream& s, std::byte* into, size_t size) {
  if (s.tls) {
    absl::StatusOr<size_t> got = s.tls->receive(into, size);
    if (!got.ok()) return data_error(std::string(got.status().message()));
    return got;
  }
  while (true) {
    const ssize_t n = ::recv(s.fd, into, size, MSG_DONTWAIT);
    if (n == 0) return data_error("connection closed by the peer mid-transfer (peer died?)");
    if (n > 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) return data_error(absl::StrCat("receive failed: ", std::strerror(errno)));
  }
}

absl::StatusOr<bool> TcpPair::progress_send(Stream& s) {
  bool moved = false;
  while (!s.sends.empty()) {
    Part& p = s.sends.front();
    absl::StatusOr<size_t> sent = send_some(s, p.op->data + p.offset + p.moved, p.length - p.moved);
    if (!sent.ok()) return sent.status();
    if (*sent == 0) break;
    const size_t n = *sent;
    moved = true;
    count_sent(static_cast<uint64_t>(n));
    p.moved += static_cast<size_t>(n);
    if (p.moved < p.length) {
      if (s.tls) continue;  // One TLS record went out; the socket may take more.
      break;                // Socket buffer full.
    }
    finish_part(p);
    s.sends.pop_front();
  }
  return moved;
}

absl::StatusOr<bool> TcpPair::progress_recv(Stream& s) {
  bool moved = false;
  while (!s.recvs.empty()) {
    Part& p = s.recvs.front();
    Op* op = p.op;
    // Out of place, a receive-and-reduce lands in its destination and is combined there
    // (dst = a op dst), so only in place (dst = a) needs the scratch.
    const bool direct = op->kind == Op::Kind::kRecv || op->a != op->data;
    absl::StatusOr<size_t> got;
    if (direct) {
      got = receive_some(s, op->data + p.offset + p.moved, p.length - p.moved);
    } else {
      if (s.scratch.empty()) s.scratch.resize(kScratchBytes);
      got = receive_some(s, s.scratch.data() + s.fill,
                         std::min(s.scratch.size() - s.fill, p.length - p.moved));
    }
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    const size_t n = *got;
    moved = true;
    count_received(static_cast<uint64_t>(n));
    p.moved += static_cast<size_t>(n);
    if (op->kind == Op::Kind::kRecvReduce && direct) {
      const size_t es = op->reducer->elem_size;
      const size_t whole = (p.moved - p.reduced) / es * es;
      if (whole > 0) {
        const size_t at = p.offset + p.reduced;
        (*op->reducer)(op->data + at, op->a + at, op->data + at, whole / es);
        p.reduced += whole;
      }
      if (p.reduced < p.length) continue;
    } else if (op->kind == Op::Kind::kRecvReduce) {
      s.fill += static_cast<size_t>(n);
      const size_t es = op->reducer->elem_size;
      const size_t whole = s.fill / es * es;
      if (whole > 0) {
        const size_t at = p.offset + p.reduced;
        (*op->reducer)(op->data + at, op->a + at, s.scratch.data(), whole / es);
        p.reduced += whole;
        std::memmove(s.scratch.data(), s.scratch.data() + whole, s.fill - whole);
        s.fill -= whole;
      }
      if (p.reduced < p.length) continue;
    } else if (p.moved < p.length) {
      continue;
    }
    finish_part(p);
    s.recvs.pop_front();
  }
  return moved;
}

absl::StatusOr<bool> TcpPair::progress() {
  if (!failed_.ok()) return failed_;
  if (closed_) return error("link already closed");
  bool moved = false;
  for (Stream& s : streams_) {
    if (!s.sends.empty()) {
      absl::StatusOr<bool> m = progress_send(s);
      if (!m.ok()) return m.status();
      moved |= *m;
    }
    if (!s.recvs.empty()) {
      absl::StatusOr<bool> m = progress_recv(s);
      if (!m.ok()) return m.status();
      moved |= *m;
    }
  }
  return moved;
}

size_t TcpPair::poll_fds(std::vector<pollfd>& fds) {
  if (closed_) return 0;
  fds.push_back({control_.fd(), static_cast<short>(control_.ended() ? 0 : POLLIN), 0});
  size_t count = 1;
  for (Stream& s : streams_) {
    short events = (s.sends.empty() ? 0 : POLLOUT) | (s.recvs.empty() ? 0 : POLLIN);
    if (events == 0) continue;
    fds.push_back({s.fd, events, 0});
    ++count;
  }
  return count;
}

absl::Status TcpPair::read_control() {
  const ControlChannel::Reading r = control_.read();
  if (r.kind == ControlChannel::Reading::Kind::kNothing) return absl::OkStatus();
  if (r.kind != ControlChannel::Reading::Kind::kAbort || r.culprit == peer_ || r.culprit >= addresses_->size()) {
    return error(r.problem());
  }
  // The culprit may be this rank: the Context then blames whom this rank was waiting for.
  count_error();
  failed_rank_ = r.culprit;
  failed_ = absl::UnavailableError(absl::StrCat("peer rank ", r.culprit, " at ", (*addresses_)[r.culprit],
                                                " failed (reported by rank ", peer_, " at ", peer_address(),
                                                " over tcp)"));
  return failed_;
}

absl::Status TcpPair::check_events(const pollfd* fds, size_t count) {
  if (!failed_.ok()) return failed_;
  if (count == 0) return absl::OkStatus();
  // A goodbye is no error even with transfers pending: their bytes may still sit in the
  // socket buffers; a transfer the peer never made shows up as end-of-stream on its stream.
  if (fds[0].revents != 0) {
    absl::Status s = read_control();
    if (!s.ok()) return s;
  }
  for (size_t i = 1; i < count; ++i) {
    if (fds[i].revents & (POLLERR | POLLNVAL)) return error("connection error (peer died?)");
  }
  return absl::OkStatus();
}

void TcpPair::send_keepalive(uint64_t sequence, int32_t waiting_on) {
  if (closed_ || !failed_.ok()) return;
  control_.send_keepalive(sequence, waiting_on);
}

PeerLiveness TcpPair::liveness() {
  if (!closed_ && failed_.ok() && !control_.ended()) read_control().IgnoreError();
  return control_.heard();
}

void TcpPair::abort(uint32_t culprit) {
  if (closed_) return;
  control_.send_abort(culprit);
  close(false);
}

void TcpPair::close(bool orderly) {
  if (closed_) return;
  closed_ = true;
  if (orderly && failed_.ok()) control_.say_goodbye();
  if (!orderly) {
    // RST rather than FIN wakes the peer even if it is blocked sending to us.
    linger lg{1, 0};
    for (Stream& s : streams_) ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  for (Stream& s : streams_) ::close(s.fd);
  control_.close();
}

}  // namespace tg::coll::tcp
