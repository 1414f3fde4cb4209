#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace provhil::cli {

void add_ca_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("ca", "Create or show the lab certificate authority used to terminate board TLS");
  command->allow_extras();
  command->callback(
      [&exit_code] { exit_code = not_built_yet("ca", "the interceptor's lab CA has not landed yet"); });
}

}  // namespace provhil::cli
