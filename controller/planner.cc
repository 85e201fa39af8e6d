#include "controller/planner.h"

#include <algorithm>
#include <optional>
#include <set>

#include <absl/strings/str_cat.h>

#include "controller/placement.h"
#include "devices/graph/type_rules.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using Kind = Layout::Kind;

std::string name_of(const v1::DeviceRef& d) { return device_name(d.node(), d.index()); }

int64_t product(const Shape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

// How a node runs over sharded inputs: per shard with the result sharded along out_axis,
// or per shard with partial results combined (reduce).
struct ShardRule {
  bool reduce = false;
  int out_axis = 0;
  // Per input: the axis along which a whole operand is cut into the shards' parts; -1 = none.
  std::vector<int> slice_axis;
};
ShardRule per_shard(int out_axis) { return ShardRule{false, out_axis, {}}; }
ShardRule reduced() { return ShardRule{true, 0, {}}; }

class Planner {
 public:
  Planner(const v1::Graph& graph, const ValidatedGraph& validated, const v1::Placement& placement,
          const PlanOptions& options)
      : graph_(graph), validated_(validated), placement_(placement), options_(options) {}

  absl::StatusOr<Plan> run();

 private:
  struct Value {
    const v1::Node* node = nullptr;
    TensorType type;
    Layout layout;
  };

  absl::Status error(const v1::Node& node, const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("node '", node.name(), "' (", op_name(node.op()), "): ", what));
  }

  int fragment(const v1::DeviceRef& device);
  void emit(const v1::DeviceRef& device, v1::Node node);
  absl::StatusOr<v1::DeviceRef> default_device();
  absl::StatusOr<std::string> whole_on(const std::string& name, const v1::DeviceRef& device);
  absl::StatusOr<std::string> communicator(const std::vector<v1::DeviceRef>& devices);

  absl::Status plan_input(const v1::Node& node);
  absl::Status plan_node(const v1::Node& node);
  absl::Status plan_whole(const v1::Node& node, const std::vector<v1::DeviceRef>& devices);
  absl::Status plan_sharded(const v1::Node& node, const Layout& group);
  absl::Status plan_combine(const v1::Node& node, const Layout& group);
  absl::StatusOr<ShardRule> shard_rule(const v1::Node& node, const Layout& group) const;
  absl::StatusOr<PlannedValue> planned(const std::string& name);
  // The physical name of input `i` of `node` for shard `s` of `group` on `device`.
  absl::StatusOr<std::string> shard_input(const v1::Node& node, int i, const ShardRule& rule,
                                          const Layout& group, int s, const v1::DeviceRef& device);

  // A copy of `node` for one device: no placement or sharding, renamed.
  static v1::Node copy_of(const v1::Node& node, const std::string& name) {
    v1::Node copy = node;
    copy.set_name(name);
    copy.clear_placement();
    copy.clear_sharding();
    return copy;
  }
  static std::string shard_name(const std::string& name, int shard) {
    return absl::StrCat(name, "#", shard);
  }

  const v1::Graph& graph_;
  const ValidatedGraph& validated_;
  const v1::Placement& placement_;
  const PlanOptions& options_;
  Plan plan_;
  std::map<std::string, Value> values_;
  std::set<std::pair<std::string, std::string>> present_;  // (value, device) held whole.
  std::vector<std::set<std::string>> fragment_outputs_;
  std::optional<v1::DeviceRef> default_device_;
};

int Planner::fragment(const v1::DeviceRef& device) {
  for (size_t i = 0; i < plan_.devices.size(); ++i) {
    if (same_device(plan_.devices[i], device)) return static_cast<int>(i);
  }
  plan_.devices.push_back(device);
  plan_.fragments.emplace_back();
  fragment_outputs_.emplace_back();
  return static_cast<int>(plan_.devices.size()) - 1;
}

void Planner::emit(const v1::DeviceRef& device, v1::Node node) {
  *plan_.fragments[fragment(device)].add_nodes() = std::move(node);
}

