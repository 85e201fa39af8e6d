// graph_bench: the cost of one trivial graph through the pool. y = x + 1 on a 4-element f32
// input, run on a daemon over the direct path (docs/rpc.md), checked every time, three ways:
//   placed graph:  placed once by the controller (Client::place), then run straight on the
//                  daemon under its grant (no controller call);
//   replayed plan: one captured plan, replayed straight on the daemon (no controller call);
//   placed afresh: (--afresh) each graph placed by the controller (Place), then run.
//   latency:    one client, one graph at a time: p50, p99 and mean round trip after warm-up.
//   throughput: N clients (threads, each with its own Client and connection) for a fixed
//               time: graphs per second, and the p50 round trip under that load.
// Prints a table (or --json). The controller comes from --controller or TGRACK_CONTROLLER.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <numeric>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/graph_builder.h"

namespace {

using Clock = std::chrono::steady_clock;
using tg::RunOptions;

struct Options {
  std::string controller = "127.0.0.1:7070";
  int iters = 10000;
  int warmup = 500;
  int clients = 8;
  double seconds = 5;
  bool json = false;
  bool afresh = false;
};

tgrack::v1::Graph plus_one() {
  tg::GraphBuilder g;
  tg::Value x = g.input("x", tgrack::v1::DTYPE_F32, {4});
  g.output(add(x, g.constant<float>({1, 1, 1, 1}, {4}, "one")), "y");
  return *g.build();
}

// How a graph is sent, by one client: a run with feeds.
using Run = std::function<absl::StatusOr<std::vector<tg::HostTensor>>(
    const std::map<std::string, tg::HostTensor>&)>;
// Prepares a client to send graphs one way (e.g. places the graph once).
using Prepare = std::function<absl::StatusOr<Run>(const tg::Client&)>;

// One graph; false (with the reason on stderr) when it failed or returned a wrong value.
bool run_once(const Run& run, const std::map<std::string, tg::HostTensor>& feeds) {
  auto outputs = run(feeds);
  if (!outputs.ok()) {
    std::fprintf(stderr, "graph_bench: %s\n", outputs.status().ToString().c_str());
    return false;
  }
  const auto y = outputs->at(0).values<float>();
  const auto x = feeds.at("x").values<float>();
  for (size_t i = 0; i < 4; ++i) {
    if (y[i] != x[i] + 1) {
      std::fprintf(stderr, "graph_bench: wrong result y[%zu] = %g, expected %g\n", i, y[i], x[i] + 1);
      return false;
    }
  }
  return true;
}

std::map<std::string, tg::HostTensor> feeds_for(float base) {
  tg::HostTensor x(tg::TensorType{tgrack::v1::DTYPE_F32, {4}});
  std::iota(x.values<float>().begin(), x.values<float>().end(), base);
  return {{"x", std::move(x)}};
}

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double percentile(std::vector<double> sorted, double p) {
  if (sorted.empty()) return 0;
  std::sort(sorted.begin(), sorted.end());
  const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[index];
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"graph_bench: round trip and throughput of a trivial graph on the pool"};
  app.add_option("--controller", options.controller, "tgcontroller HOST:PORT")
      ->envname("TGRACK_CONTROLLER")
      ->capture_default_str();
  app.add_option("--iters", options.iters, "Timed graphs for the latency run")->capture_default_str();
  app.add_option("--warmup", options.warmup, "Untimed graphs first")->capture_default_str();
  app.add_option("--clients", options.clients, "Concurrent clients for the throughput run (0: skip it)")
      ->capture_default_str();
  app.add_option("--seconds", options.seconds, "Length of the throughput run")->capture_default_str();
  app.add_flag("--json", options.json, "Print JSON instead of a table");
  app.add_flag("--afresh", options.afresh, "Also measure graphs placed afresh each time");
  CLI11_PARSE(app, argc, argv);

