#pragma once
// A lab project: a folder (usually its own git repo) holding the marker file provhil.yaml, the lab
// inventory and the scenarios. `provhil run` and `provhil validate` find the project the way git finds
// `.git`: in the current folder or the nearest folder above it.

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "scenario/loader.hpp"

namespace provhil::scenario {

// The marker file at a project's root.
inline constexpr std::string_view project_file_name = "provhil.yaml";

struct Project {
  std::filesystem::path root;                    // absolute
  std::filesystem::path file;                    // <root>/provhil.yaml
  std::filesystem::path inventory;               // absolute; `inventory:`, default boards.yaml
  std::vector<std::filesystem::path> scenarios;  // absolute; `scenarios:`, default [scenarios]
  std::filesystem::path reports;                 // absolute; `reports:`, default reports
};

// `start` (made absolute) or the nearest folder above it that holds provhil.yaml; nullopt when no
// folder up to / does.
std::optional<std::filesystem::path> find_project_root(const std::filesystem::path& start);

// Reads <root>/provhil.yaml. Every key is optional; relative paths are relative to the root. Unknown
// keys are errors with file:line:col, as in every other file.
Loaded<Project> load_project(const std::filesystem::path& root);

// The text `provhil init` writes: the defaults above, spelled out and explained.
std::string default_project_file_text();

}  // namespace provhil::scenario
