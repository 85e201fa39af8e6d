// The executor core (devices/graph/executor.h): internal ops in validation and through
// hooks, borrowed inputs, kept outputs, listed order and cancellation; every buffer freed.
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>

#include "devices/cpu/kernels.h"
#include "devices/graph/executor.h"
#include "devices/graph/type_rules.h"
#include "graph_helpers.h"

namespace tg::testing {
namespace {

constexpr uint64_t MiB = uint64_t{1} << 20;

GraphLimits plan_limits() {
  GraphLimits limits;
  limits.internal_ops = true;
  limits.listed_order = true;
  return limits;
}

v1::Node& recv(GraphBuilder& g, const std::string& name, DType dtype, const Shape& shape) {
  v1::Node& n = g.node(name, v1::OP_RECV);
  n.set_dtype(dtype);
  for (int64_t d : shape) n.add_shape(d);
  n.mutable_transfer()->set_key("k-" + name);
  n.mutable_transfer()->mutable_peer()->set_node("node-a");
  return n;
}

// Hooks that play the other ranks: RECV yields `received`, SEND records, ALL_REDUCE adds a
// second rank holding the same values, ALL_GATHER concatenates `in` with itself.
class FakeHooks : public InternalOps {
 public:
  HostTensor received;
  std::vector<HostTensor> sent;
  absl::Status recv_error;

  absl::StatusOr<HostTensor> recv(const v1::Node&, const TensorType&) override {
    if (!recv_error.ok()) return recv_error;
    return received;
  }
  absl::Status send(const v1::Node&, const HostTensor& value) override {
    sent.push_back(value);
    return absl::OkStatus();
  }
  absl::Status all_reduce(const v1::Node&, HostTensor& value) override {
    for (float& v : value.values<float>()) v += v;
    return absl::OkStatus();
  }
  absl::Status all_gather(const v1::Node&, const HostTensor& in, HostTensor& out) override {
    std::memcpy(out.data(), in.data(), in.bytes());
    std::memcpy(out.data() + in.bytes(), in.data(), in.bytes());
    return absl::OkStatus();
  }
};

TEST(InternalOps, ClientGraphsRefuseThem) {
  GraphBuilder g;
  recv(g, "r", F32, {2});
  g.output("r");
  auto v = validate_graph(g.graph());
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "node 'r': op RECV is internal to plans");
}

TEST(InternalOps, TypesFollowTheirRules) {
  GraphBuilder g;
  recv(g, "r", F32, {3, 2});
  g.node("s", v1::OP_SEND, {"r"}).mutable_transfer()->set_key("k");
  g.graph().mutable_nodes(1)->mutable_transfer()->mutable_peer()->set_node("node-b");
  g.graph().mutable_nodes(1)->mutable_transfer()->set_peer_address("127.0.0.1:1");
  v1::Node& ar = g.node("ar", v1::OP_ALL_REDUCE, {"s"});
  ar.mutable_collective()->set_comm_id("c");
  ar.mutable_collective()->set_op(v1::REDUCE_OP_SUM);
  v1::Node& ag = g.node("ag", v1::OP_ALL_GATHER, {"ar"});
  ag.mutable_collective()->set_comm_id("c");
  ag.mutable_collective()->set_world_size(4);
  g.output("ag");
  auto v = validate_graph(g.graph(), plan_limits());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->types.at("s").str(), "f32[3,2]");
  EXPECT_EQ(v->types.at("ar").str(), "f32[3,2]");
  EXPECT_EQ(v->types.at("ag").str(), "f32[12,2]");
}

