// provhil: the command line. Parses arguments, dispatches to a subcommand, maps errors to exit codes.
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"
#include "common/suggest.hpp"
#include "common/version.hpp"

namespace {

// The deepest subcommand the command line chose (the app itself when none).
const CLI::App* chosen_command(const CLI::App& app) {
  const CLI::App* at = &app;
  for (;;) {
    auto chosen = at->get_subcommands();
    if (chosen.empty()) return at;
    at = chosen.front();
  }
}

// "did you mean --lab?" for an unknown option: the closest long option of the chosen command.
void suggest_options(const CLI::App& app) {
  const CLI::App* command = chosen_command(app);
  for (const auto& arg : app.remaining(true)) {
    if (arg.rfind("--", 0) != 0) continue;
    std::string given = arg.substr(0, arg.find('='));
    std::vector<std::string> names;
    for (const auto* option : command->get_options())
      for (const auto& name : option->get_lnames())
        names.push_back("--" + name);
    std::string best = provhil::did_you_mean(given, names);
    std::string where = command == &app ? std::string("provhil") : "provhil " + command->get_name();
    if (!best.empty()) {
      fmt::print(stderr, "{}: unknown option {}: did you mean {}?\n", where, given, best);
    } else {
      fmt::print(stderr, "{}: unknown option {} (see {} --help)\n", where, given, where);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using provhil::ExitCode;
  using provhil::to_int;

  CLI::App app{"provhil: hardware-in-the-loop tests of WiFi provisioning for Blynk.Edgent boards", "provhil"};
  app.set_version_flag("--version", "provhil " + provhil::full_version());
  app.require_subcommand(0, 1);
  app.footer(
      "Exit codes: 0 all passed, 1 a scenario failed, 2 bad usage or invalid input files,\n"
      "            3 infrastructure (port, listener), 4 nothing ran (no pair selected), 130 interrupted.\n"
      "Examples:\n"
      "  provhil run --sim-time-scale 0     # the shipped scenarios on simulated boards\n"
      "  provhil validate                   # check scenarios, inventory and dialects\n"
      "  provhil run --help                 # every subcommand has its own help and examples");

  int exit_code = to_int(ExitCode::usage);
  provhil::cli::add_init_command(app, exit_code);
  provhil::cli::add_run_command(app, exit_code);
  provhil::cli::add_validate_command(app, exit_code);
  provhil::cli::add_ports_command(app, exit_code);
  provhil::cli::add_intercept_command(app, exit_code);
  provhil::cli::add_sim_command(app, exit_code);
  provhil::cli::add_ca_command(app, exit_code);
  provhil::cli::add_report_command(app, exit_code);
  provhil::cli::add_completion_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    app.exit(e);  // CLI11's message, then ours with the closest option
    suggest_options(app);
    return to_int(ExitCode::usage);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the hint
    return to_int(ExitCode::usage);
  } catch (const std::exception& e) {
    // Subcommands report their own failures; reaching here is a bug or an unforeseen system error.
    fmt::print(stderr, "provhil: unexpected error: {}\n", e.what());
    return to_int(ExitCode::infrastructure);
  }
  if (app.get_subcommands().empty()) {
    // Checked after parsing so that an unknown word or option is named in the error instead.
    fmt::print(stderr, "provhil: a subcommand is required\n{}", app.help());
    return to_int(ExitCode::usage);
  }
  return exit_code;
}
