// tg-example-mlp: data-parallel training of a small MLP on synthetic data, over every device
// of the pool.
//
// One training step — forward pass, loss, gradients (client/autodiff.h) and the SGD update —
// is one graph. The batch is sharded over the devices along its first axis; the weights are
// replicated on every device and stay there between steps as remote tensors of this
// program's session. The first step captures the plan; every later step replays it with a
// new batch and the weights the previous step kept. Prints the loss per step; at the end it
// measures the trained weights on the first batch again and exits 1 unless their loss there is
// below the initial weights' loss on it (same batch, so any number of steps, even 1, compares
// like with like).
//
// Elastic: a step that fails because a node was lost (its daemon died) prints the node; the
// weights of the last completed step are read from a surviving replica, the step is planned
// again on the remaining devices (the same global batch, split over fewer shards) and run
// again, and training goes on. While a node is missing, every step boundary asks the pool
// whether it is back (UP with a new daemon); then the next step is planned on all devices
// again with the current weights. --pause-before-step STEP=FILE holds training before STEP
// until FILE exists, so that a test can kill or restart a daemon at a known step.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <CLI/CLI.hpp>
#include <absl/strings/numbers.h>

#include "client/autodiff.h"
#include "client/client.h"
#include "client/device_name.h"
#include "client/elastic_devices.h"
#include "client/graph_builder.h"
#include "client/session.h"
#include "net/flag_checks.h"

namespace {

namespace v1 = tgrack::v1;
using tg::HostTensor;
using tg::Value;

struct Options {
  std::string controller = "127.0.0.1:7070";
  int steps = 20;
  int batch = 64;
  int features = 8;
  int hidden = 16;
  float learning_rate = 0.1f;
  int max_devices = 0;  // 0 = all.
  int shards = 0;       // 0 = one per device.
  bool deterministic = false;
  std::map<int, std::string> pauses;  // Step -> the file that releases it.
  int pause_timeout_s = 300;
};

// How often one step is planned again after lost nodes before training gives up.
constexpr int kMaxReplansPerStep = 3;

HostTensor tensor(const tg::Shape& shape, const std::vector<float>& values) {
  HostTensor t(tg::TensorType{v1::DTYPE_F32, shape});
  std::copy(values.begin(), values.end(), t.values<float>().begin());
  return t;
}

// y = sin(x . a) + 0.5 * (x . b), the function the MLP learns.
class SyntheticData {
 public:
  explicit SyntheticData(int features) : features_(features), rng_(7) {
    std::normal_distribution<float> normal(0, 1);
    for (int i = 0; i < features; ++i) a_.push_back(normal(rng_) / std::sqrt(float(features)));
    for (int i = 0; i < features; ++i) b_.push_back(normal(rng_) / std::sqrt(float(features)));
  }
  std::pair<HostTensor, HostTensor> batch(int rows) {
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> x(rows * features_), y(rows);
    for (int r = 0; r < rows; ++r) {
      float dot_a = 0, dot_b = 0;
      for (int f = 0; f < features_; ++f) {
        x[r * features_ + f] = normal(rng_);
        dot_a += a_[f] * x[r * features_ + f];
        dot_b += b_[f] * x[r * features_ + f];
      }
      y[r] = std::sin(dot_a) + 0.5f * dot_b;
    }
    return {tensor({rows, features_}, x), tensor({rows, 1}, y)};
  }

