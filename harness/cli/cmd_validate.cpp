// `provhil validate [PATHS...]`: checks scenario, inventory and dialect files without touching a board.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/project_paths.hpp"
#include "common/exit_codes.hpp"
#include "scenario/loader.hpp"
#include "sim/profile.hpp"

namespace provhil::cli {

namespace {

struct ValidateOptions {
  std::vector<std::string> paths;
  std::string lab;
  bool require_secrets = false;
  std::string secrets;
  bool quiet = false;
};

// sim::ProfileError reads "FILE:LINE:COL: message": keep the place as a place.
scenario::Diagnostic profile_diagnostic(const std::filesystem::path& profile, std::string_view what) {
  scenario::Diagnostic d{scenario::Diagnostic::Severity::error, {profile.string(), 0, 0}, std::string(what)};
  auto prefix = profile.string() + ":";
  if (what.rfind(prefix, 0) != 0) return d;
  int line = 0;
  int column = 0;
  int used = 0;
  std::string rest(what.substr(prefix.size()));
  if (std::sscanf(rest.c_str(), "%d:%d: %n", &line, &column, &used) == 2 && used > 0) {
    d.where.line = line;
    d.where.column = column;
    d.message = rest.substr(static_cast<std::size_t>(used));
  }
  return d;
}

int run_validate(const ValidateOptions& options) {
  using scenario::Diagnostic;
  auto started = std::chrono::steady_clock::now();
  ProjectPaths given;
  given.scenarios.assign(options.paths.begin(), options.paths.end());
  given.inventory = options.lab;
  auto resolved = resolve_project_paths("validate", std::move(given), false);
  if (!resolved) return to_int(ExitCode::usage);
  const auto& paths = resolved->scenarios;
  scenario::InventoryOptions inventory_options;
  inventory_options.require_secrets = options.require_secrets;
  if (!options.secrets.empty()) inventory_options.secrets_file = options.secrets;
  auto report = scenario::validate_paths(paths, resolved->inventory, inventory_options);
  // Simulator profiles belong to the sim module, above scenario: checked here.
  for (const auto& profile : report.sim_profiles) {
    ++report.files_checked;
    try {
      sim::load_profile(profile);
    } catch (const sim::ProfileError& e) {
      report.diagnostics.push_back(profile_diagnostic(profile, e.what()));
    }
  }
  int errors = 0;
  int warnings = 0;
  for (const auto& d : report.diagnostics) {
    (d.severity == Diagnostic::Severity::error ? errors : warnings)++;
    if (options.quiet && d.severity == Diagnostic::Severity::warning) continue;
    fmt::print(stderr, "{}\n", d.to_string());
  }
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!options.quiet || errors > 0)
    fmt::print(
        "provhil validate: {} files ({} scenarios, inventory {}): {} error{}, {} warning{} in {:.3f} s\n",
        report.files_checked, report.scenarios, resolved->inventory.string(), errors, errors == 1 ? "" : "s",
        warnings, warnings == 1 ? "" : "s", elapsed);
  return to_int(errors > 0 ? ExitCode::usage : ExitCode::passed);
}

}  // namespace

void add_validate_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ValidateOptions>();
  auto* command = app.add_subcommand(
      "validate",
      "Check scenario, inventory and dialect files without touching any board (exit 2 on any error)");
  command->footer(
      "Examples:\n"
      "  provhil validate                                  # the project's scenarios, inventory, dialects\n"
      "  provhil validate scenarios/provision-ap.yaml fixtures/boards.yaml");
  command->add_option(
      "paths", options->paths,
      "Scenario files or folders (searched for *.yaml); inventories and dialects found there are "
      "checked too (default: the project's, found from the current folder up by its provhil.yaml)");
  command->add_option("--inventory,--lab", options->lab,
                      "Lab inventory to check scenarios against (default: the project's)");
  command->add_flag("--require-secrets", options->require_secrets,
                    "Treat a secret that cannot be resolved (unset env variable, missing key) as an error");
  command->add_option("--secrets", options->secrets,
                      "Secrets file (YAML key: value) for { secret: KEY } values; default $PROVHIL_SECRETS, "
                      "else the inventory's lab.secrets_file");
  command->add_flag("-q,--quiet", options->quiet, "Print errors only");
  command->callback([options, &exit_code] { exit_code = run_validate(*options); });
}

}  // namespace provhil::cli
