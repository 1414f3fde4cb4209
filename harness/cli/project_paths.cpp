#include "cli/project_paths.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <system_error>

#include "scenario/project.hpp"

namespace provhil::cli {

namespace fs = std::filesystem;

std::optional<ProjectPaths> resolve_project_paths(std::string_view command, ProjectPaths given,
                                                  bool wants_reports) {
  bool missing =
      given.scenarios.empty() || given.inventory.empty() || (wants_reports && given.reports.empty());
  if (!missing) return given;
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (ec) {
    fmt::print(stderr, "provhil {}: cannot read the current folder: {}\n", command, ec.message());
    return std::nullopt;
  }
  auto root = scenario::find_project_root(cwd);
  bool needs_project = given.scenarios.empty() || given.inventory.empty();
  if (!root) {
    if (needs_project) {
      fmt::print(stderr,
                 "provhil {0}: not in a provhil project: no {1} in {2} or any folder above it.\n"
                 "  Create a project here with `provhil init`, or name the inventory and the scenarios:\n"
                 "  provhil {0} --lab FILE SCENARIOS...\n",
                 command, scenario::project_file_name, cwd.string());
      return std::nullopt;
    }
    if (given.reports.empty()) given.reports = "reports";
    return given;
  }
  auto project = scenario::load_project(*root);
  for (const auto& d : project.diagnostics)
    fmt::print(stderr, "{}\n", d.to_string());
  if (!project.ok()) {
    fmt::print(stderr, "provhil {}: the project file {} is invalid\n", command,
               (*root / scenario::project_file_name).string());
    return std::nullopt;
  }
  // Relative to the current folder, as a user would type them: reports and messages stay short, and
  // from the project's root they read as before (scenarios/..., fixtures/boards.yaml).
  auto shown = [&cwd](const fs::path& p) {
    auto relative = p.lexically_proximate(cwd);
    return relative.empty() ? p : relative;
  };
  if (given.scenarios.empty())
    for (const auto& p : project.value->scenarios)
      given.scenarios.push_back(shown(p));
  if (given.inventory.empty()) given.inventory = shown(project.value->inventory);
  if (wants_reports && given.reports.empty()) given.reports = shown(project.value->reports);
  return given;
}

}  // namespace provhil::cli