TEST(InternalOps, AllGatherOfAScalarAndAReduceWithoutOpAreRefused) {
  GraphBuilder g;
  recv(g, "r", F32, {});
  v1::Node& ag = g.node("ag", v1::OP_ALL_GATHER, {"r"});
  ag.mutable_collective()->set_comm_id("c");
  ag.mutable_collective()->set_world_size(2);
  g.output("ag");
  auto v = validate_graph(g.graph(), plan_limits());
  EXPECT_TRUE(absl::StrContains(v.status().message(), "all_gather needs an input of rank >= 1"))
      << v.status();

  GraphBuilder h;
  recv(h, "r", F32, {2});
  h.node("ar", v1::OP_ALL_REDUCE, {"r"}).mutable_collective()->set_comm_id("c");
  h.output("ar");
  const absl::Status no_op = validate_graph(h.graph(), plan_limits()).status();
  EXPECT_TRUE(absl::StrContains(no_op.message(), "collective.op is unspecified")) << no_op;
}

TEST(ListedOrder, MustBeTopological) {
  GraphBuilder g;
  g.node("y", v1::OP_NEG, {"x"});
  g.input("x", F32, {2});
  g.output("y");
  EXPECT_TRUE(validate_graph(g.graph()).ok());
  auto v = validate_graph(g.graph(), plan_limits());
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(v.status().message(), "node 'y' (#0) is listed before its input 'x' (#1)"))
      << v.status();
}

TEST(ExecuteGraph, BorrowsInputsAndHandsOutKeptOutputs) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  // The stored tensor b = [10, 20, 30].
  auto b = device.allocate(12);
  ASSERT_TRUE(b.ok());
  HostTensor bv = tensor(F32, {3}, {10, 20, 30});
  ASSERT_TRUE(device.upload(*b, 0, bv.data(), 12).wait().ok());

  GraphBuilder g;
  g.input("x", F32, {3});
  g.input("b", F32, {3});
  g.node("y", v1::OP_ADD, {"x", "b"});
  g.node("t", v1::OP_SUM, {"y"});
  g.output("y").output("t").output("b");
  ExecuteOptions options;
  options.borrowed["b"] = {*b, TensorType{F32, {3}}};
  options.keep = {"y", "b"};
  auto result = execute_graph(device, g.graph(), {tensor(F32, {3}, {1, 2, 3})}, {"x"}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outputs.size(), 1u);
  EXPECT_EQ(result->output_names, std::vector<std::string>{"t"});
  EXPECT_EQ(values(result->outputs[0]), std::vector<double>{66});
  ASSERT_EQ(result->kept.size(), 2u);
  EXPECT_EQ(result->kept[0].name, "y");
  EXPECT_EQ(result->kept[0].type.str(), "f32[3]");
  // A kept borrowed input is a copy: the stored buffer stays the store's.
  EXPECT_NE(result->kept[1].buffer.id, b->id);
  // Left on the device: the stored b, kept y and the copy of b; nothing else.
  EXPECT_EQ(device.memory_used(), 3 * 12u);
  HostTensor y(TensorType{F32, {3}});
  ASSERT_TRUE(device.download(y.data(), result->kept[0].buffer, 0, 12).wait().ok());
  EXPECT_EQ(values(y), (std::vector<double>{11, 22, 33}));
  for (const KeptOutput& kept : result->kept) device.release(kept.buffer);
  device.release(*b);
  EXPECT_EQ(device.memory_used(), 0u);
}

TEST(ExecuteGraph, BorrowedInputOfAnotherTypeIsRefused) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  auto b = device.allocate(16);
  ASSERT_TRUE(b.ok());
  GraphBuilder g;
  g.input("b", F32, {3});
  g.output("b");
  ExecuteOptions options;
  options.borrowed["b"] = {*b, TensorType{F32, {4}}};
  auto result = execute_graph(device, g.graph(), {}, {}, options);
  EXPECT_EQ(result.status().message(),
            "input 'b' is declared f32[3] but bound to a stored f32[4] tensor");
  device.release(*b);
}