 private:
  int features_;
  std::mt19937 rng_;
  std::vector<float> a_, b_;
};

void lay_out(v1::Graph& graph, const std::string& input, const std::vector<v1::DeviceRef>& devices,
             bool replicated, int shards) {
  for (v1::Node& node : *graph.mutable_nodes()) {
    if (node.name() != input) continue;
    for (const v1::DeviceRef& d : devices) *node.mutable_sharding()->add_devices() = d;
    node.mutable_sharding()->set_replicated(replicated);
    node.mutable_sharding()->set_shards(static_cast<uint32_t>(shards));
  }
}

const std::vector<std::string> kWeights = {"w1", "b1", "w2", "b2"};

// One SGD step of a features -> hidden (relu) -> 1 MLP under mean squared error.
absl::StatusOr<v1::Graph> training_step(const Options& o, const std::vector<v1::DeviceRef>& devices) {
  tg::GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {o.batch, o.features});
  Value y = g.input("y", v1::DTYPE_F32, {o.batch, 1});
  Value w1 = g.input("w1", v1::DTYPE_F32, {o.features, o.hidden});
  Value b1 = g.input("b1", v1::DTYPE_F32, {o.hidden});
  Value w2 = g.input("w2", v1::DTYPE_F32, {o.hidden, 1});
  Value b2 = g.input("b2", v1::DTYPE_F32, {1});
  Value prediction = matmul(relu(matmul(x, w1) + b1), w2) + b2;
  Value error = prediction - y;
  Value loss = mean(error * error);
  auto grads = tg::gradients(loss, {w1, b1, w2, b2});
  if (!grads.ok()) return grads.status();
  g.output(loss, "loss");
  const std::vector<Value> weights = {w1, b1, w2, b2};
  for (size_t i = 0; i < weights.size(); ++i) {
    g.output(weights[i] - g.scalar(o.learning_rate) * (*grads)[i], "new_" + kWeights[i]);
  }
  auto graph = g.build();
  if (!graph.ok()) return graph.status();
  const int shards = o.shards > 0 ? o.shards : static_cast<int>(devices.size());
  lay_out(*graph, "x", devices, false, shards);
  lay_out(*graph, "y", devices, false, shards);
  for (const std::string& w : kWeights) lay_out(*graph, w, devices, true, 0);
  return graph;
}

std::map<std::string, HostTensor> initial_weights(const Options& o) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0, 1);
  auto random = [&](int rows, int cols, float scale) {
    std::vector<float> v(rows * cols);
    for (float& e : v) e = normal(rng) * scale;
    return v;
  };
  return {{"w1", tensor({o.features, o.hidden}, random(o.features, o.hidden, 1 / std::sqrt(float(o.features))))},
          {"b1", tensor({o.hidden}, std::vector<float>(o.hidden, 0))},
          {"w2", tensor({o.hidden, 1}, random(o.hidden, 1, 1 / std::sqrt(float(o.hidden))))},
          {"b2", tensor({1}, {0})}};
}

