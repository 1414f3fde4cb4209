#pragma once
// `provhil run`: plans units of work from scenario files and the lab inventory (a scenario on one
// board, or on any one free board of a pool), runs them with one thread per board and one interceptor
// for the whole run, and writes the reports. Returns the process exit code (common/exit_codes.hpp).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/color.hpp"
#include "scenario/model.hpp"

namespace provhil::runner {

struct Shard {
  int index = 1;  // 1-based
  int count = 1;
};
// "K/N" with 1 <= K <= N; nullopt (and `error` set) otherwise.
std::optional<Shard> parse_shard(const std::string& text, std::string& error);

enum class Verbosity { quiet, normal, verbose };

struct RunOptions {
  std::vector<std::filesystem::path> paths{"scenarios"};
  std::filesystem::path inventory = "fixtures/boards.yaml";
  std::filesystem::path report_dir = "reports";
  std::optional<std::filesystem::path> junit_path;
  std::vector<std::string> filters;  // a pair runs when its scenario's name or one of its tags matches any
  bool one_board = false;            // each scenario on the first matching board only
  // --run-on: every scenario on each matching board, or once on any free one (a pool); empty: as each
  // scenario's `boards: { run_on: ... }` says.
  std::optional<scenario::RunOn> run_on;
  int retries = 0;             // re-runs of a failed pair; a later pass is recorded as flaky
  bool fail_on_flaky = false;  // a flaky pass fails the run (exit 1): release qualification
  bool junit_strict = false;   // junit.xml only as the strict schema allows (no file/line on cases)
  Shard shard;
  bool list_only = false;  // print the plan, run nothing
  Verbosity verbosity = Verbosity::normal;
  ColorMode color = ColorMode::automatic;  // --color; auto honours FORCE_COLOR, NO_COLOR, TERM=dumb
  bool show_secrets = false;
  std::optional<double> sim_time_scale;  // overrides the simulator profiles' time scale
  // The lab CA folder (--ca-dir); before $PROVHIL_CA_DIR and the inventory's interceptor.ca_dir.
  std::optional<std::filesystem::path> ca_dir;
  std::filesystem::path provhil_binary;  // spawns simulated boards; empty: this process's own binary
  // How long a board another process holds is waited for before its pairs are errors (zero: not at all).
  std::chrono::milliseconds wait_for_boards{0};
  // Set from a signal handler (SIGINT/SIGTERM): start nothing new, tear down, write the reports.
  std::atomic<bool>* interrupted = nullptr;
};

int run(const RunOptions& options, std::ostream& out, std::ostream& err);

}  // namespace provhil::runner