TEST(ExecuteGraph, InternalOpsGoThroughTheHooks) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  GraphBuilder g;
  recv(g, "r", F32, {2});
  g.node("n", v1::OP_NEG, {"r"});
  g.node("s", v1::OP_SEND, {"n"}).mutable_transfer()->set_key("k");
  g.graph().mutable_nodes(2)->mutable_transfer()->mutable_peer()->set_node("node-b");
  g.graph().mutable_nodes(2)->mutable_transfer()->set_peer_address("127.0.0.1:1");
  v1::Node& ar = g.node("ar", v1::OP_ALL_REDUCE, {"s"});
  ar.mutable_collective()->set_comm_id("c");
  ar.mutable_collective()->set_op(v1::REDUCE_OP_SUM);
  v1::Node& ag = g.node("ag", v1::OP_ALL_GATHER, {"ar"});
  ag.mutable_collective()->set_comm_id("c");
  ag.mutable_collective()->set_world_size(2);
  g.output("ag");
  FakeHooks hooks;
  hooks.received = tensor(F32, {2}, {1.5, -2});
  ExecuteOptions options;
  options.limits = plan_limits();
  options.internal = &hooks;
  auto result = execute_graph(device, g.graph(), {}, {}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(hooks.sent.size(), 1u);
  EXPECT_EQ(values(hooks.sent[0]), (std::vector<double>{-1.5, 2}));
  EXPECT_EQ(values(result->outputs[0]), (std::vector<double>{-3, 4, -3, 4}));
  EXPECT_EQ(device.memory_used(), 0u);

  options.internal = nullptr;
  EXPECT_EQ(execute_graph(device, g.graph(), {}, {}, options).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ExecuteGraph, HookFailureNamesTheNodeAndFreesEverything) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  GraphBuilder g;
  g.input("x", F32, {1024});
  g.node("y", v1::OP_NEG, {"x"});
  recv(g, "r", F32, {1024});
  g.node("z", v1::OP_ADD, {"y", "r"});
  g.output("z");
  FakeHooks hooks;
  hooks.recv_error = absl::DeadlineExceededError("nothing arrived");
  ExecuteOptions options;
  options.limits = plan_limits();
  options.internal = &hooks;
  options.keep = {"z"};
  auto result =
      execute_graph(device, g.graph(), {HostTensor(TensorType{F32, {1024}})}, {"x"}, options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(result.status().message(), "node 'r': nothing arrived");
  EXPECT_EQ(device.memory_used(), 0u);
}

TEST(ExecuteGraph, CancellationStopsBetweenNodesAndFreesEverything) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  GraphBuilder g;
  g.input("x", F32, {1024});
  for (int i = 1; i <= 5; ++i)
    g.node("x" + std::to_string(i), v1::OP_NEG, {i == 1 ? "x" : "x" + std::to_string(i - 1)});
  g.output("x5");
  int checks = 0;
  ExecuteOptions options;
  options.keep = {"x5"};
  options.check = [&]() -> absl::Status {
    if (++checks == 4) return absl::CancelledError("cancelled: drain of node-a");
    return absl::OkStatus();
  };
  auto result =
      execute_graph(device, g.graph(), {HostTensor(TensorType{F32, {1024}})}, {"x"}, options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(result.status().message(), "node 'x3': cancelled: drain of node-a");
  EXPECT_EQ(checks, 4);
  EXPECT_EQ(device.memory_used(), 0u);
}

// With a stop flag, `check` runs only once the flag is set; the run then stops naming the
// node it stopped at, and a matmul it reaches is not run (the device sees the flag too).
TEST(ExecuteGraph, AStopFlagIsCheckedOnceSetAndStopsAtTheNodeItReached) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  GraphBuilder g;
  g.input("a", F32, {64, 64});
  g.node("mm", v1::OP_MATMUL, {"a", "a"});
  g.node("y", v1::OP_NEG, {"mm"});
  g.output("y");
  std::atomic<bool> stop{false};
  int checks = 0;
  ExecuteOptions options;
  options.stop = &stop;
  options.check = [&]() -> absl::Status {
    ++checks;
    return stop ? absl::DeadlineExceededError("deadline exceeded: the caller's deadline passed")
                : absl::OkStatus();
  };
  const std::vector<HostTensor> feeds = {HostTensor(TensorType{F32, {64, 64}})};
  ASSERT_TRUE(execute_graph(device, g.graph(), feeds, {"a"}, options).ok());
  EXPECT_EQ(checks, 0) << "check was called while the flag was clear";

  stop = true;
  auto stopped = execute_graph(device, g.graph(), feeds, {"a"}, options);
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(stopped.status().message(),
            "node 'a': deadline exceeded: the caller's deadline passed");
  EXPECT_EQ(device.memory_used(), 0u);
}

