// `provhil init [DIR]`: a lab project to start from: provhil.yaml, an inventory with simulated boards
// (and real ones, commented out), a few scenarios, a .gitignore for reports, a README. Copied from the
// installed example project (share/provhil/examples); dialects and simulator profiles stay installed.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "cli/commands.hpp"
#include "common/data_dir.hpp"
#include "common/exit_codes.hpp"
#include "scenario/project.hpp"

namespace provhil::cli {

namespace {

namespace fs = std::filesystem;

// Scenarios a new project starts with: both provisioning paths, a cloud error, stock Edgent (so both
// simulated boards of the example inventory have work).
const std::vector<std::string> starter_scenarios = {"provision-ap", "provision-console", "invalid-token",
                                                    "stock-edgent-login"};

const char* const gitignore_text =
    "# provhil run writes junit.xml, results.json and per-board evidence here\n"
    "/reports/\n";

const char* const readme_text =
    "# Lab tests\n"
    "\n"
    "A provhil project: `provhil run` (here or in any folder below) runs `scenarios/` on the boards of\n"
    "`boards.yaml` and writes `reports/`; `provhil validate` checks the files without touching a board.\n";

struct Planned {
  fs::path to;
  std::optional<fs::path> from;  // copied from the examples, else `text`
  std::string text;
};

int run_init(const std::string& dir_text) {
  const auto& data = shared_data_dir();
  if (!data || !fs::is_directory(*data / "examples")) {
    fmt::print(stderr,
               "provhil init: provhil's shared data is not installed (looked in {}): reinstall the "
               "package, or point PROVHIL_DATA_DIR at a share/provhil folder\n",
               data ? (*data / "examples").string() : shared_data_dir_searched());
    return to_int(ExitCode::infrastructure);
  }
  const fs::path examples = *data / "examples";
  const fs::path dir = dir_text;
  std::error_code ec;
  if (fs::exists(dir / scenario::project_file_name, ec)) {
    fmt::print(stderr, "provhil init: {} is a provhil project already ({} exists)\n", dir.string(),
               (dir / scenario::project_file_name).string());
    return to_int(ExitCode::usage);
  }

  std::vector<Planned> files;
  files.push_back({dir / scenario::project_file_name, std::nullopt, scenario::default_project_file_text()});
  files.push_back({dir / "boards.yaml", examples / "boards.yaml", {}});
  for (const auto& name : starter_scenarios)
    files.push_back({dir / "scenarios" / (name + ".yaml"), examples / "scenarios" / (name + ".yaml"), {}});
  files.push_back({dir / ".gitignore", std::nullopt, gitignore_text});
  files.push_back({dir / "README.md", std::nullopt, readme_text});

  // Nothing is overwritten: a folder with any of these files is left as it is.
  std::vector<std::string> existing;
  for (const auto& f : files) {
    if (fs::exists(f.to, ec)) existing.push_back(f.to.string());
    if (f.from && !fs::is_regular_file(*f.from, ec)) {
      fmt::print(stderr, "provhil init: {}: missing from the installed examples: reinstall the package\n",
                 f.from->string());
      return to_int(ExitCode::infrastructure);
    }
  }
  if (!existing.empty()) {
    fmt::print(stderr, "provhil init: would overwrite {}; nothing was written\n", fmt::join(existing, ", "));
    return to_int(ExitCode::usage);
  }

  for (const auto& f : files) {
    fs::create_directories(f.to.parent_path(), ec);
    if (ec) {
      fmt::print(stderr, "provhil init: cannot create {}: {}\n", f.to.parent_path().string(), ec.message());
      return to_int(ExitCode::infrastructure);
    }
    if (f.from) {
      fs::copy_file(*f.from, f.to, ec);
      // Installed files are read-only for users; the project's copies are theirs to edit.
      if (!ec)
        fs::permissions(f.to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
    } else {
      std::ofstream out(f.to, std::ios::binary);
      out << f.text;
      out.close();
      if (!out) ec = std::error_code(errno, std::generic_category());
    }
    if (ec) {
      fmt::print(stderr, "provhil init: cannot write {}: {}\n", f.to.string(), ec.message());
      return to_int(ExitCode::infrastructure);
    }
  }

  fmt::print("created a provhil project in {}\n", dir.string());
  for (const auto& f : files)
    fmt::print("  {}\n", f.to.lexically_relative(dir).string());
  fmt::print(
      "dialects and simulator profiles: {} (a dialects/ or sim/ folder beside boards.yaml takes precedence)\n"
      "next: run the scenarios on the simulated boards, then add real boards to boards.yaml\n"
      "  cd {} && provhil run\n"
      "  provhil ports   (the serial ports and the boards they map to)\n",
      data->string(), dir.string());
  return to_int(ExitCode::passed);
}

}  // namespace

void add_init_command(CLI::App& app, int& exit_code) {
  auto dir = std::make_shared<std::string>(".");
  auto* command = app.add_subcommand(
      "init",
      "Create a lab project (provhil.yaml, inventory, scenarios, .gitignore) in DIR; overwrites nothing");
  command->add_option("dir", *dir, "The project folder, created when missing")->capture_default_str();
  command->footer(
      "Examples:\n"
      "  provhil init lab                              # lab/provhil.yaml, lab/boards.yaml, lab/scenarios/\n"
      "  cd lab && provhil run                         # the project's scenarios on its simulated boards");
  command->callback([&exit_code, dir] { exit_code = run_init(*dir); });
}

}  // namespace provhil::cli
