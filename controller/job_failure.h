// Which failure of a job that ran on several daemons is its root cause, and how the job's
// error names it.
//
// A daemon that dies mid-job fails its own call (the connection is lost) and, a moment
// before or after, the survivors' calls fail too because their transfer or collective peer
// is gone; which error arrives first is a race. The root cause is chosen, in order:
//   1. a node that is lost (unreachable after the job: its daemon is gone) over one that
//      still answers;
//   2. a failure over a cancellation (the job cancels the other daemons on its first failure);
//   3. the earliest.
// The error keeps the root cause's code and names the job, the node, its devices and, when
// lost, its address: "job-7: node 'b' (b/0) at 10.0.0.2:7070 is unreachable: <why>".
// Other nodes' failures that are not cancellations follow as secondary context, by device:
// "; a/0 failed too: <why>".
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "tgrack/v1/node.pb.h"

namespace tg {

// How one node's call of a job ended.
struct NodeOutcome {
  std::string node;
  std::string address;
  std::vector<tgrack::v1::DeviceRef> devices;  // The job's devices on this node.
  absl::Status status;
  std::chrono::steady_clock::time_point done;
  bool lost = false;  // The node's daemon is gone (see above).
};

// OK when every outcome is OK; otherwise the job's error as described above.
absl::Status job_failure(const std::string& job_id, const std::vector<NodeOutcome>& outcomes);

}  // namespace tg
