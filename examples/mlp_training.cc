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
#include <cmath>
#include <cstdio>
#include <random>

#include <CLI/CLI.hpp>

#include "client/autodiff.h"
#include "client/client.h"
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
};

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

std::vector<v1::DeviceRef> pool_devices(const tg::Client& client, int max_devices) {
  std::vector<v1::DeviceRef> devices;
  auto nodes = client.nodes();
  if (!nodes.ok()) return devices;
  for (const v1::NodeInfo& node : *nodes) {
    if (node.state() != v1::NODE_STATE_UP || node.cordoned()) continue;
    for (const v1::DeviceInfo& device : node.devices()) {
      if (device.health() == v1::HEALTH_UNHEALTHY) continue;
      if (max_devices > 0 && static_cast<int>(devices.size()) == max_devices) return devices;
      devices.push_back(device.ref());
    }
  }
  return devices;
}

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

int train(const Options& o) {
  tg::Client client(o.controller);
  const std::vector<v1::DeviceRef> devices = pool_devices(client, o.max_devices);
  if (devices.empty()) {
    std::fprintf(stderr, "tg-example-mlp: no usable device at %s\n", o.controller.c_str());
    return 1;
  }
  auto graph = training_step(o, devices);
  if (!graph.ok()) {
    std::fprintf(stderr, "tg-example-mlp: %s\n", graph.status().ToString().c_str());
    return 1;
  }
  auto session = tg::Session::open(client, std::chrono::seconds(30), "tg-example-mlp");
  if (!session.ok()) {
    std::fprintf(stderr, "tg-example-mlp: %s\n", session.status().ToString().c_str());
    return 1;
  }
  std::printf("training a %d-%d-1 MLP on %zu device(s), batch %d, %d steps%s\n", o.features,
              o.hidden, devices.size(), o.batch, o.steps, o.deterministic ? " (deterministic)" : "");

  SyntheticData data(o.features);
  std::map<std::string, HostTensor> feeds = initial_weights(o);
  std::vector<tg::RemoteTensor> weights;  // Kept by the previous step.
  std::string plan_id;
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
      auto [x, y] = data.batch(o.batch);
      feeds["x"] = std::move(x);
      feeds["y"] = std::move(y);
      if (step == 1) first_batch = {{"x", feeds["x"]}, {"y", feeds["y"]}};
    }
    tg::RunOptions options = (*session)->options();
    options.deterministic = o.deterministic;
    for (const std::string& w : kWeights) options.keep.push_back("new_" + w);
    for (size_t i = 0; i < weights.size(); ++i) options.input(kWeights[i], weights[i]);
    absl::StatusOr<tg::RunResult> result;
    if (plan_id.empty()) {
      options.capture = true;
      result = client.run(*graph, feeds, options);
    } else {
      result = client.replay(plan_id, feeds, options);
    }
    if (!result.ok()) {
      std::fprintf(stderr, "tg-example-mlp: step %d: %s\n", step, result.status().ToString().c_str());
      return 1;
    }
    if (plan_id.empty()) {
      for (const std::string& w : kWeights) feeds.erase(w);  // From now on they stay on the pool.
    } else {
      std::vector<std::string> old;
      for (const tg::RemoteTensor& w : weights) old.push_back(w.id());
      if (auto freed = client.free(old); !freed.ok()) {
        std::fprintf(stderr, "tg-example-mlp: %s\n", freed.status().ToString().c_str());
        return 1;
      }
    }
    plan_id = result->plan_id;
    weights = result->kept;
    const float loss = result->outputs[0].values<float>()[0];
    if (evaluation) {
      trained_loss = loss;
      continue;
    }
    if (step == 1) first_loss = loss;
    std::printf("step %3d  loss %.6f  (%s, %s)\n", step, loss, plan_id.c_str(),
                result->job_id.c_str());
  }
  if (!(trained_loss < first_loss)) {
    std::fprintf(stderr,
                 "tg-example-mlp: the loss on the first batch did not go down (%.6f -> %.6f)\n",
                 first_loss, trained_loss);
    return 1;
  }
  std::printf("loss on the first batch %.6f -> %.6f: OK\n", first_loss, trained_loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
  if (auto exit_status = tg::flags::parse(app, argc, argv)) return *exit_status;
  return train(o);
}
