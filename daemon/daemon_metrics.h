// DaemonMetrics: every Prometheus metric one tgd exports, one method per event to record.
//
// Names follow Prometheus conventions: prefix tgrack_, base units in the name (_bytes,
// _seconds, _ratio), _total on counters. Every series carries the constant label host; the
// others are device, op, peer, kind (device kind, link kind or collective kind) and reason
// (an absl status code name such as DEADLINE_EXCEEDED, so label values stay few).
// Recording methods are thread-safe and cheap (an atomic add after a label lookup).
// serve() starts an HTTP endpoint at /metrics; without it the metrics are only kept, and
// render_text() returns the exposition text either way. Not copyable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/status.h>

#include "net/metrics_endpoint.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace tg {

class DaemonMetrics {
 public:
  // `host` becomes the host label of every series (the node name in the pool).
  explicit DaemonMetrics(const std::string& host);
  ~DaemonMetrics();
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  // Serves /metrics on host_port ("0.0.0.0:9464"; port 0 picks a free port, see port()).
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot bind,
  // FAILED_PRECONDITION when already serving. Meant for start-up: it must not race with
  // another serve() or port().
  absl::Status serve(const std::string& host_port);
  // The port serve() bound, 0 when not serving.
  int port() const;
  // The Prometheus text exposition of every metric, as a scrape would see it.
  std::string render_text() const;

  // Devices. `kind` is the backend ("cpu", "hip"); tgrack_device_info{device,kind} = 1.
  void device_added(const std::string& device, const std::string& kind);
  void device_memory(const std::string& device, uint64_t used_bytes, uint64_t total_bytes);
  // Fraction of the last interval the device was running kernels, in [0, 1].
  void device_busy(const std::string& device, double fraction);
  // One kernel of `op` ran on `device` for `seconds`, touching `bytes` of tensors.
  void kernel_ran(const std::string& device, const std::string& op, double seconds, uint64_t bytes);
  // `bytes` copied into or out of `device` (host transfers, local and peer copies).
  void bytes_copied(const std::string& device, uint64_t bytes);
  void device_health(const std::string& device, bool healthy);
  void device_reset(const std::string& device);

  // Running totals of one collective link: local `device` to the peer's device `peer`
  // ("node/index") over `transport` ("tcp", "local", "ibverbs"). The counters
  // tgrack_link_{sent,received}_bytes_total move up to them; a total below what was
  // exported already is ignored.
  void link_totals(const std::string& device, const std::string& peer, const std::string& transport,
                  uint64_t sent_bytes, uint64_t received_bytes);
  // The running total of collective link errors to `peer` ("node/index") over `transport`,
  // summed over this daemon's devices: tgrack_link_errors_total{peer, kind=transport,
  // reason} moves up to it. A failed tcp or ibverbs link reports UNAVAILABLE, a failed
  // in-process link INTERNAL.
  void link_error_total(const std::string& peer, const std::string& transport, uint64_t errors);
  // One transfer over a link of `kind` ("tcp", "rdma", "xgmi", "pcie_peer", "host_staged").
  void transfer_done(const std::string& peer, const std::string& kind, uint64_t bytes,
                     double seconds);
  // A transfer asked for link `requested` ran over the allowed fallback `used`.
  void link_fallback(const std::string& peer, const std::string& requested,
                     const std::string& used);
  // One failed transfer to `peer` ("node/index") over a link of `kind`:
  // tgrack_link_errors_total{peer, kind, reason}, the one label set of that counter.
  void link_error(const std::string& peer, const std::string& kind, absl::StatusCode reason);

  // One collective finished: `kind` is all_reduce, reduce_scatter, all_gather or broadcast,
  // over `ranks` ranks; `bytes` is the buffer size as nccl-tests counts it (the full
  // gathered buffer for all_gather and reduce_scatter). Records the duration, algbw =
  // bytes / seconds and busbw = algbw times the nccl-tests factor of the kind
  // (2(n-1)/n for all_reduce, (n-1)/n for all_gather and reduce_scatter, 1 otherwise).
  void collective_done(const std::string& kind, const std::string& algorithm, int ranks,
                       uint64_t bytes, double seconds);

  // A collective rank on local `device` waited for `peer` ("node/index") past the stall
  // threshold, the peer being `peer_state` (silent, behind, waiting, alive, unknown):
  // tgrack_collective_stalls_total{device, peer, peer_state}.
  void collective_stall(const std::string& device, const std::string& peer, const std::string& peer_state);

  // One graph fragment finished on this daemon; reason is OK on success.
  void fragment_done(double seconds, absl::StatusCode reason);

  // The collectives data port: connections it holds now (handshaking or waiting for their
  // rank: tgrack_data_connections) and the running totals of those it closed, by reason
  // ("over_limit", "malformed", "unauthenticated", "handshake_timeout"):
  // tgrack_data_connections_refused_total{reason} moves up to each.
  void data_connections(uint64_t held, const std::map<std::string, uint64_t>& refused_totals);

 private:
  MetricsEndpoint endpoint_;
  std::mutex link_totals_mu_;

  prometheus::Family<prometheus::Gauge>& device_info_;
  prometheus::Family<prometheus::Gauge>& memory_used_;
  prometheus::Family<prometheus::Gauge>& memory_total_;
  prometheus::Family<prometheus::Gauge>& busy_;
  prometheus::Family<prometheus::Histogram>& kernel_seconds_;
  prometheus::Family<prometheus::Counter>& kernel_bytes_;
  prometheus::Family<prometheus::Counter>& copied_bytes_;
  prometheus::Family<prometheus::Gauge>& healthy_;
  prometheus::Family<prometheus::Counter>& resets_;
  prometheus::Family<prometheus::Counter>& link_sent_;
  prometheus::Family<prometheus::Counter>& link_received_;
  prometheus::Family<prometheus::Counter>& transfer_bytes_;
  prometheus::Family<prometheus::Histogram>& transfer_bandwidth_;
  prometheus::Family<prometheus::Counter>& link_fallbacks_;
  prometheus::Family<prometheus::Counter>& link_errors_;
  prometheus::Family<prometheus::Histogram>& collective_seconds_;
  prometheus::Family<prometheus::Counter>& collective_bytes_;
  prometheus::Family<prometheus::Counter>& collective_bus_bytes_;
  prometheus::Family<prometheus::Histogram>& collective_algbw_;
  prometheus::Family<prometheus::Histogram>& collective_busbw_;
  prometheus::Family<prometheus::Histogram>& fragment_seconds_;
  prometheus::Family<prometheus::Counter>& fragments_;
  prometheus::Family<prometheus::Counter>& collective_stalls_;
  prometheus::Family<prometheus::Gauge>& data_connections_;
  prometheus::Family<prometheus::Counter>& data_refused_;
};

}  // namespace tg
