#include "collectives/transport/tcp/connect.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <absl/strings/str_cat.h>

#include "collectives/transport/tcp/handshake.h"
#include "collectives/transport/tcp/pair.h"
#include "collectives/transport/tcp/tls_stream.h"
#include "net/host_port.h"
#include "net/sockets.h"
#ifdef TG_HAVE_IBVERBS
#include "collectives/transport/ibverbs/pair.h"
#endif

namespace tg::coll::tcp {
namespace {

constexpr char kAck = 'K';

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A connection to `address` that has sent its hello and proof by `deadline`; retried
// while refused.
struct Dialed {
  int fd = -1;
  DialerProof sent;
};
absl::StatusOr<Dialed> dial(const std::string& address, const Handshake& hello,
                            std::string_view secret, int buffer_bytes,
                            std::chrono::steady_clock::time_point deadline) {
  absl::StatusOr<net::HostPort> peer = net::parse_host_port(address);
  if (!peer.ok()) return peer.status();
  std::string last_error = "timed out";
  auto backoff = std::chrono::milliseconds(5);
  while (true) {
    absl::StatusOr<net::UniqueFd> fd =
        net::dial_tcp(*peer, deadline, [&](int fd) { tune_socket(fd, buffer_bytes); });
    if (fd.ok()) {
      absl::StatusOr<DialerProof> sent = dialer_prove(fd->get(), hello, secret, deadline);
      if (sent.ok()) return Dialed{fd->release(), std::move(*sent)};
      last_error = std::string(sent.status().message());
    } else {
      last_error = std::string(fd.status().message());
    }
    if (std::chrono::steady_clock::now() + backoff >= deadline) break;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
  return absl::DeadlineExceededError(absl::StrCat("cannot connect to ", address, ": ", last_error));
}

// The listener's verdict on `dialed`; dialed again while the listener closes the connection
// before accepting (its daemon had not joined the communicator within its handshake time).
absl::StatusOr<Claimed> accepted_by_listener(const std::string& address, const Handshake& hello,
                                             std::string_view secret, int buffer_bytes,
                                             Dialed dialed,
                                             std::chrono::steady_clock::time_point deadline) {
  while (true) {
    absl::StatusOr<Proven> proven = dialer_verdict(dialed.fd, hello, secret, dialed.sent, deadline);
    if (proven.ok()) return Claimed{dialed.fd, std::move(*proven)};
    ::close(dialed.fd);
    if (proven.status().code() != absl::StatusCode::kUnavailable) {
      return absl::Status(proven.status().code(),
                          absl::StrCat(address, ": ", proven.status().message()));
    }
    absl::StatusOr<Dialed> again = dial(address, hello, secret, buffer_bytes, deadline);
    if (!again.ok()) return again.status();
    dialed = std::move(*again);
  }
}

struct Pending {
  uint32_t peer;
  bool accepted;  // The peer dialed.
  int ctrl = -1;
  std::vector<int> data;
  std::vector<Proven> proven;  // Of each data stream.
};

void close_all(std::vector<Pending>& pending) {
  for (Pending& p : pending) {
    if (p.ctrl >= 0) ::close(p.ctrl);
    for (int fd : p.data) ::close(fd);
  }
}

}  // namespace

absl::Status connect_pairs(Context& ctx, Listener& listener, const std::string& comm_id,
                           std::string_view secret,
                           std::shared_ptr<const std::vector<std::string>> addresses,
                           const std::vector<uint32_t>& peers, const TcpOptions& options,
                           std::chrono::steady_clock::time_point deadline) {
  const uint32_t me = ctx.rank();
  std::vector<Pending> dialed, accepted;
  auto fail = [&](absl::Status s) {
    close_all(dialed);
    close_all(accepted);
    return absl::Status(s.code(), absl::StrCat("rank ", me, ": creating communicator ", comm_id,
                                               " over tcp failed: ", s.message()));
  };
  if (absl::Status s = check_secret(comm_id, secret); !s.ok()) return fail(s);
  listener.expect(comm_id, std::string(secret));
  // Dial every higher peer first, sending hellos and proofs to all before waiting for any
  // verdict: a verdict waits until the peer's daemon knows the secret, and a peer that never
  // joins must not keep this rank from reaching the others (they name the missing rank).
  std::vector<std::vector<Dialed>> proofs;
  auto hello_for = [&](uint32_t peer, int stream) {
    return Handshake{comm_id, me, peer, static_cast<uint32_t>(stream), options.tls};
  };
  for (uint32_t peer : peers) {
    if (peer < me) continue;
    Pending p{peer, false};
    proofs.emplace_back();
    for (int stream = 0; stream <= options.streams; ++stream) {
      auto dialed_one = dial((*addresses)[peer], hello_for(peer, stream), secret,
                             options.socket_buffer_bytes, deadline);
      if (!dialed_one.ok()) {
        for (auto& list : proofs) {
          for (Dialed& d : list) ::close(d.fd);
        }
        return fail(absl::Status(dialed_one.status().code(),
                                 absl::StrCat("peer rank ", peer, ": ", dialed_one.status().message())));
      }
      proofs.back().push_back(std::move(*dialed_one));
    }
    dialed.push_back(std::move(p));
  }
  for (size_t i = 0; i < dialed.size(); ++i) {
    Pending& p = dialed[i];
    for (int stream = 0; stream <= options.streams; ++stream) {
      Dialed& sent = proofs[i][stream];
      auto verdict = accepted_by_listener((*addresses)[p.peer], hello_for(p.peer, stream), secret,
                                          options.socket_buffer_bytes, std::move(sent), deadline);
      sent.fd = -1;
      if (!verdict.ok()) {
        for (auto& list : proofs) {
          for (Dialed& d : list) {
            if (d.fd >= 0) ::close(d.fd);
          }
        }
        return fail(absl::Status(verdict.status().code(),
                                 absl::StrCat("peer rank ", p.peer, ": ", verdict.status().message())));
      }
      if (stream == 0) {
        p.ctrl = verdict->fd;
      } else {
        p.data.push_back(verdict->fd);
        p.proven.push_back(std::move(verdict->proven));
      }
    }
  }
  for (uint32_t peer : peers) {
    if (peer > me) continue;
    Pending p{peer, true};
    for (int stream = 0; stream <= options.streams; ++stream) {
      auto taken = listener.take({comm_id, peer, me, static_cast<uint32_t>(stream)}, deadline);
      if (!taken.ok()) {
        accepted.push_back(std::move(p));
        return fail(absl::Status(taken.status().code(),
                                 absl::StrCat(taken.status().message(), "; peer data address ", (*addresses)[peer])));
      }
      if (stream == 0) {
        p.ctrl = taken->fd;
      } else {
        p.data.push_back(taken->fd);
        p.proven.push_back(std::move(taken->proven));
      }
    }
    char ack = kAck;
    ::send(p.ctrl, &ack, 1, MSG_NOSIGNAL);
    accepted.push_back(std::move(p));
  }
  for (Pending& p : dialed) {
    char ack = 0;
    pollfd pfd{p.ctrl, POLLIN, 0};
    if (::poll(&pfd, 1, remaining_ms(deadline)) != 1 || ::recv(p.ctrl, &ack, 1, MSG_DONTWAIT) != 1 ||
        ack != kAck) {
      return fail(absl::DeadlineExceededError(absl::StrCat(
          "peer rank ", p.peer, " at ", (*addresses)[p.peer], " never acknowledged (did it join?)")));
    }
  }
  // Offer RDMA or not: one byte each way on every control connection, all sent before any
  // is read so that no rank waits on a peer that waits on someone else.
  const char mine = options.rdma ? 'R' : 'T';
#ifdef TG_HAVE_IBVERBS
  std::vector<std::pair<uint32_t, std::unique_ptr<ibverbs::IbvPair>>> rdma;
#endif
  for (auto* list : {&dialed, &accepted}) {
    for (Pending& p : *list) {
      if (::send(p.ctrl, &mine, 1, MSG_NOSIGNAL) != 1) {
        return fail(absl::UnavailableError(absl::StrCat("peer rank ", p.peer, " at ", (*addresses)[p.peer],
                                                         " closed the connection during set-up")));
      }
    }
  }
  for (auto* list : {&dialed, &accepted}) {
    for (Pending& p : *list) {
      char theirs = 0;
      pollfd pfd{p.ctrl, POLLIN, 0};
      if (::poll(&pfd, 1, remaining_ms(deadline)) != 1 || ::recv(p.ctrl, &theirs, 1, 0) != 1) {
        return fail(absl::DeadlineExceededError(absl::StrCat("peer rank ", p.peer, " at ", (*addresses)[p.peer],
                                                             " went silent during set-up")));
      }
      (void)theirs;
#ifdef TG_HAVE_IBVERBS
      if (mine == 'R' && theirs == 'R') {
        auto pair = ibverbs::IbvPair::create(p.peer, p.ctrl, addresses);
        p.ctrl = -1;
        if (!pair.ok()) return fail(pair.status());
        for (int fd : p.data) ::close(fd);
        p.data.clear();
        rdma.emplace_back(p.peer, std::move(*pair));
      }
#endif
    }
  }
#ifdef TG_HAVE_IBVERBS
  for (auto& [peer, pair] : rdma) {
    if (absl::Status s = pair->connect(deadline); !s.ok()) return fail(s);
    ctx.set_pair(peer, std::move(pair));
  }
#endif
  // Data streams either end asked to encrypt start TLS, all of this rank's at once.
  std::vector<TlsStart> tls;
  for (auto* list : {&dialed, &accepted}) {
    for (Pending& p : *list) {
      if (p.ctrl < 0) continue;  // Runs over ibverbs.
      set_nonblocking(p.ctrl);
      for (size_t i = 0; i < p.data.size(); ++i) {
        set_nonblocking(p.data[i]);
        if (p.proven[i].tls) tls.push_back({p.data[i], p.accepted, p.proven[i].tls_key, nullptr});
      }
    }
  }
  if (absl::Status started = start_tls(tls, deadline); !started.ok()) return fail(started);
  auto next_tls = tls.begin();
  for (auto* list : {&dialed, &accepted}) {
    for (Pending& p : *list) {
      if (p.ctrl < 0) continue;
      std::vector<std::unique_ptr<TlsStream>> encrypted(p.data.size());
      for (size_t i = 0; i < p.data.size(); ++i) {
        if (p.proven[i].tls) encrypted[i] = std::move((next_tls++)->stream);
      }
      ctx.set_pair(p.peer, std::make_unique<TcpPair>(p.peer, p.ctrl, std::move(p.data),
                                                     std::move(encrypted), addresses));
      p.ctrl = -1;
      p.data.clear();
    }
  }
  return absl::OkStatus();
}

}  // namespace tg::coll::tcp
