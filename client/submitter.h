// Submitter: runs a client's graphs. The controller admits and places (Place); the client
// then runs the fragments on the daemons itself (NodeService.RunFragments), carrying the
// grant the controller signed for each daemon, so a graph costs no controller hop beyond its
// placement and a replay of a captured plan none at all (docs/rpc.md).
//
// - A graph: Place, then RunFragments on every daemon of the plan at once; the outputs come
//   back from the daemons (shards joined in order).
// - A graph placed once for many runs (place_once, run_placed): the placement and its grants
//   are kept by the caller; every run goes straight to the daemons (fragments carried in the
//   request), and the graph is placed again when a fifth of the grants' lifetime is left
//   (with the grants in hand until they expire when the controller cannot be reached).
// - capture: the plan and its grants are kept here by plan id; replays go straight to the
//   daemons while the grants last, and the grants are renewed from the controller when a
//   fifth of their lifetime is left (a controller that cannot be reached then is asked
//   again at the next replay; the daemons accept the old grants until they expire).
// - The controller runs (Submit) graphs that read or keep remote tensors, whose books it
//   keeps, and one-off graphs spread over several devices, whose communicators it holds
//   while they run and whose failures it pins on the daemon at fault.
// Submit is not idempotent, so nothing is ever sent twice. A daemon's error keeps its code
// and names the job and the node; one that cannot be reached is UNAVAILABLE naming its
// address. When one daemon of a run fails, the run is cancelled on the others.
// Thread-safe; shared by the copies of a Client.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/statusor.h>

#include "tgrack/v1/controller.grpc.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class Submitter {
 public:
  explicit Submitter(std::shared_ptr<tgrack::v1::ControllerService::Stub> stub);

  // Runs `request`; its feeds are moved out, its graph is left as it was.
  absl::StatusOr<tgrack::v1::SubmitReply> submit(tgrack::v1::SubmitRequest& request,
                                                 std::chrono::milliseconds timeout);

  struct Placed;  // A placement (PlaceReply) and when to renew its grants.

  // A graph placed once for many runs: what it was placed from and its current placement.
  struct PlacedRuns {
    tgrack::v1::SubmitRequest request;    // Graph, placement and session; no feeds.
    std::mutex mu;
    std::shared_ptr<const Placed> placed;  // Replaced when renewed; guarded by mu.
  };
  // Places `request`'s graph for runs with run_placed(), capturing nothing on the controller.
  // FAILED_PRECONDITION for a graph the controller runs itself (remote inputs, keep,
  // deterministic, or spread over several devices).
  absl::StatusOr<std::shared_ptr<PlacedRuns>> place_once(const tgrack::v1::SubmitRequest& request,
                                                         std::chrono::milliseconds timeout);
  // Runs `runs` with the feeds of `request` (moved out) on the daemons directly.
  absl::StatusOr<tgrack::v1::SubmitReply> run_placed(PlacedRuns& runs,
                                                     tgrack::v1::SubmitRequest& request,
                                                     std::chrono::milliseconds timeout);

 private:
  // Places (or captures) the request's graph.
  absl::StatusOr<std::shared_ptr<const Placed>> place(tgrack::v1::SubmitRequest& request,
                                                      std::chrono::milliseconds timeout);
  // The captured plan `plan_id` with grants good for a while yet, renewed when needed.
  absl::StatusOr<std::shared_ptr<const Placed>> captured(const std::string& plan_id,
                                                         const std::string& session,
                                                         std::chrono::milliseconds timeout);
  absl::StatusOr<tgrack::v1::SubmitReply> run(const Placed& placed,
                                              tgrack::v1::SubmitRequest& request,
                                              std::chrono::milliseconds timeout);
  tgrack::v1::NodeService::Stub& daemon(const std::string& address);

  const std::shared_ptr<tgrack::v1::ControllerService::Stub> stub_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Placed>> plans_;      // By plan id; mu_.
  std::map<std::string, std::unique_ptr<tgrack::v1::NodeService::Stub>> daemons_;  // mu_.
};

}  // namespace tg