absl::StatusOr<v1::DeviceRef> Planner::default_device() {
  if (!default_device_) {
    auto device = options_.place(placement_);
    if (!device.ok()) return device.status();
    default_device_ = *device;
  }
  return *default_device_;
}

absl::StatusOr<std::string> Planner::communicator(const std::vector<v1::DeviceRef>& devices) {
  auto id = options_.communicator(devices);
  if (!id.ok()) return id.status();
  if (std::find(plan_.comm_ids.begin(), plan_.comm_ids.end(), *id) == plan_.comm_ids.end()) {
    plan_.comm_ids.push_back(*id);
  }
  return *id;
}

absl::StatusOr<std::string> Planner::whole_on(const std::string& name, const v1::DeviceRef& device) {
  const auto key = std::make_pair(name, name_of(device));
  if (present_.contains(key)) return name;
  const Value& value = values_.at(name);
  if (value.layout.kind == Kind::kConstant) {
    // Constants, and values computed from constants only, are recomputed where needed.
    v1::Node copy = copy_of(*value.node, name);
    for (int i = 0; i < copy.inputs_size(); ++i) {
      auto input = whole_on(copy.inputs(i), device);
      if (!input.ok()) return input.status();
      copy.set_inputs(i, *input);
    }
    emit(device, std::move(copy));
  } else if (value.layout.kind == Kind::kSharded) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value '", name, "' is ", value.layout.str(), " but is needed whole on ", name_of(device),
        "; reduce it over the sharded axis first, or feed it whole"));
  } else {
    const v1::DeviceRef& from = value.layout.devices.front();
    const std::string key_name = absl::StrCat(name, "->", name_of(device));
    v1::Node send;
    send.set_name(key_name);
    send.set_op(v1::OP_SEND);
    send.add_inputs(name);
    send.mutable_transfer()->set_key(key_name);
    *send.mutable_transfer()->mutable_peer() = device;
    send.mutable_transfer()->set_peer_address(options_.address_of(device.node()));
    emit(from, std::move(send));
    v1::Node recv;
    recv.set_name(name);
    recv.set_op(v1::OP_RECV);
    recv.set_dtype(value.type.dtype);
    for (int64_t d : value.type.shape) recv.add_shape(d);
    recv.mutable_transfer()->set_key(key_name);
    *recv.mutable_transfer()->mutable_peer() = from;
    emit(device, std::move(recv));
  }
  present_.insert(key);
  return name;
}

absl::Status Planner::plan_input(const v1::Node& node) {
  Value& value = values_[node.name()];
  const int rank = static_cast<int>(value.type.shape.size());
  std::optional<Layout> declared;
  if (node.sharding().devices_size() > 0) {
    auto layout = Layout::from_sharding(node.sharding(), rank);
    if (!layout.ok()) return error(node, std::string(layout.status().message()));
    declared = *layout;
  }
  if (auto fed = options_.input_layouts.find(node.name()); fed != options_.input_layouts.end()) {
    if (declared && !(*declared == fed->second)) {
      return error(node, absl::StrCat("declared ", declared->str(), " but the remote tensor "
                                      "feeding it is ", fed->second.str()));
    }
    declared = fed->second;
  }
  if (!declared) {
    Layout single;
    if (node.has_placement()) {
      auto device = options_.place(node.placement());
      if (!device.ok()) return device.status();
      single.devices = {*device};
    } else {
      auto device = default_device();
      if (!device.ok()) return device.status();
      single.devices = {*device};
    }
    declared = single;
  }
  value.layout = *declared;
  const Layout& layout = value.layout;
  if (layout.kind == Kind::kSharded) {
    const int64_t length = value.type.shape[layout.axis];
    if (length % layout.shards != 0) {
      return error(node, absl::StrCat("axis ", layout.axis, " of length ", length,
                                      " does not split into ", layout.shards, " equal shards"));
    }
    for (int s = 0; s < layout.shards; ++s) {
      v1::Node shard = copy_of(node, shard_name(node.name(), s));
      shard.set_shape(layout.axis, length / layout.shards);
      emit(layout.device_of_piece(s), std::move(shard));
    }
    return absl::OkStatus();
  }
  for (const v1::DeviceRef& device : layout.devices) {
    emit(device, copy_of(node, node.name()));
    present_.insert({node.name(), name_of(device)});
  }
  return absl::OkStatus();
}

