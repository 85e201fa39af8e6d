// MetricsEndpoint: a Prometheus registry and, once serve() is called, the HTTP endpoint that
// exposes it at /metrics. Every tgrack process that exports metrics owns one; its metric
// families register on registry(). Not copyable; serve() and port() are meant for start-up
// and must not race with each other.
#pragma once

#include <memory>
#include <string>

#include <absl/status/status.h>

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace tg {

class MetricsEndpoint {
 public:
  MetricsEndpoint();
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  prometheus::Registry& registry() { return *registry_; }

  // Serves /metrics on host_port ("0.0.0.0:9464"; port 0 picks a free port, see port()).
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot bind,
  // FAILED_PRECONDITION when already serving.
  absl::Status serve(const std::string& host_port);
  // The port serve() bound, 0 when not serving.
  int port() const;
  // The Prometheus text exposition of every metric, as a scrape would see it.
  std::string render_text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace tg
