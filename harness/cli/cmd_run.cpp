// `provhil run`: options and signals; the runner module does the work.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/project_paths.hpp"
#include "common/color.hpp"
#include "common/exit_codes.hpp"
#include "runner/runner.hpp"
#include "scenario/loader.hpp"

namespace provhil::cli {

namespace {

std::atomic<bool> interrupted{false};

// A CI job that finds its board held by another job on the same runner queues for it this long; at a
// desk a busy board is reported at once (the person running it sees who holds it).
constexpr auto ci_wait_for_boards = std::chrono::minutes(10);

extern "C" void on_interrupt(int /*signal*/) {
  // A second signal ends the run at once; the first lets teardowns and reports finish.
  if (interrupted.exchange(true)) std::_Exit(to_int(ExitCode::interrupted));
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "run",
      "Run scenarios on the boards of the lab inventory (default: the project's, found from the current "
      "folder up by its provhil.yaml)");
  struct Args {
    std::vector<std::string> paths;
    std::string lab;
    std::string reports;
    std::string ca_dir;
    std::string junit;
    std::vector<std::string> filters;
    bool one_board = false;
    std::string run_on;
    int retries = 0;
    bool fail_on_flaky = false;
    bool junit_strict = false;
    std::string shard;
    bool list = false;
    bool quiet = false;
    bool verbose = false;
    bool show_secrets = false;
    std::optional<double> time_scale;
    std::string color = "auto";
    std::string wait_for_boards;
  };
  auto args = std::make_shared<Args>();
  command->add_option("scenarios", args->paths, "Scenario files or folders (default: the project's)");
  // One name for the inventory everywhere (`ports --inventory` too); --lab stays as the old spelling.
  command->add_option("--inventory,--lab", args->lab, "Lab inventory (default: the project's)");
  command->add_option("--reports", args->reports, "Report folder (default: the project's)");
  command->add_option("--ca-dir", args->ca_dir,
                      "Lab CA folder (default: $PROVHIL_CA_DIR, the inventory's interceptor.ca_dir, "
                      "else ~/.local/state/provhil/ca; a run on simulated boards only uses a throwaway CA)");
  command->add_option("--junit", args->junit, "Where to write the JUnit XML (default: <reports>/junit.xml)");
  command->add_option("--filter", args->filters,
                      "Run scenarios whose name contains, or tag equals, this (repeatable)");
  command->add_flag("--one-board", args->one_board, "Run each scenario on one matching board only");
  command
      ->add_option("--run-on", args->run_on,
                   "Run every scenario on each matching board, or once on any free one (a pool); "
                   "default: as each scenario's boards.run_on says")
      ->check(CLI::IsMember(scenario::RunOnNames::names()));
  command
      ->add_option("--retries", args->retries,
                   "Re-run a failed scenario up to N times (a later pass is flaky)")
      ->check(CLI::Range(0, 10));
  command->add_flag("--fail-on-flaky", args->fail_on_flaky,
                    "A pass that needed a retry fails the run (exit 1): release qualification");
  command->add_flag("--junit-strict", args->junit_strict,
                    "JUnit XML exactly as the strict schema allows (no file/line on test cases)");
  command->add_option("--shard", args->shard, "Run shard K of N (K/N): N CI jobs cover every pair once");
  command->add_flag("--list", args->list, "Print the plan and run nothing");
  command->add_flag("-q,--quiet", args->quiet, "Print failures and the summary only");
  command->add_flag("-v,--verbose", args->verbose, "Print every step");
  command->add_flag("--show-secrets", args->show_secrets,
                    "Do not mask tokens and WiFi passwords in logs and reports");
  command
      ->add_option(
          "--sim-time-scale", args->time_scale,
          "Time scale of simulated boards, 0 to 100 (0 = no artificial delays); default: their profiles'")
      ->check(CLI::Range(0.0, 100.0));
  command
      ->add_option("--color", args->color,
                   "Colour: auto (a terminal; honours NO_COLOR, FORCE_COLOR, TERM=dumb), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  command->add_option("--wait-for-boards", args->wait_for_boards,
                      "Wait up to DURATION (90s, 5m; 0 = not at all) for a board another process holds, "
                      "then run; default: 10m when $CI is set, else 0");
  command->footer(
      "Examples:\n"
      "  provhil run                                   # the project's scenarios on its boards\n"
      "  provhil run scenarios/provision-ap.yaml --one-board --sim-time-scale 0\n"
      "  provhil run --inventory lab/bench-3.yaml --filter provision --retries 1 --fail-on-flaky\n"
      "  provhil run --shard 2/4 --reports out/ --junit out/junit.xml   # CI job 2 of 4\n"
      "  provhil run --run-on any                      # each scenario once, on the next free board\n"
      "Reports: <reports>/junit.xml, results.json, index.html (open it in a browser).");
  command->callback([&exit_code, args] {
    ProjectPaths given;
    given.scenarios.assign(args->paths.begin(), args->paths.end());
    given.inventory = args->lab;
    given.reports = args->reports;
    auto paths = resolve_project_paths("run", std::move(given), true);
    if (!paths) {
      exit_code = to_int(ExitCode::usage);
      return;
    }
    runner::RunOptions options;
    options.paths = paths->scenarios;
    options.inventory = paths->inventory;
    options.report_dir = paths->reports;
    if (!args->ca_dir.empty()) options.ca_dir = args->ca_dir;
    if (!args->junit.empty()) options.junit_path = args->junit;
    options.filters = args->filters;
    options.one_board = args->one_board;
    if (!args->run_on.empty()) options.run_on = scenario::RunOnNames::parse(args->run_on);
    options.retries = args->retries;
    options.fail_on_flaky = args->fail_on_flaky;
    options.junit_strict = args->junit_strict;
    if (!args->shard.empty()) {
      std::string error;
      auto shard = runner::parse_shard(args->shard, error);
      if (!shard) {
        fmt::print(stderr, "provhil run: {}\n", error);
        exit_code = to_int(ExitCode::usage);
        return;
      }
      options.shard = *shard;
    }
    options.list_only = args->list;
    options.verbosity = args->quiet     ? runner::Verbosity::quiet
                        : args->verbose ? runner::Verbosity::verbose
                                        : runner::Verbosity::normal;
    options.show_secrets = args->show_secrets;
    options.sim_time_scale = args->time_scale;
    options.color = parse_color_mode(args->color).value_or(ColorMode::automatic);
    if (!args->wait_for_boards.empty()) {
      auto wait = args->wait_for_boards == "0" ? std::optional<scenario::Duration>(0)
                                               : scenario::parse_duration(args->wait_for_boards);
      if (!wait || wait->count() < 0) {
        fmt::print(stderr,
                   "provhil run: --wait-for-boards '{}': expected a duration such as 90s or 5m, or 0\n",
                   args->wait_for_boards);
        exit_code = to_int(ExitCode::usage);
        return;
      }
      options.wait_for_boards = *wait;
    } else if (const char* ci = std::getenv("CI"); ci != nullptr && *ci != '\0') {
      options.wait_for_boards = ci_wait_for_boards;
    }
    options.interrupted = &interrupted;
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    exit_code = runner::run(options, std::cout, std::cerr);
  });
}

}  // namespace provhil::cli
