// Every algorithm x dtype x op x odd count, on world sizes 1-8 laid out over tcp only
// (a daemon per rank), local only (one daemon) and both (two daemons). Inputs are small
// random integers, so every dtype represents every input and result exactly and results are
// compared exactly against a reference reduction; every rank must also end with identical
// bytes.
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>

#include <absl/strings/str_cat.h>
#include <gtest/gtest.h>

#include "collectives/algorithms/algorithm.h"
#include "collectives/pattern.h"
#include "devices/dtype.h"
#include "tests/collectives/world.h"

namespace tg::coll {
namespace {

using tgrack::v1::DType;
using tgrack::v1::ReduceOp;

const DType kDtypes[] = {tgrack::v1::DTYPE_F32, tgrack::v1::DTYPE_F64, tgrack::v1::DTYPE_F16,
                         tgrack::v1::DTYPE_BF16, tgrack::v1::DTYPE_I32, tgrack::v1::DTYPE_I64};
const ReduceOp kOps[] = {tgrack::v1::REDUCE_OP_SUM, tgrack::v1::REDUCE_OP_PROD, tgrack::v1::REDUCE_OP_MIN,
                         tgrack::v1::REDUCE_OP_MAX, tgrack::v1::REDUCE_OP_AVG};
const size_t kCounts[] = {0, 1, 7, 1000, 10001};

// Input element i of `rank` for case `seed`: small integers (prod: +-1, +-2).
double input(uint64_t seed, uint32_t rank, size_t i, ReduceOp op) {
  uint64_t x = (seed * 0x9E3779B97F4A7C15ull) ^ (uint64_t{rank} << 40) ^ (i * 0xBF58476D1CE4E5B9ull);
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  if (op == tgrack::v1::REDUCE_OP_PROD) {
    static const double v[] = {-2, -1, 1, 2};
    return v[x % 4];
  }
  return static_cast<double>(static_cast<int>(x % 9) - 4);
}

double reference(uint64_t seed, uint32_t n, size_t i, ReduceOp op) {
  double acc = input(seed, 0, i, op);
  for (uint32_t r = 1; r < n; ++r) {
    double v = input(seed, r, i, op);
    if (op == tgrack::v1::REDUCE_OP_PROD) acc *= v;
    else if (op == tgrack::v1::REDUCE_OP_MIN) acc = std::min(acc, v);
    else if (op == tgrack::v1::REDUCE_OP_MAX) acc = std::max(acc, v);
    else acc += v;
  }
  return op == tgrack::v1::REDUCE_OP_AVG ? acc / n : acc;
}

uint64_t fnv(const std::byte* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<uint8_t>(p[i])) * 1099511628211ull;
  return h;
}

struct Case {
  std::string name;
  uint64_t seed;
};

enum class Layout { kTcp, kLocal, kMixed };

std::vector<uint32_t> layout(Layout l, uint32_t n) {
  switch (l) {
    case Layout::kTcp: return testing::World::spread(n);
    case Layout::kLocal: return testing::World::together(n);
    default: return testing::World::halves(n);
  }
}

class SweepTest : public ::testing::TestWithParam<std::tuple<Layout, uint32_t>> {};

TEST_P(SweepTest, AllReduceMatchesReferenceExactlyWithIdenticalBytes) {
  const auto [lay, n] = GetParam();
  testing::World world(layout(lay, n));
  const std::vector<std::string> algos = {"ring", "mesh", "halving_doubling", "hierarchical"};
  // hashes[case][rank]
  const size_t cases = algos.size() * std::size(kDtypes) * std::size(kOps) * std::size(kCounts);
  std::vector<std::vector<uint64_t>> hashes(cases, std::vector<uint64_t>(n));
  std::vector<std::string> failures(n);
  auto statuses = world.run(world.spec("sweep"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    size_t c = 0;
    for (const auto& algo : algos) {
      for (DType dtype : kDtypes) {
        for (ReduceOp op : kOps) {
          for (size_t count : kCounts) {
            const uint64_t seed = ++c;
            const size_t es = dtype_size(dtype);
            std::vector<std::byte> in(count * es + 1), out(count * es + 1);
            for (size_t i = 0; i < count; ++i) store_value(dtype, in.data(), i, input(seed, rank, i, op));
            const bool in_place = seed % 2 == 0;
            std::byte* dst = in_place ? in.data() : out.data();
            absl::Status s = comm.all_reduce(dst, in.data(), count, dtype, op, algo);
            if (!s.ok()) return s;
            for (size_t i = 0; i < count; ++i) {
              if (!holds_value(dtype, dst, i, reference(seed, n, i, op))) {
                if (failures[rank].empty()) {
                  failures[rank] = absl::StrCat(algo, " ", std::string(dtype_name(dtype)), " ", reduce_op_name(op), " count ",
                                                count, " element ", i, " in_place ", in_place ? 1 : 0);
                }
                break;
              }
            }
            hashes[seed - 1][rank] = fnv(dst, count * es);
          }
        }
      }
    }
    return absl::OkStatus();
  });
  for (uint32_t r = 0; r < n; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << statuses[r];
    EXPECT_EQ(failures[r], "") << "rank " << r;
  }
  for (size_t c = 0; c < cases; ++c) {
    for (uint32_t r = 1; r < n; ++r) ASSERT_EQ(hashes[c][r], hashes[c][0]) << "case " << c << " rank " << r;
  }
}

TEST_P(SweepTest, ReduceScatterAllGatherBroadcastBarrier) {
  const auto [lay, n] = GetParam();
  testing::World world(layout(lay, n));
  std::vector<std::string> failures(n);
  auto statuses = world.run(world.spec("others"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    uint64_t seed = 1000;
    auto fail = [&](const std::string& what) {
      if (failures[rank].empty()) failures[rank] = what;
    };
    for (const std::string algo : {"ring", "mesh"}) {
      for (DType dtype : kDtypes) {
        const size_t es = dtype_size(dtype);
        for (size_t count : kCounts) {
          const Blocks blocks{count, n};
          for (ReduceOp op : kOps) {
            ++seed;
            std::vector<std::byte> in(count * es + 1), out(count * es + 1);
            for (size_t i = 0; i < count; ++i) store_value(dtype, in.data(), i, input(seed, rank, i, op));
            std::byte* dst = seed % 2 ? out.data() : in.data();
            if (auto s = comm.reduce_scatter(dst, in.data(), count, dtype, op, algo); !s.ok()) return s;
            for (size_t i = blocks.offset(rank); i < blocks.end(rank); ++i) {
              if (!holds_value(dtype, dst, i, reference(seed, n, i, op))) {
                fail(absl::StrCat("reduce_scatter ", algo, " ", std::string(dtype_name(dtype)), " ", reduce_op_name(op), " count ", count));
                break;
              }
            }
          }
          ++seed;
          std::vector<std::byte> out(count * es + 1), mine(blocks.length(rank) * es + 1);
          for (size_t i = blocks.offset(rank); i < blocks.end(rank); ++i) {
            store_value(dtype, mine.data(), i - blocks.offset(rank), input(seed, rank, i, tgrack::v1::REDUCE_OP_SUM));
          }
          if (auto s = comm.all_gather(out.data(), mine.data(), count, dtype, algo); !s.ok()) return s;
          for (uint32_t owner = 0; owner < n; ++owner) {
            for (size_t i = blocks.offset(owner); i < blocks.end(owner); ++i) {
              if (!holds_value(dtype, out.data(), i, input(seed, owner, i, tgrack::v1::REDUCE_OP_SUM))) {
                fail(absl::StrCat("all_gather ", algo, " ", std::string(dtype_name(dtype)), " count ", count, " element ", i));
                break;
              }
            }
          }
        }
      }
    }
    for (const std::string algo : {"tree", "chain"}) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{1001}, size_t{300007}}) {
        const uint32_t root = (count + 1) % n;
        ++seed;
        std::vector<std::byte> data(count * 4 + 1);
        if (rank == root) {
          for (size_t i = 0; i < count; ++i) store_value(tgrack::v1::DTYPE_I32, data.data(), i, input(seed, root, i, tgrack::v1::REDUCE_OP_SUM));
        }
        if (auto s = comm.broadcast(data.data(), count, tgrack::v1::DTYPE_I32, root, algo); !s.ok()) return s;
        for (size_t i = 0; i < count; ++i) {
          if (!holds_value(tgrack::v1::DTYPE_I32, data.data(), i, input(seed, root, i, tgrack::v1::REDUCE_OP_SUM))) {
            fail(absl::StrCat("broadcast ", algo, " count ", count, " root ", root, " element ", i));
            break;
          }
        }
      }
    }
    return comm.barrier();
  });
  for (uint32_t r = 0; r < n; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << statuses[r];
    EXPECT_EQ(failures[r], "") << "rank " << r;
  }
}

