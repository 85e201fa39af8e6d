// tgctl bench --check fails when ranks report wrong elements. Real daemons compute the right
// answers, so the wrong ones come from a stand-in controller on loopback whose RunCollective
// answers with the counts a faulty rank would report; tgctl runs as a real process against
// it. (That a correct pool passes --check, with every element compared, is ops_test's.)
#include <absl/strings/match.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "net/transport_security.h"
#include "process.h"
#include "test_security.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;

// A controller with a two-rank communicator whose ranks report `checked` elements compared
// and `wrong[rank]` of them wrong, at every size.
class ReportingController final : public v1::ControllerService::Service {
 public:
  ReportingController(uint64_t checked, std::vector<uint64_t> wrong)
      : checked_(checked), wrong_(std::move(wrong)) {
    use_client_certificate();  // It serves with the test client's certificate; tgctl shows it too.
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", net::server_credentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~ReportingController() override { server_->Shutdown(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  grpc::Status CreateCommunicator(grpc::ServerContext*, const v1::CreateCommunicatorRequest*,
                                  v1::CreateCommunicatorReply* reply) override {
    reply->mutable_spec()->set_comm_id("comm-1");
    for (uint32_t rank = 0; rank < wrong_.size(); ++rank) reply->mutable_spec()->add_ranks()->set_rank(rank);
    return grpc::Status::OK;
  }
  grpc::Status RunCollective(grpc::ServerContext*, const v1::RunCollectiveRequest* request,
                             v1::RunCollectiveReply* reply) override {
    for (uint32_t rank = 0; rank < wrong_.size(); ++rank) {
      v1::RankResult* result = reply->add_results();
      result->set_rank(rank);
      result->set_seconds_per_iter(1e-3);
      if (request->check()) {
        result->set_checked(checked_);
        result->set_wrong(wrong_[rank]);
      }
    }
    reply->set_algorithm("ring");
    reply->set_transport("tcp");
    return grpc::Status::OK;
  }
  grpc::Status DestroyCommunicator(grpc::ServerContext*, const v1::DestroyCommunicatorRequest*,
                                   v1::DestroyCommunicatorReply*) override {
    return grpc::Status::OK;
  }

 private:
  const uint64_t checked_;
  const std::vector<uint64_t> wrong_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

Completed bench(const TempDir& dir, const ReportingController& controller,
                std::vector<std::string> args) {
  std::vector<std::string> all = {"--controller", controller.address(), "bench", "allreduce",
                                  "--iters", "1", "--warmup", "0"};
  all.insert(all.end(), args.begin(), args.end());
  return run(dir, TGCTL_PATH, all);
}

TEST(BenchCheck, WrongElementsFailTheCommandNamingHowManyAtWhichSize) {
  const TempDir dir;
  ReportingController controller(/*checked=*/1024, /*wrong=*/{3, 0});
  Completed one = bench(dir, controller, {"--min", "4K", "--max", "4K", "--check"});
  EXPECT_EQ(one.exit_status, 1) << one.out << one.err;
  EXPECT_TRUE(absl::StrContains(one.err, "--check failed: 3 of 2048 elements wrong at 4096 bytes"))
      << one.err;
  EXPECT_TRUE(absl::StrContains(one.err, "DATA_LOSS")) << one.err;

  Completed two = bench(dir, controller, {"--min", "4K", "--max", "16K", "--check"});
  EXPECT_EQ(two.exit_status, 1) << two.out << two.err;
  EXPECT_TRUE(absl::StrContains(two.err, "3 of 2048 elements wrong at 4096 bytes; "
                                         "3 of 2048 elements wrong at 16384 bytes"))
      << two.err;
  // The table still shows every size, with its wrong count.
  EXPECT_TRUE(absl::StrContains(two.out, "16384")) << two.out;
}

TEST(BenchCheck, ACheckThatComparedNothingFails) {
  const TempDir dir;
  ReportingController controller(/*checked=*/0, /*wrong=*/{0, 0});
  Completed result = bench(dir, controller, {"--min", "4K", "--max", "4K", "--check"});
  EXPECT_EQ(result.exit_status, 1) << result.out << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "--check failed: no element was checked at 4096 bytes"))
      << result.err;
}

TEST(BenchCheck, RightElementsOrNoCheckSucceed) {
  const TempDir dir;
  ReportingController right(/*checked=*/1024, /*wrong=*/{0, 0});
  Completed checked = bench(dir, right, {"--min", "4K", "--max", "4K", "--check"});
  EXPECT_EQ(checked.exit_status, 0) << checked.out << checked.err;
  EXPECT_EQ(checked.err, "");

  ReportingController wrong(/*checked=*/1024, /*wrong=*/{5, 5});
  Completed unchecked = bench(dir, wrong, {"--min", "4K", "--max", "4K"});
  EXPECT_EQ(unchecked.exit_status, 0) << unchecked.out << unchecked.err;
  EXPECT_TRUE(absl::StrContains(unchecked.out, "N/A")) << unchecked.out;
}

}  // namespace
}  // namespace tg::testing
