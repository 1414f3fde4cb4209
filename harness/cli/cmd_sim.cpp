#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace provhil::cli {

void add_sim_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("sim", "Run one simulated Edgent board on this terminal (stdin/stdout)");
  command->allow_extras();
  command->callback(
      [&exit_code] { exit_code = not_built_yet("sim", "the simulated board has not landed yet"); });
}

}  // namespace provhil::cli