// A kernel launched with its stop flag set is not run: its event fails with CANCELLED naming
// the node, and the output is left as it was.
TEST(ExecuteGraph, AKernelWhoseRunStoppedIsNotRun) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  v1::Node node;
  node.set_name("mm");
  node.set_op(v1::OP_MATMUL);
  const TensorType type{F32, {2, 2}};
  std::atomic<bool> stop{true};
  const Kernel kernel{&node, {type, type}, type, &stop};
  Buffer a = *device.allocate(16), out = *device.allocate(16);
  const float ones[] = {1, 1, 1, 1}, zeros[] = {0, 0, 0, 0};
  ASSERT_TRUE(device.upload(a, 0, ones, 16).wait().ok());
  ASSERT_TRUE(device.upload(out, 0, zeros, 16).wait().ok());
  const Buffer inputs[] = {a, a};
  const absl::Status launched = device.launch(kernel, inputs, out).wait();
  EXPECT_EQ(launched.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(launched.message(), "node 'mm': not run, its run was cancelled");
  float result[4] = {9, 9, 9, 9};
  ASSERT_TRUE(device.download(result, out, 0, 16).wait().ok());
  EXPECT_EQ(result[0], 0.0f);
  device.release(a);
  device.release(out);
}

// Cpu kernels check their stop flag at block (unary) or row (binary, matmul) boundaries: with
// the flag already set they stop before their first block and say they were cut short.
TEST(ExecuteGraph, CpuKernelsWhoseRunStoppedAreCutShort) {
  std::atomic<bool> stop{true};
  const TensorType type{F32, {4, 4}};
  const std::vector<float> ones(16, 1.0f);
  const std::byte* one = reinterpret_cast<const std::byte*>(ones.data());
  const std::byte* const inputs[] = {one, one};
  for (v1::OpKind op : {v1::OP_NEG, v1::OP_ADD, v1::OP_MATMUL}) {
    v1::Node node;
    node.set_name("y");
    node.set_op(op);
    const size_t arity = op == v1::OP_NEG ? 1 : 2;
    const Kernel kernel{&node, std::vector<TensorType>(arity, type), type, &stop};
    std::vector<float> out(16, 7.0f);
    const absl::Status status = cpu::run_kernel(kernel, cpu::Inputs(inputs, arity),
                                                reinterpret_cast<std::byte*>(out.data()));
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << op_name(op);
    EXPECT_EQ(status.message(),
              absl::StrCat("node 'y' (", op_name(op), "): cut short, its run was cancelled"));
    EXPECT_EQ(out, std::vector<float>(16, 7.0f)) << op_name(op) << " ran after its run stopped";
  }
}

TEST(ExecuteGraph, KeepMustNameAnOutputOnce) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  GraphBuilder g;
  g.input("x", F32, {2});
  g.node("y", v1::OP_NEG, {"x"});
  g.output("y");
  ExecuteOptions options;
  options.keep = {"x"};
  auto result =
      execute_graph(device, g.graph(), {HostTensor(TensorType{F32, {2}})}, {"x"}, options);
  EXPECT_EQ(result.status().message(), "cannot keep 'x': it is not an output of the graph");
  options.keep = {"y", "y"};
  result = execute_graph(device, g.graph(), {HostTensor(TensorType{F32, {2}})}, {"x"}, options);
  EXPECT_EQ(result.status().message(), "output 'y' is kept twice");
  EXPECT_EQ(device.memory_used(), 0u);
}

}  // namespace
}  // namespace tg::testing
