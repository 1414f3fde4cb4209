#pragma once

namespace provhil {

// Process exit codes, shared by every subcommand (see README "Exit codes").
enum class ExitCode : int {
  passed = 0,          // every scenario passed
  failed = 1,          // a scenario failed
  usage = 2,           // bad usage or invalid input files
  infrastructure = 3,  // a port could not be opened, the listener could not bind, ...
  nothing_ran = 4,     // no (scenario, board) pair was run: a filter, shard or inventory selected none
  interrupted = 130,   // SIGINT / SIGTERM
};

constexpr int to_int(ExitCode code) {
  return static_cast<int>(code);
}

}  // namespace provhil
