#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace provhil::cli {

void add_ports_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "ports", "List serial ports with their USB identity and the inventory board each maps to");
  command->allow_extras();
  command->callback(
      [&exit_code] { exit_code = not_built_yet("ports", "the serial module has not landed yet"); });
}

}  // namespace provhil::cli
