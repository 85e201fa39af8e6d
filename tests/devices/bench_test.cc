#include <chrono>
#include "graph_helpers.h"
namespace tg::testing {
TEST(Bench, Ops) {
  CpuDevice device("cpu0", uint64_t{4} << 30, 1);
  auto time = [&](const char* what, v1::OpKind op, Shape sa, Shape sb, std::function<void(v1::Node&)> setup = nullptr) {
    GraphBuilder g;
    g.input("a", F32, sa);
    std::vector<HostTensor> feeds = {HostTensor(TensorType{F32, sa})};
    std::vector<std::string> names = {"a"};
    if (!sb.empty()) { g.input("b", F32, sb); feeds.push_back(HostTensor(TensorType{F32, sb})); names.push_back("b"); }
    auto& n = sb.empty() ? g.node("y", op, {"a"}) : g.node("y", op, {"a", "b"});
    if (setup) setup(n);
    g.output("y");
    for (auto& f : feeds) for (auto& v : f.values<float>()) v = 0.5f;
    auto t0 = std::chrono::steady_clock::now();
    auto out = run_graph(device, g.graph(), feeds, names);
    ASSERT_TRUE(out.ok()) << out.status();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%-12s %8.2f ms\n", what, s * 1e3);
  };
  time("add 16M", v1::OP_ADD, {4096, 4096}, {4096, 4096});
  time("add bcast", v1::OP_ADD, {4096, 4096}, {4096, 1});
  time("exp 16M", v1::OP_EXP, {4096, 4096}, {});
  time("matmul 1024", v1::OP_MATMUL, {1024, 1024}, {1024, 1024});
  time("sum 16M", v1::OP_SUM, {4096, 4096}, {}, [](v1::Node& n) { n.add_axes(1); });
  time("sum0 16M", v1::OP_SUM, {4096, 4096}, {}, [](v1::Node& n) { n.add_axes(0); });
  time("permute", v1::OP_PERMUTE, {4096, 4096}, {}, [](v1::Node& n) { n.add_axes(1); n.add_axes(0); });
  time("cast f16", v1::OP_CAST, {4096, 4096}, {}, [](v1::Node& n) { n.set_dtype(F16); });
}
}
