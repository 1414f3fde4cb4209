#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace provhil::cli {

void add_intercept_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("intercept", "Run the HTTPS interceptor on its own, printing each exchange live");
  command->allow_extras();
  command->callback(
      [&exit_code] { exit_code = not_built_yet("intercept", "the interceptor has not landed yet"); });
}

}  // namespace provhil::cli