  const tgrack::v1::Graph graph = plus_one();
  const tg::Client client(options.controller, std::chrono::seconds(10));
  RunOptions capture;
  capture.capture = true;
  auto captured = client.run(graph, feeds_for(1), capture);
  if (!captured.ok()) {
    std::fprintf(stderr, "graph_bench: capture: %s\n", captured.status().ToString().c_str());
    return 1;
  }
  const std::string plan_id = captured->plan_id;
  using Outputs = absl::StatusOr<std::vector<tg::HostTensor>>;
  std::vector<std::pair<std::string, Prepare>> modes = {
      {"placed graph",
       [&graph](const tg::Client& c) -> absl::StatusOr<Run> {
         auto placed = c.place(graph);
         if (!placed.ok()) return placed.status();
         return Run([&c, placed = *std::move(placed)](
                        const std::map<std::string, tg::HostTensor>& feeds) -> Outputs {
           auto result = c.run(placed, feeds);
           if (!result.ok()) return result.status();
           return std::move(result->outputs);
         });
       }},
      {"replayed plan",
       [&plan_id](const tg::Client& c) -> absl::StatusOr<Run> {
         return Run([&c, &plan_id](const std::map<std::string, tg::HostTensor>& feeds) -> Outputs {
           auto result = c.replay(plan_id, feeds);
           if (!result.ok()) return result.status();
           return std::move(result->outputs);
         });
       }},
  };
  if (options.afresh) {
    modes.emplace_back("placed afresh", [&graph](const tg::Client& c) -> absl::StatusOr<Run> {
      return Run([&c, &graph](const std::map<std::string, tg::HostTensor>& feeds) -> Outputs {
        auto result = c.submit(graph, feeds);
        if (!result.ok()) return result.status();
        return std::move(result->outputs);
      });
    });
  }
  auto prepared = [](const Prepare& prepare, const tg::Client& c) -> Run {
    auto run = prepare(c);
    if (run.ok()) return *std::move(run);
    std::fprintf(stderr, "graph_bench: %s\n", run.status().ToString().c_str());
    return {};
  };

  nlohmann::json json_rows = nlohmann::json::array();
  if (!options.json) {
    std::printf("%-40s %10s %10s %10s %12s\n", "RUN", "P50 us", "P99 us", "MEAN us", "GRAPHS/S");
  }
  for (const auto& [mode, prepare] : modes) {
    // Latency: one client, one at a time.
    const auto feeds = feeds_for(1);
    const Run run = prepared(prepare, client);
    if (!run) return 1;
    for (int i = 0; i < options.warmup; ++i) {
      if (!run_once(run, feeds)) return 1;
    }
    std::vector<double> latency;
    latency.reserve(options.iters);
    for (int i = 0; i < options.iters; ++i) {
      const auto start = Clock::now();
      if (!run_once(run, feeds)) return 1;
      latency.push_back(micros(Clock::now() - start));
    }
    const double mean = std::accumulate(latency.begin(), latency.end(), 0.0) / latency.size();

    // Throughput: every client its own connection, all for the same fixed time.
    std::atomic<bool> failed{false};
    std::vector<std::vector<double>> loaded(options.clients);
    std::vector<std::thread> threads;
    const auto deadline_warm = Clock::now() + std::chrono::milliseconds(300);
    const auto stop = deadline_warm + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(options.seconds));
    for (int c = 0; c < options.clients; ++c) {
      threads.emplace_back([&, c] {
        const tg::Client own(options.controller, std::chrono::seconds(10));
        const auto mine = feeds_for(static_cast<float>(10 * c));
        const Run run_own = prepared(prepare, own);
        if (!run_own) failed = true;
        while (Clock::now() < deadline_warm && !failed) {
          if (!run_once(run_own, mine)) failed = true;
        }
        while (!failed) {
          const auto start = Clock::now();
          if (start >= stop) break;
          if (!run_once(run_own, mine)) failed = true;
          loaded[c].push_back(micros(Clock::now() - start));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    if (failed) return 1;
    std::vector<double> all;
    for (const auto& per : loaded) all.insert(all.end(), per.begin(), per.end());
    const double per_second = options.clients > 0 ? all.size() / options.seconds : 0;

    const double p50 = percentile(latency, 0.5), p99 = percentile(latency, 0.99);
    const double loaded_p50 = percentile(all, 0.5), loaded_p99 = percentile(all, 0.99);
    if (options.json) {
      json_rows.push_back({{"mode", mode},                  {"iters", options.iters},
                           {"p50_us", p50},                 {"p99_us", p99},
                           {"mean_us", mean},               {"clients", options.clients},
                           {"seconds", options.seconds},    {"graphs", all.size()},
                           {"graphs_per_second", per_second},
                           {"loaded_p50_us", loaded_p50},   {"loaded_p99_us", loaded_p99}});
      continue;
    }
    std::printf("%-40s %10.1f %10.1f %10.1f %12.0f\n",
                (mode + ", 1 client, " + std::to_string(options.iters) + " graphs").c_str(), p50,
                p99, mean, 1e6 / mean);
    std::printf("%-40s %10.1f %10.1f %10s %12.0f\n",
                (mode + ", " + std::to_string(options.clients) + " clients").c_str(), loaded_p50,
                loaded_p99, "-", per_second);
  }
  if (options.json) std::printf("%s\n", json_rows.dump(2).c_str());
  return 0;
}
