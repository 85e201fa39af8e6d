#include "daemon/daemon_metrics.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include <absl/strings/str_cat.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tg {
namespace {

// Moves a counter up to a running total kept elsewhere; a lower total is ignored.
void raise_to(prometheus::Counter& counter, uint64_t total) {
  const double delta = static_cast<double>(total) - counter.Value();
  if (delta > 0) counter.Increment(delta);
}

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// `count` bounds from `first`, each `factor` times the previous.
Histogram::BucketBoundaries exponential(double first, double factor, int count) {
  Histogram::BucketBoundaries bounds;
  for (double b = first; count-- > 0; b *= factor) bounds.push_back(b);
  return bounds;
}

// 10 us .. ~170 s: kernels, transfers, collectives, fragments.
const Histogram::BucketBoundaries& seconds_buckets() {
  static const auto* b = new Histogram::BucketBoundaries(exponential(1e-5, 4, 13));
  return *b;
}

// 1 MB/s .. ~1 TB/s: from a congested TCP link to XGMI.
const Histogram::BucketBoundaries& bandwidth_buckets() {
  static const auto* b = new Histogram::BucketBoundaries(exponential(1e6, 4, 11));
  return *b;
}

// nccl-tests' busbw factor: what each rank's link must carry, relative to algbw.
double bus_factor(const std::string& kind, int ranks) {
  if (ranks <= 1) return 1.0;
  const double n = ranks;
  if (kind == "all_reduce") return 2.0 * (n - 1) / n;
  if (kind == "all_gather" || kind == "reduce_scatter") return (n - 1) / n;
  return 1.0;
}

}  // namespace

