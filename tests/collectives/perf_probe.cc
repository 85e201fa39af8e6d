// Not a test: times all-reduce in this process (ranks as threads over loopback tcp or local
// copies) to tune the transports without daemons in the way.
//   collectives_perf_probe RANKS tcp|local BYTES ITERS [ALGO]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tests/collectives/world.h"

int main(int argc, char** argv) {
  using namespace tg::coll;
  if (argc < 5) return 2;
  const uint32_t n = std::atoi(argv[1]);
  const bool tcp = std::string(argv[2]) == "tcp";
  const size_t bytes = std::atoll(argv[3]);
  const int iters = std::atoi(argv[4]);
  const std::string algo = argc > 5 ? argv[5] : "";
  testing::World world(tcp ? testing::World::spread(n) : testing::World::together(n), 10000);
  std::vector<double> secs(n);
  auto st = world.run(world.spec("perf"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    std::vector<float> in(bytes / 4, 1.0f), out(bytes / 4);
    auto* i = reinterpret_cast<std::byte*>(in.data());
    auto* o = reinterpret_cast<std::byte*>(out.data());
    for (int w = 0; w < 3; ++w) {
      if (auto s = comm.all_reduce(o, i, in.size(), tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM, algo); !s.ok()) return s;
    }
    if (auto s = comm.barrier(); !s.ok()) return s;
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < iters; ++k) {
      if (auto s = comm.all_reduce(o, i, in.size(), tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM, algo); !s.ok()) return s;
    }
    secs[rank] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    return absl::OkStatus();
  });
  for (auto& s : st) {
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  double t = 0;
  for (double s : secs) t = std::max(t, s);
  std::printf("n=%u %s bytes=%zu time=%.2fus busbw=%.3f GB/s\n", n, argv[2], bytes, t * 1e6,
              bytes / t / 1e9 * 2 * (n - 1) / n);
  return 0;
}
