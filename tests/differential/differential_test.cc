// Differential test: random graphs (generator.h) run on a real pool — a controller and two
// daemons with two cpu devices each — on one device, sharded over 2–4 devices of both
// daemons, and sharded in the deterministic mode, each compared with the reference
// evaluator (reference.h) by compare.h.
//
// TGRACK_DIFF_CASES sets the number of cases (default 300), TGRACK_DIFF_SEED the first
// case's seed (default: fresh from the clock); case i uses seed + i. A failure prints the
// command that replays that case alone. TGRACK_DIFF_VERBOSE=1 prints every case and result.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "compare.h"
#include "generator.h"
#include "pool.h"
#include "reference.h"

namespace tg::differential {
namespace {

namespace v1 = tgrack::v1;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

// "OP_ADD(f16[2,3], i64[3])" -> "OP_ADD(f16, i64)": failures of one op and dtypes count once.
std::string without_shapes(const std::string& summary) {
  std::string out;
  bool in_shape = false;
  for (char ch : summary) {
    if (ch == '[') in_shape = true;
    if (!in_shape) out += ch;
    if (ch == ']') in_shape = false;
  }
  return out;
}

enum class Mode { kOneDevice, kSharded, kDeterministic };

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kOneDevice: return "one device";
    case Mode::kSharded: return "sharded";
    default: return "sharded, deterministic";
  }
}

// The run-time failures a graph may have; a sharded run refused for any other
// INVALID_ARGUMENT is a layout the planner does not support (it names the node).
bool is_run_time_failure(const std::string& message) {
  for (const char* fragment : {"division by zero", "negative integer power", "over empty axis"}) {
    if (message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

// Empty when the pool's answer for `mode` agrees with the reference's; else what differs.
// A refused sharded run is counted in `refusals` by its message's gist.
std::string check(const absl::StatusOr<std::vector<RefTensor>>& expected,
                  const absl::StatusOr<RunResult>& actual, const Case& c, Mode mode,
                  std::map<std::string, int>& refusals) {
  const bool sharded = mode != Mode::kOneDevice;
  if (!actual.ok()) {
    const std::string message(actual.status().message());
    const bool invalid = actual.status().code() == absl::StatusCode::kInvalidArgument;
    if (!expected.ok()) {
      const std::string wanted(expected.status().message());
      const std::string fragment = wanted.substr(wanted.find("' ") + 2);
      if (invalid && message.find(fragment) != std::string::npos) return "";
    }
    const size_t gist = message.find("): ");
    if (sharded && invalid && gist != std::string::npos && !is_run_time_failure(message)) {
      ++refusals[message.substr(gist + 3, 40)];
      return "";
    }
    return "failed: " + actual.status().ToString() +
           (expected.ok() ? "" : "; expected " + expected.status().ToString());
  }
  if (!expected.ok()) return "succeeded; expected " + expected.status().ToString();
  if (actual->outputs.size() != expected->size()) return "wrong number of outputs";
  const int partials = sharded ? c.shards : 0;
  for (size_t i = 0; i < expected->size(); ++i) {
    const std::string diff = compare((*expected)[i], actual->outputs[i], partials);
    if (!diff.empty()) return diff;
  }
  return "";
}

TEST(Differential, PoolAgreesWithTheReference) {
  const uint64_t cases = env_or("TGRACK_DIFF_CASES", 300);
  const uint64_t first = env_or(
      "TGRACK_DIFF_SEED",
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1000000007);
  std::cout << "differential: " << cases << " cases from TGRACK_DIFF_SEED=" << first << "\n";
  testing::Pool pool;
  ASSERT_TRUE(pool.start_default().ok());
  const std::vector<std::string> nodes = {"node-a", "node-b"};
  const bool verbose = env_or("TGRACK_DIFF_VERBOSE", 0) != 0;

  std::map<std::string, int> failures;  // By op, dtypes and mode: the distinct failures.
  std::map<std::string, int> refusals;  // Sharded runs the planner refused, by message.
  int runs = 0, printed = 0;
  for (uint64_t i = 0; i < cases; ++i) {
    const Case c = generate_case(first + i, nodes);
    const auto expected = evaluate(c.graph, c.feeds);
    for (Mode mode : {Mode::kOneDevice, Mode::kSharded, Mode::kDeterministic}) {
      RunOptions options;
      options.deterministic = mode == Mode::kDeterministic;
      const v1::Graph graph = mode == Mode::kOneDevice ? c.graph : sharded_graph(c);
      const auto actual = pool.client().run(graph, c.feeds, options);
      ++runs;
      const std::string diff = check(expected, actual, c, mode, refusals);
      if (verbose) {
        std::cout << c.seed << " " << c.summary << ", " << mode_name(mode) << ": "
                  << (actual.ok() ? actual->outputs[0].type().str() : actual.status().ToString())
                  << (expected.ok() ? "" : " (expected " + expected.status().ToString() + ")")
                  << (diff.empty() ? "" : " MISMATCH " + diff) << "\n";
      }
      if (diff.empty()) continue;
      const std::string key = without_shapes(c.summary) + " " + mode_name(mode);
      if (failures[key]++ == 0 && printed++ < 40) {
        ADD_FAILURE() << c.summary << ", " << mode_name(mode) << " (" << c.devices.size()
                      << " devices, " << c.shards << " shards of " << c.sharded_input
                      << "): " << diff << "\n  replay: TGRACK_DIFF_SEED=" << c.seed
                      << " TGRACK_DIFF_CASES=1";
      }
    }
  }
  std::cout << "differential: " << cases << " cases, " << runs << " runs, "
            << failures.size() << " distinct failures\n";
  for (const auto& [gist, count] : refusals) std::cout << "  refused " << count << "x: " << gist << "\n";
  for (const auto& [key, count] : failures) std::cout << "  " << count << "x " << key << "\n";
  EXPECT_TRUE(failures.empty());
}

}  // namespace
}  // namespace tg::differential