DaemonMetrics::DaemonMetrics(const std::string& host)
    : device_info_(BuildGauge()
                       .Name("tgrack_device_info")
                       .Help("1 for every device this daemon owns, labelled with its kind")
                       .Labels({{"host", host}})
                       .Register(endpoint_.registry())),
      memory_used_(BuildGauge()
                       .Name("tgrack_device_memory_used_bytes")
                       .Help("Device memory held by live buffers")
                       .Labels({{"host", host}})
                       .Register(endpoint_.registry())),
      memory_total_(BuildGauge()
                        .Name("tgrack_device_memory_total_bytes")
                        .Help("Device memory budget")
                        .Labels({{"host", host}})
                        .Register(endpoint_.registry())),
      busy_(BuildGauge()
                .Name("tgrack_device_busy_ratio")
                .Help("Fraction of the last interval the device ran kernels")
                .Labels({{"host", host}})
                .Register(endpoint_.registry())),
      kernel_seconds_(BuildHistogram()
                          .Name("tgrack_kernel_duration_seconds")
                          .Help("Kernel run time by device and op")
                          .Labels({{"host", host}})
                          .Register(endpoint_.registry())),
      kernel_bytes_(BuildCounter()
                        .Name("tgrack_kernel_bytes_total")
                        .Help("Tensor bytes touched by kernels, by device and op")
                        .Labels({{"host", host}})
                        .Register(endpoint_.registry())),
      copied_bytes_(BuildCounter()
                        .Name("tgrack_device_copied_bytes_total")
                        .Help("Bytes copied into or out of the device")
                        .Labels({{"host", host}})
                        .Register(endpoint_.registry())),
      healthy_(BuildGauge()
                   .Name("tgrack_device_healthy")
                   .Help("1 when the device is Healthy, 0 when Unhealthy")
                   .Labels({{"host", host}})
                   .Register(endpoint_.registry())),
      resets_(BuildCounter()
                  .Name("tgrack_device_resets_total")
                  .Help("Warm resets of the device")
                  .Labels({{"host", host}})
                  .Register(endpoint_.registry())),
      link_sent_(BuildCounter()
                     .Name("tgrack_link_sent_bytes_total")
                     .Help("Bytes sent to the peer")
                     .Labels({{"host", host}})
                     .Register(endpoint_.registry())),
      link_received_(BuildCounter()
                         .Name("tgrack_link_received_bytes_total")
                         .Help("Bytes received from the peer")
                         .Labels({{"host", host}})
                         .Register(endpoint_.registry())),
      transfer_bytes_(BuildCounter()
                          .Name("tgrack_transfer_bytes_total")
                          .Help("Bytes moved by tensor transfers, by peer and link kind")
                          .Labels({{"host", host}})
                          .Register(endpoint_.registry())),
      transfer_bandwidth_(BuildHistogram()
                              .Name("tgrack_transfer_bandwidth_bytes_per_second")
                              .Help("Bandwidth of single transfers, by peer and link kind")
                              .Labels({{"host", host}})
                              .Register(endpoint_.registry())),
      link_fallbacks_(BuildCounter()
                          .Name("tgrack_link_fallbacks_total")
                          .Help("Transfers that used an allowed fallback link")
                          .Labels({{"host", host}})
                          .Register(endpoint_.registry())),
      link_errors_(BuildCounter()
                       .Name("tgrack_link_errors_total")
                       .Help("Failed transfers and collective links, by peer device, link kind "
                             "and status code")
                       .Labels({{"host", host}})
                       .Register(endpoint_.registry())),
      collective_seconds_(BuildHistogram()
                              .Name("tgrack_collective_duration_seconds")
                              .Help("Collective run time, by kind and algorithm")
                              .Labels({{"host", host}})
                              .Register(endpoint_.registry())),
      collective_bytes_(BuildCounter()
                            .Name("tgrack_collective_bytes_total")
                            .Help("Collective buffer bytes (nccl-tests size)")
                            .Labels({{"host", host}})
                            .Register(endpoint_.registry())),
      collective_bus_bytes_(BuildCounter()
                                .Name("tgrack_collective_bus_bytes_total")
                                .Help("Collective bytes times the busbw factor; divided by "
                                      "duration it gives busbw")
                                .Labels({{"host", host}})
                                .Register(endpoint_.registry())),
      collective_algbw_(BuildHistogram()
                            .Name("tgrack_collective_algbw_bytes_per_second")
                            .Help("Collective algorithm bandwidth (nccl-tests algbw)")
                            .Labels({{"host", host}})
                            .Register(endpoint_.registry())),
      collective_busbw_(BuildHistogram()
                            .Name("tgrack_collective_busbw_bytes_per_second")
                            .Help("Collective bus bandwidth (nccl-tests busbw)")
                            .Labels({{"host", host}})
                            .Register(endpoint_.registry())),
      fragment_seconds_(BuildHistogram()
                            .Name("tgrack_fragment_duration_seconds")
                            .Help("Run time of graph fragments on this daemon")
                            .Labels({{"host", host}})
                            .Register(endpoint_.registry())),
      fragments_(BuildCounter()
                     .Name("tgrack_fragments_total")
                     .Help("Graph fragments finished, by status code (OK on success)")
                     .Labels({{"host", host}})
                     .Register(endpoint_.registry())),
      collective_stalls_(BuildCounter()
                             .Name("tgrack_collective_stalls_total")
                             .Help("Collective waits for one peer past --collective-stall-after, "
                                   "by local device, peer device and the peer's state from its "
                                   "keep-alives (silent, behind, waiting, alive, unknown)")
                             .Labels({{"host", host}})
                             .Register(endpoint_.registry())),
      data_connections_(BuildGauge()
                            .Name("tgrack_data_connections")
                            .Help("Connections the collectives data port holds: handshaking, or "
                                  "authenticated and waiting for their rank")
                            .Labels({{"host", host}})
                            .Register(endpoint_.registry())),
      data_refused_(BuildCounter()
                        .Name("tgrack_data_connections_refused_total")
                        .Help("Connections the collectives data port closed, by reason "
                              "(over_limit, malformed, unauthenticated, handshake_timeout)")
                        .Labels({{"host", host}})
                        .Register(endpoint_.registry())) {
  // Series without per-event labels exist from the start, so dashboards show 0, not nothing.
  fragment_seconds_.Add({}, seconds_buckets());
  fragments_.Add({{"reason", absl::StatusCodeToString(absl::StatusCode::kOk)}});
  data_connections_.Add({});
  for (const char* reason : {"over_limit", "malformed", "unauthenticated", "handshake_timeout"}) {
    data_refused_.Add({{"reason", reason}});
  }
}

DaemonMetrics::~DaemonMetrics() = default;

absl::Status DaemonMetrics::serve(const std::string& host_port) {
  return endpoint_.serve(host_port);
}

int DaemonMetrics::port() const { return endpoint_.port(); }

std::string DaemonMetrics::render_text() const { return endpoint_.render_text(); }

void DaemonMetrics::device_added(const std::string& device, const std::string& kind) {
  device_info_.Add({{"device", device}, {"kind", kind}}).Set(1);
}

void DaemonMetrics::device_memory(const std::string& device, uint64_t used_bytes,
                                  uint64_t total_bytes) {
  memory_used_.Add({{"device", device}}).Set(static_cast<double>(used_bytes));
  memory_total_.Add({{"device", device}}).Set(static_cast<double>(total_bytes));
}

void DaemonMetrics::device_busy(const std::string& device, double fraction) {
  busy_.Add({{"device", device}}).Set(std::clamp(fraction, 0.0, 1.0));
}