// Buffers large enough that the fused last reduce-scatter / first all-gather step of ring
// and halving-doubling cuts blocks into several chunks of unequal size, and into the most
// chunks it allows (a 10 MB block), in and out of place, with AVG finalizing each chunk
// before it is sent on.
class LargeSweepTest : public ::testing::TestWithParam<std::tuple<Layout, uint32_t>> {};

TEST_P(LargeSweepTest, AllReduceInChunksMatchesReference) {
  const auto [lay, n] = GetParam();
  testing::World world(layout(lay, n));
  struct Large {
    const char* algo;
    DType dtype;
    ReduceOp op;
    size_t count;
  };
  const Large cases[] = {{"ring", tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM, 1000003},
                         {"ring", tgrack::v1::DTYPE_F64, tgrack::v1::REDUCE_OP_AVG, 700001},
                         {"halving_doubling", tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_AVG, 1000003},
                         {"halving_doubling", tgrack::v1::DTYPE_I32, tgrack::v1::REDUCE_OP_MAX, 700001},
                         {"ring", tgrack::v1::DTYPE_I32, tgrack::v1::REDUCE_OP_SUM, 5000001}};
  std::vector<std::string> failures(n);
  auto statuses = world.run(world.spec("large"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    uint64_t seed = 1000;
    for (const Large& c : cases) {
      for (const bool in_place : {true, false}) {
        ++seed;
        const size_t es = dtype_size(c.dtype);
        std::vector<std::byte> in(c.count * es), out(c.count * es);
        for (size_t i = 0; i < c.count; ++i) store_value(c.dtype, in.data(), i, input(seed, rank, i, c.op));
        std::byte* dst = in_place ? in.data() : out.data();
        if (absl::Status s = comm.all_reduce(dst, in.data(), c.count, c.dtype, c.op, c.algo); !s.ok()) return s;
        for (size_t i = 0; i < c.count; ++i) {
          if (!holds_value(c.dtype, dst, i, reference(seed, n, i, c.op))) {
            failures[rank] += absl::StrCat(c.algo, " ", std::string(dtype_name(c.dtype)), " ", reduce_op_name(c.op), " count ",
                                           c.count, " in_place ", in_place ? 1 : 0, " element ", i, "; ");
            break;
          }
        }
      }
    }
    return absl::OkStatus();
  });
  for (uint32_t r = 0; r < n; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << statuses[r];
    EXPECT_EQ(failures[r], "") << "rank " << r;
  }
}

std::string layout_name(Layout l) {
  return l == Layout::kTcp ? "Tcp" : l == Layout::kLocal ? "Local" : "TcpAndLocal";
}

INSTANTIATE_TEST_SUITE_P(Worlds, SweepTest,
                         ::testing::Combine(::testing::Values(Layout::kTcp, Layout::kLocal, Layout::kMixed),
                                            ::testing::Range(1u, 9u)),
                         [](const auto& info) {
                           return layout_name(std::get<0>(info.param)) + "_" +
                                  std::to_string(std::get<1>(info.param)) + "ranks";
                         });

INSTANTIATE_TEST_SUITE_P(Worlds, LargeSweepTest,
                         ::testing::Combine(::testing::Values(Layout::kTcp, Layout::kMixed), ::testing::Range(2u, 6u)),
                         [](const auto& info) {
                           return layout_name(std::get<0>(info.param)) + "_" +
                                  std::to_string(std::get<1>(info.param)) + "ranks";
                         });

}  // namespace
}  // namespace tg::coll
