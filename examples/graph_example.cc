// tg-example-graph: runs relu(matmul(x, w) + b) on the pool with known numbers, prints the
// result and exits non-zero unless it matches the values computed here by hand.
#include <cmath>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "client/client.h"
#include "client/graph_builder.h"
#include "net/flag_checks.h"

int main(int argc, char** argv) {
  std::string controller = "127.0.0.1:7070";
  CLI::App app{"tg-example-graph: run relu(matmul(x, w) + b) on a tgrack pool and check it"};
  app.add_option("--controller", controller, "tgcontroller HOST:PORT")
      ->envname("TGRACK_CONTROLLER")
      ->capture_default_str()
      ->check(tg::flags::host_port(tg::flags::kConnect));
  if (auto exit_status = tg::flags::parse(app, argc, argv)) return *exit_status;

  tg::GraphBuilder g;
  tg::Value x = g.input("x", tgrack::v1::DTYPE_F32, {2, 3});
  tg::Value w = g.constant<float>({1, -1, 0.5f, 2, 0, 1, -2, 1, 3, 1, 1, -1}, {3, 4}, "w");
  tg::Value b = g.constant<float>({0.5f, -20, 1, 0}, {4}, "b");
  g.output(relu(matmul(x, w) + b), "y");
  auto graph = g.build();
  if (!graph.ok()) {
    std::fprintf(stderr, "tg-example-graph: %s\n", graph.status().ToString().c_str());
    return 1;
  }

  tg::HostTensor feed(tg::TensorType{tgrack::v1::DTYPE_F32, {2, 3}});
  const float x_values[] = {1, 2, 3, -1, 0, 4};
  std::copy(std::begin(x_values), std::end(x_values), feed.values<float>().begin());

  // x·w = [[10 4 -0.5 1] [11 5 3.5 -6]]; + b = [[10.5 -16 0.5 1] [11.5 -15 4.5 -6]]; relu.
  const float expected[] = {10.5f, 0, 0.5f, 1, 11.5f, 0, 4.5f, 0};

  auto result = tg::Client(controller).submit(*graph, {{"x", feed}});
  if (!result.ok()) {
    std::fprintf(stderr, "tg-example-graph: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const tg::HostTensor& y = result->outputs.at(0);
  std::printf("y = relu(matmul(x, w) + b) on %s/%u (%s): %s\n", result->device.node().c_str(),
              result->device.index(), result->job_id.c_str(), y.type().str().c_str());
  bool ok = y.type() == tg::TensorType{tgrack::v1::DTYPE_F32, {2, 4}};
  for (int row = 0; row < 2 && ok; ++row) {
    std::printf("  [");
    for (int col = 0; col < 4; ++col) {
      const float value = y.values<float>()[row * 4 + col];
      std::printf("%s%g", col ? ", " : "", value);
      ok = ok && std::fabs(value - expected[row * 4 + col]) <= 1e-5f;
    }
    std::printf("]\n");
  }
  if (!ok) {
    std::fprintf(stderr, "tg-example-graph: WRONG result, expected "
                         "[[10.5, 0, 0.5, 1], [11.5, 0, 4.5, 0]]\n");
    return 1;
  }
  std::printf("result OK\n");
  return 0;
}
