// Builds one rank's TCP links to a set of peers. The lower rank of each pair connects
// (control connection first, then the data streams) and the higher rank takes the
// connections from its Listener and acknowledges on the control connection. Every step is
// bounded by `deadline`; a peer that never connects or never acknowledges fails the set-up
// with an error naming it and its address. Both ends then tell each other whether they offer
// RDMA; the pair uses ibverbs exactly when both do, so the two ends always agree.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>

#include "collectives/transport/context.h"
#include "collectives/transport/tcp/listener.h"

namespace tg::coll::tcp {

struct TcpOptions {
  // Data streams per peer; large Ops are striped over them. One thread drives them all, yet a
  // second stream lets the kernel move one stream's bytes while the thread copies the
  // other's: on a quiet 2-core host, 2 streams gave 1.2-1.4 GB/s bus bandwidth at 16-64 MiB
  // (2 ranks over loopback) where 1 stream gave 0.9-1.1.
  int streams = 2;
  // SO_SNDBUF / SO_RCVBUF; 0 leaves the kernel's. Small enough that what the sender copies
  // in is still in cache when the receiver copies it out.
  int socket_buffer_bytes = 256 << 10;
  // This host offers RDMA: a pair whose both ends offer it runs over ibverbs (set up over
  // the control connection) instead of the data streams.
  bool rdma = false;
  // Encrypt the data streams this rank dials (tls_stream.h); a listener with
  // ListenerLimits::require_tls encrypts those it accepts. The control connection carries
  // one-byte set-up and goodbye messages only and stays plain.
  bool tls = false;
  // What this process's data-plane listener holds at most, and for how long.
  ListenerLimits listener;
};

// Every connection proves `secret`, the communicator's, both ways (handshake.h); the
// listener learns it here. INVALID_ARGUMENT when it is shorter than kMinSecretBytes.
absl::Status connect_pairs(Context& ctx, Listener& listener, const std::string& comm_id,
                           std::string_view secret,
                           std::shared_ptr<const std::vector<std::string>> addresses,
                           const std::vector<uint32_t>& peers, const TcpOptions& options,
                           std::chrono::steady_clock::time_point deadline);

}  // namespace tg::coll::tcp
