// `provhil report --rebuild`: junit.xml and results.json again from the journal a killed run left.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"
#include "report/writer.hpp"
#include "runner/work_dir.hpp"

namespace provhil::cli {

void add_report_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("report",
                                     "Rebuild junit.xml, results.json and index.html from the journal of a "
                                     "run that was killed (CI after_script)");
  struct Args {
    std::string dir = "reports";
    std::string junit;
    bool rebuild = false;
  };
  auto args = std::make_shared<Args>();
  command->footer(
      "Examples:\n"
      "  provhil report --rebuild                       # after a killed run (CI after_script)\n"
      "  provhil report --rebuild --reports out/ --junit out/junit.xml");
  command->add_flag("--rebuild", args->rebuild, "Rebuild the reports from <reports>/journal.jsonl")
      ->required();
  command->add_option("--reports", args->dir, "Report folder of the run (default: reports/)");
  command->add_option("--junit", args->junit,
                      "Where the run wrote its JUnit XML (default: <reports>/junit.xml)");
  command->callback([&exit_code, args] {
    report::ReportOptions options;
    options.output_dir = args->dir;
    if (!args->junit.empty()) options.junit_path = args->junit;
    // A killed run's private folder still holds its unmasked raw logs: removed here too.
    runner::remove_dead_work_dirs();
    try {
      std::size_t skipped = 0;
      auto cases = report::rebuild_from_journal(options, &skipped);
      if (skipped > 0)
        fmt::print(stderr, "provhil report: skipped {} damaged journal line{}\n", skipped,
                   skipped == 1 ? "" : "s");
      fmt::print("provhil report: rebuilt {} case(s) into {} and {}\n", cases,
                 options.junit_path.value_or(options.output_dir / "junit.xml").string(),
                 (options.output_dir / "results.json").string());
      exit_code = to_int(ExitCode::passed);
    } catch (const report::ReportError& e) {
      fmt::print(stderr, "provhil report: {}\n", e.what());
      exit_code = to_int(ExitCode::usage);
    }
  });
}

}  // namespace provhil::cli