absl::Status Planner::plan_node(const v1::Node& node) {
  Value& value = values_[node.name()];
  const bool from_constants =
      std::all_of(node.inputs().begin(), node.inputs().end(), [&](const std::string& in) {
        return values_.at(in).layout.kind == Kind::kConstant;
      });
  if (node.op() == v1::OP_CONSTANT || (from_constants && !node.has_placement())) {
    value.layout.kind = Kind::kConstant;
    return absl::OkStatus();
  }
  // The device group of the Replicated and Sharded inputs, which must agree.
  std::optional<Layout> group;
  for (const std::string& in : node.inputs()) {
    const Layout& layout = values_.at(in).layout;
    if (layout.kind != Kind::kReplicated && layout.kind != Kind::kSharded) continue;
    if (!group) {
      group = layout;
      continue;
    }
    if (layout.devices.size() != group->devices.size() ||
        !std::equal(layout.devices.begin(), layout.devices.end(), group->devices.begin(),
                    same_device)) {
      return error(node, absl::StrCat("its inputs live on different devices: ",
                                      devices_str(group->devices), " and ",
                                      devices_str(layout.devices), " (input '", in, "')"));
    }
    if (layout.kind == Kind::kSharded) {
      if (group->kind == Kind::kSharded && group->shards != layout.shards) {
        return error(node, absl::StrCat("its inputs have different shard counts: ",
                                        group->shards, " and ", layout.shards, " (input '", in,
                                        "')"));
      }
      group = layout;
    }
  }
  if (!group) {
    v1::DeviceRef device;
    if (node.has_placement()) {
      auto placed = options_.place(node.placement());
      if (!placed.ok()) return placed.status();
      device = *placed;
    } else {
      auto first_single = std::find_if(node.inputs().begin(), node.inputs().end(),
                                       [&](const std::string& in) {
                                         return values_.at(in).layout.kind == Kind::kSingle;
                                       });
      if (first_single != node.inputs().end()) {
        device = values_.at(*first_single).layout.devices.front();
      } else {
        auto placed = default_device();
        if (!placed.ok()) return placed.status();
        device = *placed;
      }
    }
    value.layout.kind = Kind::kSingle;
    value.layout.devices = {device};
    return plan_whole(node, value.layout.devices);
  }
  if (node.has_placement()) {
    return error(node, absl::StrCat("it asks for a placement, but its inputs live on ",
                                    group->str(), "; drop the placement"));
  }
  if (group->kind == Kind::kReplicated) {
    value.layout.kind = Kind::kReplicated;
    value.layout.devices = group->devices;
    return plan_whole(node, group->devices);
  }
  return plan_sharded(node, *group);
}

absl::Status Planner::plan_whole(const v1::Node& node, const std::vector<v1::DeviceRef>& devices) {
  for (const v1::DeviceRef& device : devices) {
    v1::Node copy = copy_of(node, node.name());
    for (int i = 0; i < node.inputs_size(); ++i) {
      auto name = whole_on(node.inputs(i), device);
      if (!name.ok()) return error(node, std::string(name.status().message()));
      copy.set_inputs(i, *name);
    }
    emit(device, std::move(copy));
    present_.insert({node.name(), name_of(device)});
  }
  return absl::OkStatus();
}

