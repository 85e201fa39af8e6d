// tgctl bench allreduce|reducescatter|allgather|broadcast: creates a communicator over the
// chosen devices through the controller, runs the collective at each size the way
// nccl-tests does (warm-ups, timed back-to-back iterations, optional verification; with
// --trials, several such runs and the median one) and
// prints nccl-tests' columns; algbw = size / time, busbw = algbw x the collective's bus
// factor (all-reduce 2(n-1)/n, reduce-scatter and all-gather (n-1)/n, broadcast 1).
// With --check, a size where any element is wrong, or no element was checked, fails the
// command (DATA_LOSS, exit 1) naming how many elements were wrong at which sizes.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <nlohmann/json.hpp>

#include "client/device_name.h"
#include "client/tgctl/command.h"
#include "devices/dtype.h"
#include "devices/units.h"
#include "net/flag_checks.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::tgctl {
namespace {

struct BenchOptions {
  std::string devices = "all";
  std::string min = "1K", max = "256M";
  uint32_t factor = 4;
  std::string algo, dtype = "f32", op = "sum", transport;
  std::string require_link;  // "", "xgmi" or "pcie".
  uint32_t iters = 20, warmup = 5, trials = 1, root = 0, timeout_ms = 10000;
  bool check = false, in_place = false, verbose = false;
};

struct Kind {
  const char* command;
  tgrack::v1::CollectiveKind kind;
  bool reduces;
};

constexpr Kind kKinds[] = {
    {"allreduce", tgrack::v1::COLLECTIVE_ALL_REDUCE, true},
    {"reducescatter", tgrack::v1::COLLECTIVE_REDUCE_SCATTER, true},
    {"allgather", tgrack::v1::COLLECTIVE_ALL_GATHER, false},
    {"broadcast", tgrack::v1::COLLECTIVE_BROADCAST, false},
};

double bus_factor(tgrack::v1::CollectiveKind kind, double n) {
  switch (kind) {
    case tgrack::v1::COLLECTIVE_ALL_REDUCE: return 2 * (n - 1) / n;
    case tgrack::v1::COLLECTIVE_REDUCE_SCATTER:
    case tgrack::v1::COLLECTIVE_ALL_GATHER: return (n - 1) / n;
    default: return 1;
  }
}

absl::StatusOr<tgrack::v1::ReduceOp> parse_op(const std::string& name) {
  const std::pair<const char*, tgrack::v1::ReduceOp> ops[] = {
      {"sum", tgrack::v1::REDUCE_OP_SUM}, {"prod", tgrack::v1::REDUCE_OP_PROD}, {"min", tgrack::v1::REDUCE_OP_MIN},
      {"max", tgrack::v1::REDUCE_OP_MAX}, {"avg", tgrack::v1::REDUCE_OP_AVG}};
  for (auto& [n, op] : ops) {
    if (name == n) return op;
  }
  return absl::InvalidArgumentError(absl::StrCat("--op '", name, "': expected sum, prod, min, max or avg"));
}

// --devices: "all" or a count N (none listed: the controller picks), or device names; a
// name in the old NODE:INDEX form gets a hint on stderr.
absl::StatusOr<std::vector<tgrack::v1::DeviceRef>> parse_devices(const std::string& text) {
  std::vector<tgrack::v1::DeviceRef> refs;
  if (uint32_t count = 0; text == "all" || absl::SimpleAtoi(text, &count)) return refs;
  auto parsed = parse_device_names(text);
  if (!parsed.ok()) return parsed.status();
  for (const ParsedDevice& device : *parsed) {
    if (device.old_form) std::cerr << "tgctl: " << old_device_form_hint("--devices", device.ref) << "\n";
    refs.push_back(device.ref);
  }
  return refs;
}

absl::Status run_bench(const GlobalOptions& global, const Kind& kind, const BenchOptions& o) {
  const bool json = global.json;
  auto dtype = parse_dtype(o.dtype);
  if (!dtype.ok()) return dtype.status();
  auto op = parse_op(o.op);
  if (!op.ok()) return op.status();
  auto devices = parse_devices(o.devices);
  if (!devices.ok()) return devices.status();
  auto min = parse_bytes(o.min), max = parse_bytes(o.max);
  if (!min.ok()) return min.status();
  if (!max.ok()) return max.status();
  const size_t es = dtype_size(*dtype);

  auto stub = tgrack::v1::ControllerService::NewStub(make_channel(global.controller));
  tgrack::v1::CreateCommunicatorRequest create;
  for (auto& d : *devices) *create.add_devices() = d;
  if (uint32_t count = 0; absl::SimpleAtoi(o.devices, &count)) create.set_device_count(count);
  create.set_timeout_ms(o.timeout_ms);
  create.set_transport(o.transport);
  create.set_require_link(o.require_link);
  tgrack::v1::CreateCommunicatorReply created;
  auto ctx = context_with_deadline(std::chrono::milliseconds(o.timeout_ms + 5000));
  if (absl::Status s = from_grpc(stub->CreateCommunicator(ctx.get(), create, &created)); !s.ok()) return s;
  const auto& spec = created.spec();
  const double n = spec.ranks_size();

  nlohmann::json rows = nlohmann::json::array();
  absl::Status result;
  std::vector<std::string> failed_checks;  // One per size whose --check found a wrong element.
  bool header = false;
  for (uint64_t bytes = std::max<uint64_t>(*min, es); bytes <= *max; bytes *= o.factor) {
    tgrack::v1::RunCollectiveRequest req;
    req.set_comm_id(spec.comm_id());
    req.set_kind(kind.kind);
    req.set_dtype(*dtype);
    req.set_op(kind.reduces ? *op : tgrack::v1::REDUCE_OP_UNSPECIFIED);
    req.set_count(bytes / es);
    req.set_root(o.root);
    req.set_warmup_iters(o.warmup);
    req.set_iters(o.iters);
    req.set_check(o.check);
    req.set_algorithm(o.algo);
    req.set_in_place(o.in_place);
    tgrack::v1::RunCollectiveReply reply;
    std::vector<double> trial_seconds;  // Per trial: the slowest rank's time per iteration.
    uint64_t wrong = 0, checked = 0;  // Over every rank and trial.
    for (uint32_t trial = 0; trial < std::max<uint32_t>(1, o.trials) && result.ok(); ++trial) {
      grpc::ClientContext run_ctx;  // Bounded by the daemons' per-operation timeouts.
      result = from_grpc(stub->RunCollective(&run_ctx, req, &reply));
      double slowest = 0;
      for (auto& r : reply.results()) {
        slowest = std::max(slowest, r.seconds_per_iter());
        wrong += r.wrong();
        checked += r.checked();
      }
      trial_seconds.push_back(slowest);
    }
    if (!result.ok()) break;
    if (o.check && checked == 0) {
      failed_checks.push_back(absl::StrCat("no element was checked at ", req.count() * es, " bytes"));
    } else if (o.check && wrong > 0) {
      failed_checks.push_back(absl::StrCat(wrong, " of ", checked, " elements wrong at ",
                                           req.count() * es, " bytes"));
    }
    std::sort(trial_seconds.begin(), trial_seconds.end());
    const double seconds = trial_seconds[trial_seconds.size() / 2];  // The median trial.
    const double size = static_cast<double>(req.count() * es);
    const double algbw = seconds > 0 ? size / seconds / 1e9 : 0;
    const double busbw = algbw * bus_factor(kind.kind, n);
    if (json) {
      rows.push_back({{"size_bytes", req.count() * es},
                      {"element_count", req.count()},
                      {"dtype", std::string(dtype_name(*dtype))},
                      {"op", kind.reduces ? o.op : "none"},
                      {"algorithm", reply.algorithm()},
                      {"transport", reply.transport()},
                      {"reason", reply.reason()},
                      {"time_seconds", seconds},
                      {"algbw_bytes_per_second", algbw * 1e9},
                      {"busbw_bytes_per_second", busbw * 1e9},
                      {"wrong_count", o.check ? nlohmann::json(wrong) : nlohmann::json(nullptr)},
                      {"checked_count", o.check ? nlohmann::json(checked) : nlohmann::json(nullptr)}});
      continue;
    }
    if (!header) {
      std::printf("# tgctl bench %s: %g ranks, communicator %s, transport %s\n", kind.command, n,
                  spec.comm_id().c_str(), reply.transport().c_str());
      std::printf("# %12s %12s %6s %6s %16s %10s %8s %8s %7s\n", "size", "count", "type", "redop", "algorithm",
                  "time", "algbw", "busbw", "#wrong");
      std::printf("# %12s %12s %6s %6s %16s %10s %8s %8s %7s\n", "(B)", "(elements)", "", "", "", "(us)", "(GB/s)",
                  "(GB/s)", "");
      header = true;
    }
    std::printf("  %12llu %12llu %6s %6s %16s %10.2f %8.3f %8.3f %7s\n",
                static_cast<unsigned long long>(req.count() * es), static_cast<unsigned long long>(req.count()),
                std::string(dtype_name(*dtype)).c_str(), kind.reduces ? o.op.c_str() : "none",
                reply.algorithm().c_str(), seconds * 1e6, algbw, busbw,
                o.check ? std::to_string(wrong).c_str() : "N/A");
    if (o.verbose) std::printf("#   %s: %s\n", reply.algorithm().c_str(), reply.reason().c_str());
    std::fflush(stdout);
  }
  tgrack::v1::DestroyCommunicatorRequest destroy;
  destroy.set_comm_id(spec.comm_id());
  tgrack::v1::DestroyCommunicatorReply destroyed;
  auto dctx = context_with_deadline(std::chrono::milliseconds(o.timeout_ms + 5000));
  absl::Status d = from_grpc(stub->DestroyCommunicator(dctx.get(), destroy, &destroyed));
  if (json && result.ok()) {
    std::cout << nlohmann::json({{"collective", kind.command},
                                 {"rank_count", spec.ranks_size()},
                                 {"communicator_id", spec.comm_id()},
                                 {"results", rows}})
                     .dump(2)
              << "\n";
  }
  if (!result.ok()) return result;
  if (!d.ok()) return d;
  if (!failed_checks.empty()) {
    return absl::DataLossError(absl::StrCat("--check failed: ", absl::StrJoin(failed_checks, "; ")));
  }
  return absl::OkStatus();
}

}  // namespace

