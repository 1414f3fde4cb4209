// provhil: the command line. Parses arguments, dispatches to a subcommand, maps errors to exit codes.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"
#include "common/version.hpp"

int main(int argc, char** argv) {
  using provhil::ExitCode;
  using provhil::to_int;

  CLI::App app{"provhil: hardware-in-the-loop tests of WiFi provisioning for Blynk.Edgent boards", "provhil"};
  app.set_version_flag("--version", "provhil " + provhil::full_version());
  app.require_subcommand(0, 1);
  app.footer(
      "Exit codes: 0 all passed, 1 a scenario failed, 2 bad usage or invalid input files,\n"
      "            3 infrastructure (port, listener), 130 interrupted.");

  int exit_code = to_int(ExitCode::usage);
  provhil::cli::add_init_command(app, exit_code);
  provhil::cli::add_run_command(app, exit_code);
  provhil::cli::add_validate_command(app, exit_code);
  provhil::cli::add_ports_command(app, exit_code);
  provhil::cli::add_intercept_command(app, exit_code);
  provhil::cli::add_sim_command(app, exit_code);
  provhil::cli::add_ca_command(app, exit_code);
  provhil::cli::add_report_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
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
