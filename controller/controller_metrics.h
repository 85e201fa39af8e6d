// ControllerMetrics: every Prometheus metric tgcontroller exports, one method per event.
//
// Names follow Prometheus conventions: prefix tgrack_, base units in the name (_seconds),
// _total on counters. Every series carries the constant label host (the controller's host);
// the others are node (a daemon's name in the pool), state, hive and reason (an absl status
// code name such as DEADLINE_EXCEEDED, so label values stay few). States are plain strings
// ("up", "down", "cordoned", "healthy", "unhealthy", ...) chosen by the caller.
// Recording methods are thread-safe. serve() starts an HTTP endpoint at /metrics; without it
// the metrics are only kept, and render_text() returns the exposition text either way.
// Not copyable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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

class ControllerMetrics {
 public:
  // `host` becomes the host label of every series.
  explicit ControllerMetrics(const std::string& host);
  ~ControllerMetrics();
  ControllerMetrics(const ControllerMetrics&) = delete;
  ControllerMetrics& operator=(const ControllerMetrics&) = delete;

  // Serves /metrics on host_port ("0.0.0.0:9465"; port 0 picks a free port, see port()).
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot bind,
  // FAILED_PRECONDITION when already serving. Meant for start-up: it must not race with
  // another serve() or port().
  absl::Status serve(const std::string& host_port);
  // The port serve() bound, 0 when not serving.
  int port() const;
  // The Prometheus text exposition of every metric, as a scrape would see it.
  std::string render_text() const;

  // The whole picture, state -> count: tgrack_nodes{state} and tgrack_devices{state}. A state
  // reported before and missing now reads 0, so a cleared state does not linger.
  void nodes_by_state(const std::map<std::string, int64_t>& counts);
  void devices_by_state(const std::map<std::string, int64_t>& counts);
  // tgrack_node_up{node}: 1 while the daemon heartbeats, 0 once it is down.
  void node_up(const std::string& node, bool up);

  // Jobs started on daemons and not finished: tgrack_scheduler_running_jobs. Jobs waiting
  // for placement or for their communicators are tgrack_scheduler_queued_jobs, counted by
  // QueuedJob.
  void jobs_running(int64_t jobs);
  void job_submitted();
  // A job waited `seconds` from submission until its fragments were sent to daemons.
  void job_scheduled(double seconds);
  // A job finished after `seconds`; reason is OK on success.
  void job_done(double seconds, absl::StatusCode reason);
  // A finished job (or one daemon's part of a job clients ran directly) of `tenant` used
  // this much (tgrack.v1.JobUsage): tgrack_tenant_flops_total,
  // tgrack_tenant_device_seconds_total and tgrack_tenant_bytes_moved_total{tenant}. Called
  // once per finished part, never for running jobs, so the counters sum every job once.
  void tenant_usage(const std::string& tenant, uint64_t flops, double device_seconds,
                    uint64_t bytes_moved);
  // A hive (all its devices together) was reset; reason is OK when every member came back.
  void hive_reset(const std::string& hive, absl::StatusCode reason);

 private:
  void set_by_state(prometheus::Family<prometheus::Gauge>& family, std::set<std::string>& seen,
                    const std::map<std::string, int64_t>& counts);

  MetricsEndpoint endpoint_;

  prometheus::Family<prometheus::Gauge>& nodes_;
  prometheus::Family<prometheus::Gauge>& devices_;
  prometheus::Family<prometheus::Gauge>& node_up_;
  friend class QueuedJob;
  prometheus::Family<prometheus::Gauge>& queued_;
  prometheus::Family<prometheus::Gauge>& running_;
  prometheus::Family<prometheus::Counter>& submitted_;
  prometheus::Family<prometheus::Histogram>& scheduling_seconds_;
  prometheus::Family<prometheus::Histogram>& job_seconds_;
  prometheus::Family<prometheus::Counter>& jobs_;
  prometheus::Family<prometheus::Counter>& hive_resets_;
  prometheus::Family<prometheus::Counter>& tenant_flops_;
  prometheus::Family<prometheus::Counter>& tenant_device_seconds_;
  prometheus::Family<prometheus::Counter>& tenant_bytes_moved_;

  std::mutex mutex_;  // Guards the seen-state sets.
  std::set<std::string> node_states_;
  std::set<std::string> device_states_;
};

// One submitted job while it waits: counted in tgrack_scheduler_queued_jobs from
// construction until started() or destruction (a job that fails before it starts). No-op
// without metrics.
class QueuedJob {
 public:
  explicit QueuedJob(ControllerMetrics* metrics);
  ~QueuedJob() { started(); }
  QueuedJob(const QueuedJob&) = delete;
  QueuedJob& operator=(const QueuedJob&) = delete;
  void started();

 private:
  ControllerMetrics* metrics_;
};

}  // namespace tg
