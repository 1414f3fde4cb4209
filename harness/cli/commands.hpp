#pragma once

#include <string_view>

namespace CLI {
class App;
}

namespace provhil::cli {

// Each subcommand registers itself on the app; when it runs it stores its exit code in `exit_code`.
void add_init_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_validate_command(CLI::App& app, int& exit_code);
void add_ports_command(CLI::App& app, int& exit_code);
void add_intercept_command(CLI::App& app, int& exit_code);
void add_sim_command(CLI::App& app, int& exit_code);
void add_ca_command(CLI::App& app, int& exit_code);
void add_report_command(CLI::App& app, int& exit_code);
// Registered last: it walks the commands registered before it.
void add_completion_command(CLI::App& app, int& exit_code);

}  // namespace provhil::cli
