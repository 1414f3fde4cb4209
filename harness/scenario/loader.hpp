#pragma once

// Loading and checking scenario files, lab inventories and firmware dialects.
// Every problem becomes a Diagnostic with file:line:column, what was found and what was expected;
// loading goes on after an error so that one pass reports every problem of a file.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/data_dir.hpp"
#include "common/suggest.hpp"
#include "scenario/model.hpp"

namespace provhil::scenario {

struct Diagnostic {
  enum class Severity { error, warning };
  // What a caller may decide on: `provhil run` skips a scenario whose selector matches no board
  // instead of calling its file invalid.
  enum class Code { general, no_matching_board };
  Severity severity = Severity::error;
  SourceLocation where;
  std::string message;
  Code code = Code::general;
  std::string to_string() const;  // "file:line:column: error: message"
};

bool has_errors(const std::vector<Diagnostic>& diagnostics);

// What a load produced: `value` is set when the file could be read and parsed as YAML at all (it may
// still carry errors: check ok()).
template <class T>
struct Loaded {
  std::optional<T> value;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return value.has_value() && !has_errors(diagnostics); }
};

// Scenario files. `file_label` is the name used in locations.
Loaded<Scenario> load_scenario(const std::filesystem::path& file);
Loaded<Scenario> parse_scenario(std::string_view yaml_text, const std::string& file_label);

struct InventoryOptions {
  // A secret that cannot be resolved (env variable unset, no default, key missing from the secrets
  // file) is an error when true (the runner), a warning when false (`validate` on a machine without
  // the lab's environment).
  bool require_secrets = false;
  // Overrides `lab.secrets_file`; `PROVHIL_SECRETS` in the environment does too.
  std::optional<std::filesystem::path> secrets_file;
  // provhil's installed shared data (common/data_dir.hpp). A relative simulator profile that is not
  // beside the inventory, and the default dialect folder when the inventory's folder has none, are
  // taken from here: a lab project needs no copies of its own.
  std::optional<std::filesystem::path> data_dir = shared_data_dir();
};
Loaded<Inventory> load_inventory(const std::filesystem::path& file, const InventoryOptions& options = {});
// The same from text already read; relative paths in it are relative to `file`'s folder.
Loaded<Inventory> parse_inventory(std::string_view yaml_text, const std::filesystem::path& file,
                                  const InventoryOptions& options = {});

Loaded<Dialect> load_dialect(const std::filesystem::path& file);
Loaded<Dialect> parse_dialect(std::string_view yaml_text, const std::filesystem::path& file);
// Every *.yaml / *.yml file in `dir`; a dialect name defined twice is an error.
Loaded<DialectSet> load_dialects(const std::filesystem::path& dir);

// Cross-checks that need the inventory and dialects: the board selector matches at least one board,
// state and event names exist in the dialect of every matched board, every regex compiles, every
// `${...}` names something defined at that point (vars, earlier captures, board/lab/interceptor).
std::vector<Diagnostic> check_scenario(const Scenario& scenario, const Inventory& inventory,
                                       const DialectSet& dialects);
// Each board's dialect exists.
std::vector<Diagnostic> check_inventory(const Inventory& inventory, const DialectSet& dialects);

// Scenario files under `paths`: files as given, directories searched recursively for *.yaml / *.yml,
// sorted by path. A path that does not exist becomes a diagnostic.
std::vector<std::filesystem::path> find_scenario_files(const std::vector<std::filesystem::path>& paths,
                                                       std::vector<Diagnostic>& diagnostics);

// What a YAML file is, from its top-level keys: `scenario:`, `boards:`, `dialect:`.
// (`dialect:` alone, without states or events, is a simulator profile.) A file named provhil.yaml is
// a project file (scenario/project.hpp).
enum class FileKind { scenario, inventory, dialect, sim_profile, project, unknown };
FileKind detect_file_kind(const std::filesystem::path& file);

// `provhil validate`: loads the inventory, its dialects, and every file under `paths` (scenarios,
// plus any inventory or dialect files found there), and checks each scenario against the inventory.
struct ValidationReport {
  std::vector<Diagnostic> diagnostics;
  int files_checked = 0;
  int scenarios = 0;
  // Simulator profiles found under `paths` or used by the inventory's boards: the scenario module
  // cannot read them (the simulator sits above it), so the caller checks them (`provhil validate`
  // does, with sim::load_profile) and counts them.
  std::vector<std::filesystem::path> sim_profiles;
  bool ok() const { return !has_errors(diagnostics); }
};
ValidationReport validate_paths(const std::vector<std::filesystem::path>& paths,
                                const std::filesystem::path& inventory_file,
                                const InventoryOptions& options = {});

// The tool's one "did you mean" (common/suggest.hpp), named here for the loaders' callers.
using provhil::did_you_mean;

// Parses "250ms", "10s", "1.5s", "2m", "1h"; empty on anything else (a bare number has no unit).
std::optional<Duration> parse_duration(std::string_view text);

}  // namespace provhil::scenario