absl::Status Planner::plan_sharded(const v1::Node& node, const Layout& group) {
  auto rule = shard_rule(node, group);
  if (!rule.ok()) return rule.status();
  Value& value = values_[node.name()];
  if (rule->reduce) {
    // Each shard's partial result, then the combination; one shard on one device is
    // already the result.
    const bool direct = group.shards == 1 && !options_.deterministic && node.op() != v1::OP_MEAN;
    for (int s = 0; s < group.shards; ++s) {
      const v1::DeviceRef& device = group.device_of_piece(s);
      v1::Node part = copy_of(node, direct ? node.name() : shard_name(node.name(), s) + "/part");
      if (node.op() == v1::OP_MEAN) part.set_op(v1::OP_SUM);
      for (int i = 0; i < node.inputs_size(); ++i) {
        auto name = shard_input(node, i, *rule, group, s, device);
        if (!name.ok()) return name.status();
        part.set_inputs(i, *name);
      }
      emit(device, std::move(part));
    }
    value.layout.kind = Kind::kReplicated;
    value.layout.devices = group.devices;
    if (direct) {
      present_.insert({node.name(), name_of(group.devices.front())});
      return absl::OkStatus();
    }
    return plan_combine(node, group);
  }

  value.layout = group;
  value.layout.axis = rule->out_axis;
  const Shape& whole = value.type.shape;
  for (int s = 0; s < group.shards; ++s) {
    const v1::DeviceRef& device = group.device_of_piece(s);
    v1::Node shard = copy_of(node, shard_name(node.name(), s));
    for (int i = 0; i < node.inputs_size(); ++i) {
      auto name = shard_input(node, i, *rule, group, s, device);
      if (!name.ok()) return name.status();
      shard.set_inputs(i, *name);
    }
    if (node.op() == v1::OP_RESHAPE || node.op() == v1::OP_EXPAND) {
      shard.clear_shape();
      for (size_t d = 0; d < whole.size(); ++d) {
        shard.add_shape(static_cast<int>(d) == rule->out_axis ? whole[d] / group.shards : whole[d]);
      }
    }
    emit(device, std::move(shard));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Planner::shard_input(const v1::Node& node, int i,
                                                const ShardRule& rule, const Layout& group, int s,
                                                const v1::DeviceRef& device) {
  const std::string& in = node.inputs(i);
  if (values_.at(in).layout.kind == Kind::kSharded) return shard_name(in, s);
  auto whole = whole_on(in, device);
  if (!whole.ok()) return error(node, std::string(whole.status().message()));
  const int axis = rule.slice_axis.empty() ? -1 : rule.slice_axis[i];
  if (axis < 0) return *whole;
  const std::string part = shard_name(in, s) + "/part_of_whole";
  if (present_.insert({part, name_of(device)}).second) {
    const Shape& shape = values_.at(in).type.shape;
    const int64_t length = shape[axis] / group.shards;
    v1::Node slice;
    slice.set_name(part);
    slice.set_op(v1::OP_SLICE);
    slice.add_inputs(*whole);
    for (size_t d = 0; d < shape.size(); ++d) {
      const bool cut = static_cast<int>(d) == axis;
      slice.add_starts(cut ? s * length : 0);
      slice.add_ends(cut ? (s + 1) * length : shape[d]);
    }
    emit(device, std::move(slice));
  }
  return part;
}

// Combines the per-shard partials "<name>#<s>/part" into "<name>" on every device.
absl::Status Planner::plan_combine(const v1::Node& node, const Layout& group) {
  const std::string& name = node.name();
  const TensorType& type = values_.at(name).type;
  v1::OpKind local_op = v1::OP_ADD;
  v1::OpKind stack_op = v1::OP_SUM;
  v1::ReduceOp reduce_op = v1::REDUCE_OP_SUM;
  if (node.op() == v1::OP_REDUCE_MAX) {
    local_op = v1::OP_MAX, stack_op = v1::OP_REDUCE_MAX, reduce_op = v1::REDUCE_OP_MAX;
  } else if (node.op() == v1::OP_REDUCE_MIN) {
    local_op = v1::OP_MIN, stack_op = v1::OP_REDUCE_MIN, reduce_op = v1::REDUCE_OP_MIN;
  }
  const bool mean = node.op() == v1::OP_MEAN;
  const int world = static_cast<int>(group.devices.size());
  const int per_device = group.shards / world;
  std::string comm_id;
  if (world > 1) {
    auto id = communicator(group.devices);
    if (!id.ok()) return id.status();
    comm_id = *id;
  }
  int64_t count = 1;  // Elements averaged by a mean.
  if (mean) {
    const Shape& in_shape = values_.at(node.inputs(0)).type.shape;
    auto axes = reduction_axes(node, static_cast<int>(in_shape.size()));
    if (!axes.ok()) return error(node, std::string(axes.status().message()));
    for (int a : *axes) count *= in_shape[a];
  }

  for (int d = 0; d < world; ++d) {
    const v1::DeviceRef& device = group.devices[d];
    // Steps are named "<name>/<step>" except the last, which is "<name>".
    std::vector<v1::Node> steps;
    auto step = [&](v1::OpKind op, const std::string& suffix, std::vector<std::string> inputs) {
      v1::Node n;
      n.set_name(name + "/" + suffix);
      n.set_op(op);
      for (std::string& in : inputs) n.add_inputs(std::move(in));
      steps.push_back(std::move(n));
      return &steps.back();
    };
    auto last = [&](const std::string& fallback) {
      return steps.empty() ? fallback : steps.back().name();
    };
    const std::string first_part = shard_name(name, d * per_device) + "/part";
    if (!options_.deterministic) {
      std::string acc = first_part;
      for (int k = 1; k < per_device; ++k) {
        acc = step(local_op, absl::StrCat("local", k),
                   {acc, shard_name(name, d * per_device + k) + "/part"})->name();
      }
      if (world > 1) {
        // The collectives reduce numbers: a bool max/min (or/and) travels as i32 0/1.
        const bool as_i32 = type.dtype == v1::DTYPE_BOOL;
        if (as_i32) {
          v1::Node* widen = step(v1::OP_CAST, "as_i32", {acc});
          widen->set_dtype(v1::DTYPE_I32);
          acc = widen->name();
        }
        v1::Node* all = step(v1::OP_ALL_REDUCE, "all_reduce", {acc});
        all->mutable_collective()->set_comm_id(comm_id);
        all->mutable_collective()->set_op(reduce_op);
        if (as_i32) step(v1::OP_CAST, "as_bool", {all->name()})->set_dtype(v1::DTYPE_BOOL);
      }
    } else {
      std::vector<std::string> rows;
      for (int k = 0; k < per_device; ++k) {
        const int s = d * per_device + k;
        v1::Node* row = step(v1::OP_RESHAPE, absl::StrCat("row", s),
                             {shard_name(name, s) + "/part"});
        row->add_shape(1);
        for (int64_t dim : type.shape) row->add_shape(dim);
        rows.push_back(row->name());
      }
      std::string stack = rows.front();
      if (per_device > 1) {
        v1::Node* concat = step(v1::OP_CONCAT, "stack", rows);
        concat->set_axis(0);
        stack = concat->name();
      }
      if (world > 1) {
        v1::Node* gather = step(v1::OP_ALL_GATHER, "all_gather", {stack});
        gather->mutable_collective()->set_comm_id(comm_id);
        gather->mutable_collective()->set_world_size(static_cast<uint32_t>(world));
        stack = gather->name();
      }
      step(stack_op, "ordered", {stack})->add_axes(0);
    }
    if (mean) {
      const std::string total = last(first_part);
      v1::Node count_node;
      count_node.set_name(name + "/count");
      count_node.set_op(v1::OP_CONSTANT);
      // f64 divides in f64; f32, f16 and bf16 divide in f32 (an f16 count could be inexact
      // or infinite), and f16 and bf16 round the quotient once to their dtype.
      if (type.dtype == v1::DTYPE_F64) {
        HostTensor scalar(TensorType{v1::DTYPE_F64, {}});
        scalar.values<double>()[0] = static_cast<double>(count);
        *count_node.mutable_value() = scalar.to_proto();
      } else {
        HostTensor scalar(TensorType{v1::DTYPE_F32, {}});
        scalar.values<float>()[0] = static_cast<float>(count);
        *count_node.mutable_value() = scalar.to_proto();
      }
      const std::string divisor = count_node.name();
      emit(device, std::move(count_node));
      const std::string quotient = step(v1::OP_DIV, "mean", {total, divisor})->name();
      if (type.dtype != v1::DTYPE_F64 && type.dtype != v1::DTYPE_F32) {
        step(v1::OP_CAST, "mean_cast", {quotient})->set_dtype(type.dtype);
      }
    }
    steps.back().set_name(name);
    for (v1::Node& n : steps) emit(device, std::move(n));
    present_.insert({name, name_of(device)});
  }
  return absl::OkStatus();
}

absl::StatusOr<ShardRule> Planner::shard_rule(const v1::Node& node, const Layout& group) const {
  const TensorType& out = values_.at(node.name()).type;
  const int r = static_cast<int>(out.shape.size());
  std::vector<const Value*> in;
  for (const std::string& name : node.inputs()) in.push_back(&values_.at(name));
  auto rank = [&](size_t i) { return static_cast<int>(in[i]->type.shape.size()); };
  auto sharded = [&](size_t i) { return in[i]->layout.kind == Kind::kSharded; };
  const v1::OpKind op = node.op();

  if (is_unary_op(op) || is_binary_op(op) || op == v1::OP_WHERE || op == v1::OP_CAST) {
    int out_axis = -1;
    for (size_t i = 0; i < in.size(); ++i) {
      if (!sharded(i)) continue;
      const int axis = in[i]->layout.axis + (r - rank(i));
      if (out_axis >= 0 && axis != out_axis) {
        return error(node, "its inputs are sharded along different axes");
      }
      out_axis = axis;
    }
    ShardRule rule{false, out_axis, std::vector<int>(in.size(), -1)};
    for (size_t i = 0; i < in.size(); ++i) {
      const int j = out_axis - (r - rank(i));
      if (!sharded(i) && j >= 0 && in[i]->type.shape[j] != 1) {
        // A whole operand spanning the sharded axis: each shard reads its own part of it.
        rule.slice_axis[i] = j;
      }
    }
    return rule;
  }
  const int a = in[0]->layout.axis;
  if (is_reduction_op(op)) {
    auto axes = reduction_axes(node, rank(0));
    if (!axes.ok()) return error(node, std::string(axes.status().message()));
    if (std::find(axes->begin(), axes->end(), a) != axes->end()) return reduced();
    const int before = static_cast<int>(std::count_if(axes->begin(), axes->end(),
                                                      [&](int x) { return x < a; }));
    return per_shard(node.keepdims() ? a : a - before);
  }
  switch (op) {
    case v1::OP_MATMUL: {
      const int ra = rank(0), rb = rank(1);
      const bool sa = sharded(0), sb = sharded(1);
      const int xa = sa ? in[0]->layout.axis : -1, yb = sb ? in[1]->layout.axis : -1;
      if (sa && sb && xa == ra - 1 && yb == rb - 2) return reduced();
      if (sa && !sb && xa == ra - 2) return per_shard(r - 2);
      if (sb && !sa && yb == rb - 1) return per_shard(r - 1);
      // Batch dims: both sharded along the same output axis, or one sharded and the other
      // broadcast along it.
      const int oa = sa ? xa + (r - ra) : yb + (r - rb);
      const bool batch_a = !sa || xa < ra - 2, batch_b = !sb || yb < rb - 2;
      if (batch_a && batch_b && oa < r - 2) {
        const int ja = oa - (r - ra), jb = oa - (r - rb);
        const bool fits_a = sa ? xa + (r - ra) == oa : (ja < 0 || in[0]->type.shape[ja] == 1);
        const bool fits_b = sb ? yb + (r - rb) == oa : (jb < 0 || in[1]->type.shape[jb] == 1);
        if (fits_a && fits_b) return per_shard(oa);
      }
      return error(node, "shard the rows of the left operand, the columns of the right one, "
                         "the contracted axis of both, or a batch axis");
    }
    case v1::OP_PERMUTE:
      for (int j = 0; j < node.axes_size(); ++j) {
        if (node.axes(j) == a || node.axes(j) == a - rank(0)) return per_shard(j);
      }
      break;
    case v1::OP_RESHAPE: {
      const Shape& s = in[0]->type.shape;
      for (int j = 0; j < r; ++j) {
        if (product(s, 0, a) == product(out.shape, 0, j) && s[a] == out.shape[j]) {
          return per_shard(j);
        }
      }
      return error(node, absl::StrCat("the reshape does not keep axis ", a, " (length ", s[a],
                                      "), along which its input is sharded"));
    }
    case v1::OP_EXPAND:
      return per_shard(a + (r - rank(0)));
    case v1::OP_SLICE: {
      auto dims = slice_dims(node, in[0]->type.shape);
      if (!dims.ok()) return error(node, std::string(dims.status().message()));
      const SliceDim& d = (*dims)[a];
      if (d.start == 0 && d.step == 1 && d.size == in[0]->type.shape[a]) return per_shard(a);
      return error(node, absl::StrCat("it slices axis ", a, ", along which its input is sharded"));
    }
    case v1::OP_PAD: {
      const bool before = a < node.pad_before_size() && node.pad_before(a) != 0;
      const bool after = a < node.pad_after_size() && node.pad_after(a) != 0;
      if (!before && !after) return per_shard(a);
      return error(node, absl::StrCat("it pads axis ", a, ", along which its input is sharded"));
    }
    case v1::OP_CONCAT: {
      auto axis = concat_axis(node, rank(0));
      if (!axis.ok()) return error(node, std::string(axis.status().message()));
      for (size_t i = 0; i < in.size(); ++i) {
        if (!sharded(i) || in[i]->layout.axis != a) {
          return error(node, absl::StrCat("input '", node.inputs(i), "' is not sharded like '",
                                          node.inputs(0), "'"));
        }
      }
      if (*axis != a) return per_shard(a);
      return error(node, absl::StrCat("it concatenates along axis ", a,
                                      ", along which its inputs are sharded"));
    }
    default:
      break;
  }
  return error(node, absl::StrCat("it cannot run on ", group.str()));
}

absl::StatusOr<PlannedValue> Planner::planned(const std::string& name) {
  Value& value = values_.at(name);
  if (value.layout.kind == Kind::kConstant) {
    auto device = default_device();
    if (!device.ok()) return device.status();
    if (auto placed = whole_on(name, *device); !placed.ok()) return placed.status();
    value.layout.kind = Kind::kSingle;
    value.layout.devices = {*device};
  }
  PlannedValue out{name, value.type, value.layout, {}};
  for (int i = 0; i < value.layout.pieces(); ++i) {
    const bool shard = value.layout.kind == Kind::kSharded;
    out.pieces.push_back(
        PlannedPiece{value.layout.device_of_piece(i), shard ? shard_name(name, i) : name, i});
  }
  return out;
}

absl::StatusOr<Plan> Planner::run() {
  for (const v1::Node& node : graph_.nodes()) {
    values_[node.name()] = Value{&node, validated_.types.at(node.name()), Layout{}};
  }
  for (int index : validated_.order) {
    const v1::Node& node = graph_.nodes(index);
    absl::Status status = node.op() == v1::OP_INPUT ? plan_input(node) : plan_node(node);
    if (!status.ok()) return status;
  }
  for (const std::string& name : graph_.outputs()) {
    auto value = planned(name);
    if (!value.ok()) return value.status();
    for (const PlannedPiece& piece : value->pieces) {
      const int f = fragment(piece.device);
      if (fragment_outputs_[f].insert(piece.node).second) {
        plan_.fragments[f].add_outputs(piece.node);
      }
    }
    plan_.outputs.push_back(std::move(*value));
  }
  for (const v1::Node& node : graph_.nodes()) {
    if (node.op() != v1::OP_INPUT) continue;
    auto value = planned(node.name());
    if (!value.ok()) return value.status();
    plan_.inputs.push_back(std::move(*value));
  }
  return std::move(plan_);
}

}  // namespace

absl::StatusOr<Plan> plan_graph(const v1::Graph& graph, const ValidatedGraph& validated,
                                const v1::Placement& placement, const PlanOptions& options) {
  return Planner(graph, validated, placement, options).run();
}

}  // namespace tg
