// tgctl jobs: running and recently finished graphs. tgctl cancel: stop a running one.
#include <iostream>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/job_view.h"

namespace tg::tgctl {
namespace {

absl::Status run_jobs(const GlobalOptions& options, bool running_only) {
  auto jobs = Client(options.controller, std::chrono::seconds(10)).jobs(running_only);
  if (!jobs.ok()) return jobs.status();
  if (options.json) {
    std::cout << jobs_json(*jobs).dump(2) << "\n";
  } else {
    jobs_table(*jobs).print(std::cout);
  }
  return absl::OkStatus();
}

absl::Status run_cancel(const GlobalOptions& options, const std::string& job,
                        const std::string& reason) {
  absl::Status status = Client(options.controller, std::chrono::seconds(10)).cancel(job, reason);
  if (!status.ok()) return absl::Status(status.code(), "cancel " + job + ": " + std::string(status.message()));
  if (options.json) {
    std::cout << nlohmann::json({{"id", job}, {"cancel_requested", true}}).dump(2) << "\n";
  } else {
    std::cout << "cancelled " << job << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void add_jobs_commands(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* jobs = app.add_subcommand("jobs", "List running jobs, then recently finished ones");
  auto running = std::make_shared<bool>(false);
  jobs->add_flag("--running", *running, "Only running jobs");
  jobs->callback([&options, &action, running] {
    action = [&options, running] { return run_jobs(options, *running); };
  });

  CLI::App* cancel = app.add_subcommand("cancel", "Cancel a running job (NOT_FOUND if not running)");
  auto job = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  cancel->add_option("JOB", *job, "Job id, as tgctl jobs shows it")->required();
  cancel->add_option("--reason", *reason, "Why; becomes the job's CANCELLED error");
  cancel->callback([&options, &action, job, reason] {
    action = [&options, job, reason] { return run_cancel(options, *job, *reason); };
  });
}

}  // namespace tg::tgctl