void add_bench_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmark collectives across the pool (nccl-tests columns)");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();
  for (const Kind& kind : kKinds) {
    CLI::App* c = bench->add_subcommand(kind.command, absl::StrCat("Benchmark ", kind.command));
    c->add_option("--devices", o->devices, "all; N (the controller places N, inside one rack when one has them); or NODE/INDEX,... (rank i = i-th device)")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
              if (uint32_t count = 0; text == "all" || absl::SimpleAtoi(text, &count)) return "";
              auto parsed = parse_device_names(text);
              return parsed.ok() ? "" : std::string(parsed.status().message());
            },
            "DEVICES"));
    c->add_option("--min", o->min, "Smallest size in bytes (e.g. 1K)")
        ->capture_default_str()
        ->check(flags::byte_size(1));
    c->add_option("--max", o->max, "Largest size in bytes (e.g. 256M), at least --min")
        ->capture_default_str()
        ->check(flags::byte_size(1));
    c->add_option("--factor", o->factor, "Size multiplier between steps")
        ->capture_default_str()
        ->check(CLI::Range(2u, 1u << 20));
    c->add_option("--algo", o->algo, "Force an algorithm (ring, mesh, halving_doubling, hierarchical; tree, chain)");
    c->add_option("--dtype", o->dtype, "f32, f64, f16, bf16, i32, i64")->capture_default_str();
    if (kind.reduces) c->add_option("--op", o->op, "sum, prod, min, max, avg")->capture_default_str();
    if (kind.kind == tgrack::v1::COLLECTIVE_BROADCAST) c->add_option("--root", o->root, "Source rank")->capture_default_str();
    c->add_option("--iters", o->iters, "Timed iterations per size")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    c->add_option("--warmup", o->warmup, "Warm-up iterations per size")->capture_default_str();
    c->add_option("--trials", o->trials,
                  "Runs per size (each with its warm-up); the median run's time is reported")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    c->add_option("--timeout-ms", o->timeout_ms, "Per-operation deadline")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    c->add_option("--transport", o->transport, "Force a transport: tcp (default: local inside a daemon, tcp across)");
    c->add_option("--require-link", o->require_link,
                  "Fail unless every device pair has this link class or better (xgmi, pcie)")
        ->check(CLI::IsMember({"xgmi", "pcie"}));
    c->add_flag("--check", o->check, "Fill known values and verify every result");
    c->add_flag("--in-place", o->in_place, "Output buffer = input buffer");
    c->add_flag("--verbose", o->verbose, "Print the algorithm choice and why, per size");
    c->callback([&options, &action, o, &kind] {
      if (*parse_bytes(o->min) > *parse_bytes(o->max)) {  // Both passed byte_size.
        throw CLI::ValidationError("--min", "'" + o->min + "' is larger than --max '" + o->max +
                                                "': no size to run");
      }
      auto dtype = parse_dtype(o->dtype);
      if (dtype.ok() && *parse_bytes(o->max) < dtype_size(*dtype)) {
        throw CLI::ValidationError(
            "--max", absl::StrCat("'", o->max, "' is smaller than one ", o->dtype, " element (",
                                  dtype_size(*dtype), " B): no size to run"));
      }
      action = [&options, o, &kind] { return run_bench(options, kind, *o); };
    });
  }
}

}  // namespace tg::tgctl