void DaemonMetrics::kernel_ran(const std::string& device, const std::string& op, double seconds,
                               uint64_t bytes) {
  const prometheus::Labels labels{{"device", device}, {"op", op}};
  kernel_seconds_.Add(labels, seconds_buckets()).Observe(seconds);
  kernel_bytes_.Add(labels).Increment(static_cast<double>(bytes));
}

void DaemonMetrics::bytes_copied(const std::string& device, uint64_t bytes) {
  copied_bytes_.Add({{"device", device}}).Increment(static_cast<double>(bytes));
}

void DaemonMetrics::device_health(const std::string& device, bool healthy) {
  healthy_.Add({{"device", device}}).Set(healthy ? 1 : 0);
}

void DaemonMetrics::device_reset(const std::string& device) {
  resets_.Add({{"device", device}}).Increment();
}

void DaemonMetrics::link_totals(const std::string& device, const std::string& peer,
                                const std::string& transport, uint64_t sent_bytes,
                                uint64_t received_bytes) {
  const prometheus::Labels labels{{"device", device}, {"peer", peer}, {"transport", transport}};
  std::lock_guard<std::mutex> lock(link_totals_mu_);  // Read and raise as one step.
  raise_to(link_sent_.Add(labels), sent_bytes);
  raise_to(link_received_.Add(labels), received_bytes);
}

void DaemonMetrics::link_error_total(const std::string& peer, const std::string& transport,
                                     uint64_t errors) {
  const absl::StatusCode reason =
      transport == "local" ? absl::StatusCode::kInternal : absl::StatusCode::kUnavailable;
  std::lock_guard<std::mutex> lock(link_totals_mu_);
  raise_to(link_errors_.Add({{"peer", peer},
                             {"kind", transport},
                             {"reason", absl::StatusCodeToString(reason)}}),
           errors);
}

void DaemonMetrics::transfer_done(const std::string& peer, const std::string& kind, uint64_t bytes,
                                  double seconds) {
  const prometheus::Labels labels{{"peer", peer}, {"kind", kind}};
  transfer_bytes_.Add(labels).Increment(static_cast<double>(bytes));
  if (seconds > 0) {
    transfer_bandwidth_.Add(labels, bandwidth_buckets()).Observe(bytes / seconds);
  }
}

void DaemonMetrics::link_fallback(const std::string& peer, const std::string& requested,
                                  const std::string& used) {
  link_fallbacks_.Add({{"peer", peer}, {"requested", requested}, {"kind", used}}).Increment();
}

void DaemonMetrics::link_error(const std::string& peer, const std::string& kind,
                               absl::StatusCode reason) {
  link_errors_.Add({{"peer", peer}, {"kind", kind}, {"reason", absl::StatusCodeToString(reason)}})
      .Increment();
}

void DaemonMetrics::collective_stall(const std::string& device, const std::string& peer,
                                     const std::string& peer_state) {
  collective_stalls_.Add({{"device", device}, {"peer", peer}, {"peer_state", peer_state}}).Increment();
}

void DaemonMetrics::collective_done(const std::string& kind, const std::string& algorithm,
                                    int ranks, uint64_t bytes, double seconds) {
  const prometheus::Labels labels{{"kind", kind}, {"algorithm", algorithm}};
  const double bus_bytes = static_cast<double>(bytes) * bus_factor(kind, ranks);
  collective_seconds_.Add(labels, seconds_buckets()).Observe(seconds);
  collective_bytes_.Add(labels).Increment(static_cast<double>(bytes));
  collective_bus_bytes_.Add(labels).Increment(bus_bytes);
  if (seconds > 0) {
    collective_algbw_.Add(labels, bandwidth_buckets()).Observe(bytes / seconds);
    collective_busbw_.Add(labels, bandwidth_buckets()).Observe(bus_bytes / seconds);
  }
}

void DaemonMetrics::fragment_done(double seconds, absl::StatusCode reason) {
  fragment_seconds_.Add({}, seconds_buckets()).Observe(seconds);
  fragments_.Add({{"reason", absl::StatusCodeToString(reason)}}).Increment();
}

void DaemonMetrics::data_connections(uint64_t held,
                                     const std::map<std::string, uint64_t>& refused_totals) {
  data_connections_.Add({}).Set(static_cast<double>(held));
  std::lock_guard<std::mutex> lock(link_totals_mu_);  // Read and raise as one step.
  for (const auto& [reason, total] : refused_totals) raise_to(data_refused_.Add({{"reason", reason}}), total);
}

}  // namespace tg
