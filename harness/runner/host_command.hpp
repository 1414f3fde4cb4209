#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>

namespace provhil::runner {

struct HostCommandResult {
  int exit_code = -1;      // exit status, or 128 + signal when killed
  bool timed_out = false;  // killed (with its process group) because the deadline passed
  bool started = true;     // false when /bin/sh could not be started at all
  std::string output;      // stdout and stderr interleaved, the last 64 KiB at most
};

// Runs `command` through /bin/sh -c in its own process group, with extra environment variables,
// and kills the group at the deadline, or as soon as `interrupted` is set (checked every 100 ms).
// A thin face over provhil::run_process (common/process.hpp).
// Used for `exec` steps, AP join commands and power switches.
HostCommandResult run_host_command(const std::string& command, const std::map<std::string, std::string>& env,
                                   std::chrono::steady_clock::time_point deadline,
                                   const std::atomic<bool>* interrupted = nullptr);

}  // namespace provhil::runner