// Before training step `step`, waits until the file that --pause-before-step names for it
// exists; DEADLINE_EXCEEDED past --pause-timeout.
absl::Status pause_before(const Options& o, int step) {
  auto it = o.pauses.find(step);
  if (it == o.pauses.end()) return absl::OkStatus();
  std::printf("paused before step %d: waiting for %s\n", step, it->second.c_str());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.pause_timeout_s);
  while (!std::filesystem::exists(it->second)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError("paused before step " + std::to_string(step) + ": " +
                                         it->second + " did not appear within " +
                                         std::to_string(o.pause_timeout_s) + " s (--pause-timeout)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("resumed before step %d\n", step);
  return absl::OkStatus();
}

std::string device_list(const std::vector<v1::DeviceRef>& devices) {
  std::string text;
  for (const v1::DeviceRef& d : devices) text += (text.empty() ? "" : ",") + tg::format_device_name(d);
  return text;
}

// The training as the pool holds it: the devices of the plan, the plan, and the weights the
// last completed step kept there (none before the first step: the feeds hold them).
struct PoolModel {
  std::vector<v1::DeviceRef> devices;
  v1::Graph graph;
  std::string plan_id;
  std::vector<tg::RemoteTensor> weights;
};

// The devices a step runs on: all of `devices` unless the batch does not split evenly over
// them (without --shards), then the most of them that it does split over.
std::vector<v1::DeviceRef> batch_devices(const Options& o, std::vector<v1::DeviceRef> devices) {
  if (o.shards > 0) return devices;
  size_t count = devices.size();
  while (count > 1 && static_cast<size_t>(o.batch) % count != 0) --count;
  devices.resize(count);
  return devices;
}

// Moves training onto (some of) `devices`: the current weights are read back (from any replica that
// answers) into `feeds`, the old plan is dropped, and the next run captures a plan over
// `devices`.
absl::Status replan(const tg::Client& client, const Options& o,
                    const std::vector<v1::DeviceRef>& devices, PoolModel& model,
                    std::map<std::string, HostTensor>& feeds) {
  std::vector<std::string> old;
  for (size_t i = 0; i < model.weights.size(); ++i) {
    auto weight = client.fetch(model.weights[i]);
    if (!weight.ok()) return weight.status();
    feeds[kWeights[i]] = *std::move(weight);
    old.push_back(model.weights[i].id());
  }
  if (!old.empty()) {
    if (auto freed = client.free(old); !freed.ok()) return freed.status();
  }
  model.weights.clear();
  if (!model.plan_id.empty()) {
    absl::Status dropped = client.drop_plan(model.plan_id);
    if (!dropped.ok() && dropped.code() != absl::StatusCode::kNotFound) return dropped;
    model.plan_id.clear();
  }
  std::vector<v1::DeviceRef> used = batch_devices(o, devices);
  auto graph = training_step(o, used);
  if (!graph.ok()) return graph.status();
  model.graph = *std::move(graph);
  model.devices = std::move(used);
  return absl::OkStatus();
}

absl::StatusOr<tg::RunResult> run_step(const tg::Client& client, const tg::Session& session,
                                       const Options& o, const PoolModel& model,
                                       const std::map<std::string, HostTensor>& feeds) {
  tg::RunOptions options = session.options();
  options.deterministic = o.deterministic;
  for (const std::string& w : kWeights) options.keep.push_back("new_" + w);
  for (size_t i = 0; i < model.weights.size(); ++i) options.input(kWeights[i], model.weights[i]);
  if (!model.plan_id.empty()) return client.replay(model.plan_id, feeds, options);
  options.capture = true;
  return client.run(model.graph, feeds, options);
}

int fail(const std::string& what) {
  std::fprintf(stderr, "tg-example-mlp: %s\n", what.c_str());
  return 1;
}

int train(const Options& o) {
  tg::Client client(o.controller);
  tg::ElasticDevices pool(client, o.max_devices);
  auto devices = pool.usable();
  if (!devices.ok()) return fail(devices.status().ToString());
  if (devices->empty()) return fail("no usable device at " + o.controller);
  PoolModel model;
  std::map<std::string, HostTensor> feeds = initial_weights(o);
  if (absl::Status planned = replan(client, o, *devices, model, feeds); !planned.ok()) {
    return fail(planned.ToString());
  }
  auto session = tg::Session::open(client, std::chrono::seconds(30), "tg-example-mlp");
  if (!session.ok()) return fail(session.status().ToString());
  std::printf("training a %d-%d-1 MLP on %zu device(s), batch %d, %d steps%s\n", o.features,
              o.hidden, model.devices.size(), o.batch, o.steps, o.deterministic ? " (deterministic)" : "");

  SyntheticData data(o.features);
  float first_loss = 0, trained_loss = 0;
  std::map<std::string, HostTensor> first_batch;
  // Steps 1..o.steps train; the extra last run feeds the first batch again to measure the
  // trained weights on it (its updated weights are dropped with the session).
  for (int step = 1; step <= o.steps + 1; ++step) {
    const bool evaluation = step > o.steps;
    if (evaluation) {
      feeds["x"] = first_batch.at("x");
      feeds["y"] = first_batch.at("y");
    } else {
      if (absl::Status paused = pause_before(o, step); !paused.ok()) return fail(paused.ToString());
      auto [x, y] = data.batch(o.batch);
      feeds["x"] = std::move(x);
      feeds["y"] = std::move(y);
      if (step == 1) first_batch = {{"x", feeds["x"]}, {"y", feeds["y"]}};
    }
    if (pool.degraded()) {  // A lost node rejoins at the first step boundary after it is back.
      auto now = pool.usable();
      if (!now.ok()) return fail("step " + std::to_string(step) + ": " + now.status().ToString());
      for (const std::string& node : pool.rejoined()) {
        std::printf("step %d: node '%s' rejoined\n", step, node.c_str());
      }
      if (!pool.rejoined().empty()) {
        if (absl::Status s = replan(client, o, *now, model, feeds); !s.ok()) {
          return fail("step " + std::to_string(step) + ": " + s.ToString());
        }
        std::printf("step %d: planned again on %zu device(s) (%s) with the current weights\n",
                    step, model.devices.size(), device_list(model.devices).c_str());
      }
    }
    absl::StatusOr<tg::RunResult> result = run_step(client, **session, o, model, feeds);
    for (int replans = 0; !result.ok(); ++replans) {
      const std::optional<std::string> lost = tg::failed_node(result.status());
      if (!lost || replans == kMaxReplansPerStep) {
        return fail("step " + std::to_string(step) + ": " + result.status().ToString());
      }
      std::printf("step %d failed: node '%s' was lost: %s\n", step, lost->c_str(),
                  result.status().ToString().c_str());
      pool.lose(*lost);
      auto now = pool.usable();
      if (!now.ok()) return fail("step " + std::to_string(step) + ": " + now.status().ToString());
      if (now->empty()) return fail("step " + std::to_string(step) + ": no usable device left");
      const std::string from = step == 1 ? "the initial weights"
                                         : "the weights of step " + std::to_string(step - 1);
      if (absl::Status s = replan(client, o, *now, model, feeds); !s.ok()) {
        return fail("step " + std::to_string(step) + ": " + s.ToString());
      }
      std::printf("step %d: planned again on %zu device(s) (%s) with %s; running it again\n",
                  step, model.devices.size(), device_list(model.devices).c_str(), from.c_str());
      result = run_step(client, **session, o, model, feeds);
    }
    if (model.plan_id.empty()) {
      for (const std::string& w : kWeights) feeds.erase(w);  // From now on they stay on the pool.
    } else {
      std::vector<std::string> old;
      for (const tg::RemoteTensor& w : model.weights) old.push_back(w.id());
      if (auto freed = client.free(old); !freed.ok()) return fail(freed.status().ToString());
    }
    model.plan_id = result->plan_id;
    model.weights = result->kept;
    const float loss = result->outputs[0].values<float>()[0];
    if (evaluation) {
      trained_loss = loss;
      continue;
    }
    if (step == 1) first_loss = loss;
    std::printf("step %3d  loss %.6f  on %zu device(s)  (%s, %s)\n", step, loss,
                model.devices.size(), model.plan_id.c_str(), result->job_id.c_str());
  }
  if (!(trained_loss < first_loss)) {
    return fail("the loss on the first batch did not go down (" + std::to_string(first_loss) +
                " -> " + std::to_string(trained_loss) + ")");
  }
  std::printf("loss on the first batch %.6f -> %.6f: OK\n", first_loss, trained_loss);
  return 0;
}

// "STEP=FILE" of --pause-before-step.
absl::StatusOr<std::pair<int, std::string>> parse_pause(const std::string& text) {
  const size_t equals = text.find('=');
  int step = 0;
  if (equals == std::string::npos || equals + 1 == text.size() ||
      !absl::SimpleAtoi(text.substr(0, equals), &step) || step < 1) {
    return absl::InvalidArgumentError("'" + text + "' is not STEP=FILE (a step from 1, a file)");
  }
  return std::make_pair(step, text.substr(equals + 1));
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // Each line as it happens, also into a file.
  Options o;
  CLI::App app{"tg-example-mlp: data-parallel MLP training over every device of a tgrack pool"};
  app.add_option("--controller", o.controller, "tgcontroller HOST:PORT")
      ->envname("TGRACK_CONTROLLER")
      ->capture_default_str()
      ->check(tg::flags::host_port(tg::flags::kConnect));
  app.add_option("--steps", o.steps, "training steps")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch", o.batch, "rows per step, over all devices")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden units")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--learning-rate", o.learning_rate, "SGD step size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--devices", o.max_devices, "use at most this many devices (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--shards", o.shards, "shards of each batch (0 = one per device)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--deterministic", o.deterministic,
               "combine per-shard gradients in shard order (bit-identical for any device count)");
  std::vector<std::string> pauses;
  app.add_option("--pause-before-step", pauses,
                 "STEP=FILE: before training step STEP, wait until FILE exists (repeatable)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            auto pause = parse_pause(text);
            return pause.ok() ? "" : std::string(pause.status().message());
          },
          "STEP=FILE"));
  app.add_option("--pause-timeout", o.pause_timeout_s,
                 "seconds a pause waits for its file before training fails")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  if (auto exit_status = tg::flags::parse(app, argc, argv)) return *exit_status;
  for (const std::string& text : pauses) o.pauses.insert(*parse_pause(text));
  return train(o);
}
