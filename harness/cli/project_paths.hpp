#pragma once
// What `provhil run` and `provhil validate` run on when the command line does not say: the lab project
// found from the current folder upwards (scenario/project.hpp).

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace provhil::cli {

struct ProjectPaths {
  std::vector<std::filesystem::path> scenarios;
  std::filesystem::path inventory;
  std::filesystem::path reports;
};

// `given` holds what the command line named (empty: not named; paths there stay as typed, relative
// to the current folder). The rest comes from the project, written relative to the current folder
// when it lies below it. No project found while something is missing, or an invalid provhil.yaml:
// prints why and what to do to stderr and returns nullopt (exit 2). `reports` is filled only when
// `wants_reports`; without a project it defaults to ./reports.
std::optional<ProjectPaths> resolve_project_paths(std::string_view command, ProjectPaths given,
                                                  bool wants_reports);

}  // namespace provhil::cli
