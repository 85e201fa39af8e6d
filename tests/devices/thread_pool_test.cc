#include "devices/cpu/thread_pool.h"

#include <atomic>

#include <gtest/gtest.h>

namespace tg::cpu {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 1000}) {
      for (int repeat = 0; repeat < 20; ++repeat) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(n, [&](int64_t begin, int64_t end) {
          EXPECT_LE(0, begin);
          EXPECT_LE(end, n);
          for (int64_t i = begin; i < end; ++i) ++hits[i];
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << "n=" << n << " i=" << i;
      }
    }
  }
}

}  // namespace
}  // namespace tg::cpu
