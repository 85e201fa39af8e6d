// The differential test's case generator: from a seed, a small random graph over one op of
// the IR (every op and dtype, f16 and bf16 included), with broadcasting, 0-sized and
// size-1 dims, special values (NaN, ±inf, ±0, the largest and smallest floats, the extremes
// of each integer type) in its inputs, sometimes followed by a movement op. The same seed
// always gives the same case, so a failure replays from its seed alone.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "devices/tensor.h"
#include "tgrack/v1/graph.pb.h"

namespace tg::differential {

struct Case {
  uint64_t seed = 0;
  tgrack::v1::Graph graph;  // Inputs without sharding: as such it runs on one device.
  std::map<std::string, HostTensor> feeds;
  std::string summary;  // The op and its inputs' types, e.g. "OP_ADD(f16[2,3], i64[3])".
  // The sharded run: `sharded_input`, and every input of its rank and dim 0, split along
  // axis 0 into `shards` over `devices`, every other input replicated on them. Empty
  // `sharded_input` when no input can be split.
  std::string sharded_input;
  std::vector<tgrack::v1::DeviceRef> devices;
  int shards = 0;
};

// `nodes` names the daemons whose devices 0 and 1 a sharded run may use (two of them).
Case generate_case(uint64_t seed, const std::vector<std::string>& nodes);

// The case's graph with its inputs laid out for the sharded run.
tgrack::v1::Graph sharded_graph(const Case& c);

}  // namespace tg::differential
