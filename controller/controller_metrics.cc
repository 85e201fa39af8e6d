#include "controller/controller_metrics.h"

#include <vector>

#include <absl/strings/str_cat.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tg {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// 1 ms .. ~4.6 h for jobs; the lower part also covers scheduling latency.
const Histogram::BucketBoundaries& seconds_buckets() {
  static const auto* b = [] {
    auto* bounds = new Histogram::BucketBoundaries;
    for (double s = 1e-3; s < 2e4; s *= 4) bounds->push_back(s);
    return bounds;
  }();
  return *b;
}

}  // namespace

ControllerMetrics::ControllerMetrics(const std::string& host)
    : nodes_(BuildGauge()
                 .Name("tgrack_nodes")
                 .Help("Daemons known to the controller, by state")
                 .Labels({{"host", host}})
                 .Register(endpoint_.registry())),
      devices_(BuildGauge()
                   .Name("tgrack_devices")
                   .Help("Devices in the pool, by state")
                   .Labels({{"host", host}})
                   .Register(endpoint_.registry())),
      node_up_(BuildGauge()
                   .Name("tgrack_node_up")
                   .Help("1 while the daemon heartbeats, 0 once the controller marks it down")
                   .Labels({{"host", host}})
                   .Register(endpoint_.registry())),
      queued_(BuildGauge()
                  .Name("tgrack_scheduler_queued_jobs")
                  .Help("Jobs submitted and not started yet: waiting for placement or for "
                        "their communicators")
                  .Labels({{"host", host}})
                  .Register(endpoint_.registry())),
      running_(BuildGauge()
                   .Name("tgrack_scheduler_running_jobs")
                   .Help("Jobs started on daemons and not finished")
                   .Labels({{"host", host}})
                   .Register(endpoint_.registry())),
      submitted_(BuildCounter()
                     .Name("tgrack_jobs_submitted_total")
                     .Help("Jobs submitted to the controller")
                     .Labels({{"host", host}})
                     .Register(endpoint_.registry())),
      scheduling_seconds_(BuildHistogram()
                              .Name("tgrack_scheduling_latency_seconds")
                              .Help("Time from submission until fragments reach the daemons")
                              .Labels({{"host", host}})
                              .Register(endpoint_.registry())),
      job_seconds_(BuildHistogram()
                       .Name("tgrack_job_duration_seconds")
                       .Help("Job run time, submission to completion")
                       .Labels({{"host", host}})
                       .Register(endpoint_.registry())),
      jobs_(BuildCounter()
                .Name("tgrack_jobs_total")
                .Help("Jobs finished, by status code (OK on success)")
                .Labels({{"host", host}})
                .Register(endpoint_.registry())),
      hive_resets_(BuildCounter()
                       .Name("tgrack_hive_resets_total")
                       .Help("Hive resets, by hive and status code (OK when all came back)")
                       .Labels({{"host", host}})
                       .Register(endpoint_.registry())),
      tenant_flops_(BuildCounter()
                        .Name("tgrack_tenant_flops_total")
                        .Help("FLOPs of finished jobs, by tenant (counted per op from its shapes)")
                        .Labels({{"host", host}})
                        .Register(endpoint_.registry())),
      tenant_device_seconds_(BuildCounter()
                                 .Name("tgrack_tenant_device_seconds_total")
                                 .Help("Device-seconds of finished jobs, by tenant (summed over "
                                       "the devices each job held)")
                                 .Labels({{"host", host}})
                                 .Register(endpoint_.registry())),
      tenant_bytes_moved_(BuildCounter()
                              .Name("tgrack_tenant_bytes_moved_total")
                              .Help("Bytes finished jobs sent by transfers and collectives, by "
                                    "tenant")
                              .Labels({{"host", host}})
                              .Register(endpoint_.registry())) {
  // Series without per-event labels exist from the start, so dashboards show 0, not nothing.
  queued_.Add({}).Set(0);
  running_.Add({}).Set(0);
  submitted_.Add({});
  scheduling_seconds_.Add({}, seconds_buckets());
  job_seconds_.Add({}, seconds_buckets());
  jobs_.Add({{"reason", absl::StatusCodeToString(absl::StatusCode::kOk)}});
}

ControllerMetrics::~ControllerMetrics() = default;

absl::Status ControllerMetrics::serve(const std::string& host_port) {
  return endpoint_.serve(host_port);
}

int ControllerMetrics::port() const { return endpoint_.port(); }

std::string ControllerMetrics::render_text() const { return endpoint_.render_text(); }

void ControllerMetrics::set_by_state(prometheus::Family<prometheus::Gauge>& family,
                                     std::set<std::string>& seen,
                                     const std::map<std::string, int64_t>& counts) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [state, count] : counts) seen.insert(state);
  for (const std::string& state : seen) {
    const auto it = counts.find(state);
    family.Add({{"state", state}}).Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
}

void ControllerMetrics::nodes_by_state(const std::map<std::string, int64_t>& counts) {
  set_by_state(nodes_, node_states_, counts);
}

void ControllerMetrics::devices_by_state(const std::map<std::string, int64_t>& counts) {
  set_by_state(devices_, device_states_, counts);
}

void ControllerMetrics::node_up(const std::string& node, bool up) {
  node_up_.Add({{"node", node}}).Set(up ? 1 : 0);
}

void ControllerMetrics::jobs_running(int64_t jobs) {
  running_.Add({}).Set(static_cast<double>(jobs));
}

QueuedJob::QueuedJob(ControllerMetrics* metrics) : metrics_(metrics) {
  if (metrics_ != nullptr) metrics_->queued_.Add({}).Increment();
}

void QueuedJob::started() {
  if (metrics_ != nullptr) metrics_->queued_.Add({}).Decrement();
  metrics_ = nullptr;
}

void ControllerMetrics::job_submitted() { submitted_.Add({}).Increment(); }

void ControllerMetrics::job_scheduled(double seconds) {
  scheduling_seconds_.Add({}, seconds_buckets()).Observe(seconds);
}

void ControllerMetrics::job_done(double seconds, absl::StatusCode reason) {
  job_seconds_.Add({}, seconds_buckets()).Observe(seconds);
  jobs_.Add({{"reason", absl::StatusCodeToString(reason)}}).Increment();
}

void ControllerMetrics::tenant_usage(const std::string& tenant, uint64_t flops,
                                     double device_seconds, uint64_t bytes_moved) {
  tenant_flops_.Add({{"tenant", tenant}}).Increment(static_cast<double>(flops));
  tenant_device_seconds_.Add({{"tenant", tenant}}).Increment(device_seconds);
  tenant_bytes_moved_.Add({{"tenant", tenant}}).Increment(static_cast<double>(bytes_moved));
}

void ControllerMetrics::hive_reset(const std::string& hive, absl::StatusCode reason) {
  hive_resets_.Add({{"hive", hive}, {"reason", absl::StatusCodeToString(reason)}}).Increment();
}

}  // namespace tg
