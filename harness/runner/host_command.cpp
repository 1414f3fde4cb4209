#include "runner/host_command.hpp"

#include "common/process.hpp"

namespace provhil::runner {

HostCommandResult run_host_command(const std::string& command, const std::map<std::string, std::string>& env,
                                   std::chrono::steady_clock::time_point deadline,
                                   const std::atomic<bool>* interrupted) {
  ProcessOptions options;
  options.argv = {"/bin/sh", "-c", command};
  options.env = env;
  auto run = run_process(options, deadline, interrupted);
  HostCommandResult result;
  result.started = run.started;
  result.timed_out = run.timed_out || run.interrupted;
  result.exit_code = run.started ? run.status.shell_code() : -1;
  result.output = std::move(run.output);
  return result;
}

}  // namespace provhil::runner
