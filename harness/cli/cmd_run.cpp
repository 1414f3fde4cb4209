#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace provhil::cli {

void add_run_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "run",
      "Run scenarios on the boards of the lab inventory (default: scenarios/ on the simulated boards)");
  command->allow_extras();
  command->callback(
      [&exit_code] { exit_code = not_built_yet("run", "the scenario runner has not landed yet"); });
}

}  // namespace provhil::cli
