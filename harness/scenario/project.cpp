#include "scenario/project.hpp"

#include <fmt/format.h>

#include <system_error>

#include "scenario/detail/yaml_reader.hpp"

namespace provhil::scenario {

namespace fs = std::filesystem;

std::optional<fs::path> find_project_root(const fs::path& start) {
  std::error_code ec;
  fs::path dir = fs::absolute(start, ec).lexically_normal();
  if (ec) return std::nullopt;
  if (!dir.has_filename() && dir != dir.root_path()) dir = dir.parent_path();  // "a/b/" -> "a/b"
  for (;;) {
    if (fs::is_regular_file(dir / project_file_name, ec)) return dir;
    if (dir == dir.root_path() || !dir.has_parent_path()) return std::nullopt;
    dir = dir.parent_path();
  }
}

Loaded<Project> load_project(const fs::path& root) {
  Loaded<Project> result;
  Project project;
  project.root = fs::absolute(root).lexically_normal();
  project.file = project.root / project_file_name;
  project.inventory = project.root / "boards.yaml";
  project.scenarios = {project.root / "scenarios"};
  project.reports = project.root / "reports";
  detail::YamlReader reader(project.file.string(), result.diagnostics);
  auto text = detail::read_text_file(project.file);
  if (!text) {
    reader.error(SourceLocation{project.file.string(), 0, 0}, "cannot read the project file");
    return result;
  }
  if (auto bad = detail::first_invalid_utf8(*text)) {
    reader.error(SourceLocation{project.file.string(), bad->first, bad->second},
                 "the file is not valid UTF-8");
    return result;
  }
  YAML::Node node;
  try {
    node = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    reader.error(reader.where(e.mark), fmt::format("not valid YAML: {}", e.msg));
    return result;
  }
  auto relative_to_root = [&](const std::string& path) { return (project.root / path).lexically_normal(); };
  // An empty file (only comments) is a project with every default.
  if (node.IsDefined() && !node.IsNull() && reader.expect_map(node, "the project file")) {
    reader.check_keys(node, {"inventory", "scenarios", "reports"}, "the project file");
    if (const YAML::Node n = node["inventory"]; n.IsDefined()) {
      if (auto path = reader.text(n, "'inventory' (the lab inventory file)"))
        project.inventory = relative_to_root(*path);
    }
    if (const YAML::Node n = node["scenarios"]; n.IsDefined()) {
      auto paths = reader.text_list(n, "'scenarios' (scenario files or folders)");
      if (paths.empty()) {
        reader.error(n, "'scenarios' is empty: list at least one scenario file or folder");
      } else {
        project.scenarios.clear();
        for (const auto& path : paths)
          project.scenarios.push_back(relative_to_root(path));
      }
    }
    if (const YAML::Node n = node["reports"]; n.IsDefined()) {
      if (auto path = reader.text(n, "'reports' (the report folder)"))
        project.reports = relative_to_root(*path);
    }
  }
  detail::sort_by_place(result.diagnostics);
  result.value = std::move(project);
  return result;
}

std::string default_project_file_text() {
  return "# A provhil project. `provhil run` and `provhil validate`, run in this folder or any folder\n"
         "# below it, find this file and use the paths below (relative to this folder).\n"
         "inventory: boards.yaml     # the lab's boards, its WiFi, the interceptor\n"
         "scenarios: [scenarios]     # scenario files or folders run by default\n"
         "reports: reports           # junit.xml, results.json and evidence (kept out of git)\n";
}

}  // namespace provhil::scenario
