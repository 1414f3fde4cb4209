// Cross-file checks (scenario against inventory and dialects), file discovery and `validate`.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "common/regex_names.hpp"
#include "scenario/detail/yaml_reader.hpp"
#include "scenario/loader.hpp"
#include "scenario/project.hpp"
#include "scenario/variables.hpp"

namespace provhil::scenario {

std::string Diagnostic::to_string() const {
  const char* level = severity == Severity::error ? "error" : "warning";
  if (where.line <= 0) return fmt::format("{}: {}: {}", where.file, level, message);
  return fmt::format("{}:{}:{}: {}: {}", where.file, where.line, where.column, level, message);
}

bool has_errors(const std::vector<Diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::error; });
}

std::optional<Duration> parse_duration(std::string_view text) {
  // A number (integer or decimal) directly followed by one unit.
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0 || i == text.size()) return std::nullopt;
  std::string_view number = text.substr(0, i);
  std::string_view unit = text.substr(i);
  if (std::count(number.begin(), number.end(), '.') > 1 || number.front() == '.' || number.back() == '.')
    return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc{} || end != number.data() + number.size()) return std::nullopt;
  double ms = 0;
  if (unit == "ms")
    ms = value;
  else if (unit == "s")
    ms = value * 1000;
  else if (unit == "m" || unit == "min")
    ms = value * 60'000;
  else if (unit == "h")
    ms = value * 3'600'000;
  else
    return std::nullopt;
  if (ms > 7 * 24 * 3'600'000.0) return std::nullopt;  // a week: anything longer is a typo
  return Duration{static_cast<Duration::rep>(std::llround(ms))};
}

namespace {

// What a scenario may reference at some point of its steps.
class Scope {
 public:
  void define(const std::string& name) { names_.insert(name); }
  bool defined(const std::string& name) const {
    if (names_.count(name)) return true;
    if (name.rfind("vars.", 0) == 0) return names_.count(name.substr(5)) > 0 && !is_builtin(name.substr(5));
    return false;
  }
  std::vector<std::string> all() const {
    std::vector<std::string> out;
    for (const auto& name : names_)
      out.push_back(name);
    return out;
  }

 private:
  static bool is_builtin(const std::string& name) {
    return name.rfind("board.", 0) == 0 || name.rfind("lab.", 0) == 0 || name.rfind("interceptor.", 0) == 0;
  }
  std::set<std::string> names_;
};

class ScenarioChecker {
 public:
  ScenarioChecker(const Scenario& scenario, const Inventory& inventory, const DialectSet& dialects,
                  std::vector<Diagnostic>& out)
      : s_(scenario), inventory_(inventory), dialects_(dialects), out_(out) {}

  void run() {
    auto& boards = boards_;
    for (const auto& board : inventory_.boards)
      if (matches(s_.boards, board)) boards.push_back(&board);
    if (boards.empty()) report_no_board();
    for (const auto* board : boards) {
      if (board->dialect == auto_dialect) auto_board_ = true;
      const Dialect* dialect = dialects_.find(board->dialect);
      if (dialect && std::find(dialects_of_boards_.begin(), dialects_of_boards_.end(), dialect) ==
                         dialects_of_boards_.end())
        dialects_of_boards_.push_back(dialect);
    }
    Scope scope;
    for (const auto* name :
         {"board.name", "board.port", "board.dialect", "board.token", "interceptor.host", "interceptor.port"})
      scope.define(name);
    // Board vars that every matched board defines.
    if (!boards.empty()) {
      for (const auto& var : boards.front()->vars) {
        // A named reference, not a structured binding: clang 14 cannot capture one in a lambda.
        const auto& key = var.first;
        bool everywhere =
            std::all_of(boards.begin(), boards.end(), [&](const Board* b) { return b->vars.count(key) > 0; });
        if (everywhere) scope.define("board." + key);
      }
    }
    const Lab& lab = inventory_.lab;
    if (lab.wifi_ssid.value || lab.wifi_ssid.source != SecretValue::Source::literal)
      scope.define("lab.wifi.ssid");
    if (lab.wifi_pass.value || lab.wifi_pass.source != SecretValue::Source::literal)
      scope.define("lab.wifi.pass");
    for (const auto& [key, value] : lab.values)
      scope.define("lab." + key);
    for (const auto& var : s_.vars) {
      check_text(var.value, var.where, scope);
      scope.define(var.name);
    }
    for (const auto* block : {&s_.setup, &s_.steps, &s_.teardown})
      check_steps(*block, scope);
  }

 private:
  const Scenario& s_;
  const Inventory& inventory_;
  const DialectSet& dialects_;
  std::vector<Diagnostic>& out_;
  std::vector<const Dialect*> dialects_of_boards_;
  bool auto_board_ = false;  // a matched board picks its dialect when it runs: names must exist in one
  std::vector<const Board*> boards_;  // the boards the selector matches

  void error(const SourceLocation& where, std::string message) {
    out_.push_back(Diagnostic{Diagnostic::Severity::error, where, std::move(message)});
  }

  void report_no_board() {
    std::vector<std::string> wanted;
    if (!s_.boards.tags.empty()) wanted.push_back(fmt::format("tags [{}]", fmt::join(s_.boards.tags, ", ")));
    if (!s_.boards.names.empty())
      wanted.push_back(fmt::format("names [{}]", fmt::join(s_.boards.names, ", ")));
    if (!s_.boards.dialects.empty())
      wanted.push_back(fmt::format("dialects [{}]", fmt::join(s_.boards.dialects, ", ")));
    std::vector<std::string> have;
    std::vector<std::string> names;
    for (const auto& board : inventory_.boards) {
      have.push_back(
          fmt::format("{} (tags [{}], dialect {})", board.name, fmt::join(board.tags, ", "), board.dialect));
      names.push_back(board.name);
    }
    std::string hint;
    for (const auto& name : s_.boards.names) {
      if (std::find(names.begin(), names.end(), name) != names.end()) continue;
      auto suggestion = did_you_mean(name, names);
      if (!suggestion.empty()) hint += fmt::format("; did you mean board '{}' for '{}'?", suggestion, name);
    }
    error(s_.boards.where,
          fmt::format("board selector ({}) matches no board of inventory {}{}; the boards are: {}",
                      wanted.empty() ? "all boards" : fmt::format("{}", fmt::join(wanted, ", ")),
                      inventory_.file.string(), hint,
                      have.empty() ? "none" : fmt::format("{}", fmt::join(have, "; "))));
    out_.back().code = Diagnostic::Code::no_matching_board;
  }

  void check_text(const std::string& text, const SourceLocation& where, const Scope& scope) {
    for (const auto& ref : find_references(text)) {
      if (scope.defined(ref.name)) continue;
      auto candidates = scope.all();
      std::string suggestion;
      if (ref.name.rfind("vars.", 0) == 0) {
        suggestion = did_you_mean(ref.name.substr(5), candidates);
        if (!suggestion.empty()) suggestion = "vars." + suggestion;
      } else {
        suggestion = did_you_mean(ref.name, candidates);
      }
      std::string what = fmt::format("undefined variable '${{{}}}'", ref.name);
      if (!suggestion.empty()) what += fmt::format("; did you mean '${{{}}}'?", suggestion);
      if (ref.name.rfind("board.", 0) == 0) {
        // A board var that only some of the matched boards define.
        std::vector<std::string> with;
        std::vector<std::string> without;
        for (const Board* board : boards_)
          (board->vars.count(ref.name.substr(6)) ? with : without).push_back(board->name);
        if (!with.empty())
          what +=
              fmt::format(" (board var '{}' is missing on {})", ref.name.substr(6), fmt::join(without, ", "));
      }
      what += fmt::format(" (defined here: {})", fmt::join(candidates, ", "));
      error(where, std::move(what));
    }
  }

  void check_matcher(const Matcher& m) {
    if (m.kind != Matcher::Kind::state && m.kind != Matcher::Kind::event) return;
    bool state = m.kind == Matcher::Kind::state;
    if (auto_board_) {
      std::vector<std::string> names;
      bool known = false;
      for (const auto& [dialect_name, dialect] : dialects_.by_name) {
        const auto& table = state ? dialect.states : dialect.events;
        known = known || table.count(m.pattern) > 0;
        for (const auto& [name, pattern] : table)
          if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
      if (!known) {
        std::sort(names.begin(), names.end());
        auto suggestion = did_you_mean(m.pattern, names);
        error(
            m.where,
            fmt::format("unknown {} '{}' in every dialect (a board has dialect auto){} (expected one of: {})",
                        state ? "state" : "event", m.pattern,
                        suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion),
                        fmt::join(names, ", ")));
      }
    }
    for (const Dialect* dialect : dialects_of_boards_) {
      const auto& table = state ? dialect->states : dialect->events;
      if (table.count(m.pattern)) continue;
      std::vector<std::string> names;
      for (const auto& [name, pattern] : table)
        names.push_back(name);
      auto suggestion = did_you_mean(m.pattern, names);
      error(m.where, fmt::format("unknown {} '{}' in dialect {}{} (expected one of: {})",
                                 state ? "state" : "event", m.pattern, dialect->name,
                                 suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion),
                                 fmt::join(names, ", ")));
    }
  }

  // Named groups a matcher defines on every matched board.
  std::vector<std::string> groups_of(const Matcher& m) {
    if (m.kind == Matcher::Kind::line) return regex_group_names(m.pattern);
    if (m.kind != Matcher::Kind::event) return {};
    if (dialects_of_boards_.empty()) {
      if (!auto_board_) return {};
      // dialect auto alone: the groups of the event in the dialects that have it (it may be any of them).
      std::vector<std::string> all;
      for (const auto& [dialect_name, dialect] : dialects_.by_name)
        if (auto it = dialect.events.find(m.pattern); it != dialect.events.end())
          for (auto& name : regex_group_names(it->second.regex))
            if (std::find(all.begin(), all.end(), name) == all.end()) all.push_back(name);
      return all;
    }
    std::vector<std::string> common;
    bool first = true;
    for (const Dialect* dialect : dialects_of_boards_) {
      auto it = dialect->events.find(m.pattern);
      if (it == dialect->events.end()) return {};
      auto names = regex_group_names(it->second.regex);
      if (first)
        common = names;
      else
        common.erase(std::remove_if(common.begin(), common.end(),
                                    [&](const std::string& n) {
                                      return std::find(names.begin(), names.end(), n) == names.end();
                                    }),
                     common.end());
      first = false;
    }
    return common;
  }

  void check_steps(const std::vector<Step>& steps, Scope& scope) {
    for (const auto& step : steps) {
      for (const auto& site : step.templates)
        check_text(site.text, site.where, scope);
      if (const auto* expect = std::get_if<ExpectStep>(&step.body)) {
        for (const auto& m : expect->any_of)
          check_matcher(m);
        for (const auto& m : expect->must_not)
          check_matcher(m);
        for (const auto& m : expect->any_of)
          for (const auto& name : groups_of(m))
            scope.define(name);
      } else if (const auto* capture = std::get_if<CaptureStep>(&step.body)) {
        check_matcher(capture->from);
        auto names = groups_of(capture->from);
        if (capture->from.kind == Matcher::Kind::event && names.empty() && !dialects_of_boards_.empty() &&
            dialects_of_boards_.front()->events.count(capture->from.pattern))
          error(capture->from.where,
                fmt::format("event '{}' has no named group in every dialect of the matched "
                            "boards: nothing to capture",
                            capture->from.pattern));
        for (const auto& name : names)
          scope.define(name);
      } else if (const auto* repeat = std::get_if<RepeatStep>(&step.body)) {
        check_steps(repeat->steps, scope);
      } else if (const auto* retry = std::get_if<RetryStep>(&step.body)) {
        check_steps(retry->steps, scope);
      }
    }
  }
};

// The first top-level key that tells what a YAML text is, without parsing it.
FileKind kind_of_text(std::string_view text) {
  bool dialect = false;
  bool dialect_tables = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    auto starts = [&](std::string_view key) {
      return line.rfind(key, 0) == 0 && line.size() > key.size() && (line[key.size()] == ':');
    };
    if (starts("scenario")) return FileKind::scenario;
    if (starts("boards")) return FileKind::inventory;
    if (starts("dialect")) dialect = true;
    if (starts("states") || starts("state_pattern") || starts("events")) dialect_tables = true;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  // A simulator profile names its dialect too, but has no state or event tables.
  if (dialect) return dialect_tables ? FileKind::dialect : FileKind::sim_profile;
  return FileKind::unknown;
}

}  // namespace

std::vector<Diagnostic> check_scenario(const Scenario& scenario, const Inventory& inventory,
                                       const DialectSet& dialects) {
  std::vector<Diagnostic> out;
  ScenarioChecker(scenario, inventory, dialects, out).run();
  return out;
}

std::vector<Diagnostic> check_inventory(const Inventory& inventory, const DialectSet& dialects) {
  std::vector<Diagnostic> out;
  std::vector<std::string> names;
  for (const auto& [name, dialect] : dialects.by_name)
    names.push_back(name);
  for (const auto& board : inventory.boards) {
    if (dialects.find(board.dialect) || board.dialect == auto_dialect) continue;
    auto suggestion = did_you_mean(board.dialect, names);
    out.push_back(Diagnostic{
        Diagnostic::Severity::error, board.where,
        fmt::format("board '{}' uses unknown dialect '{}'{} (dialects in {}: {})", board.name, board.dialect,
                    suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion),
                    inventory.dialects_dir.string(),
                    names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")))});
  }
  return out;
}

std::vector<std::filesystem::path> find_scenario_files(const std::vector<std::filesystem::path>& paths,
                                                       std::vector<Diagnostic>& diagnostics) {
  std::vector<std::filesystem::path> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> found;
      for (std::filesystem::recursive_directory_iterator it(path, ec), end; !ec && it != end;
           it.increment(ec)) {
        auto ext = it->path().extension();
        if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) found.push_back(it->path());
      }
      if (ec)
        diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, SourceLocation{path.string(), 0, 0},
                                         fmt::format("cannot read the folder: {}", ec.message())});
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::exists(path, ec)) {
      files.push_back(path);
    } else {
      diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, SourceLocation{path.string(), 0, 0},
                                       "no such file or folder"});
    }
  }
  return files;
}

FileKind detect_file_kind(const std::filesystem::path& file) {
  if (file.filename() == project_file_name) return FileKind::project;
  auto text = detail::read_text_file(file);
  return text ? kind_of_text(*text) : FileKind::unknown;
}

ValidationReport validate_paths(const std::vector<std::filesystem::path>& paths,
                                const std::filesystem::path& inventory_file,
                                const InventoryOptions& options) {
  ValidationReport report;
  auto& out = report.diagnostics;
  auto append = [&out](std::vector<Diagnostic>&& more) {
    for (auto& d : more)
      out.push_back(std::move(d));
  };
  std::set<std::filesystem::path> loaded;  // canonical paths already checked through the inventory
  auto canonical = [](const std::filesystem::path& p) {
    std::error_code ec;
    auto c = std::filesystem::weakly_canonical(p, ec);
    return ec ? p : c;
  };

  auto inventory = load_inventory(inventory_file, options);
  append(std::move(inventory.diagnostics));
  ++report.files_checked;
  loaded.insert(canonical(inventory_file));
  DialectSet dialects;
  bool inventory_ok = inventory.value.has_value();
  if (inventory.value) {
    auto loaded_dialects = load_dialects(inventory.value->dialects_dir);
    append(std::move(loaded_dialects.diagnostics));
    if (loaded_dialects.value) {
      dialects = std::move(*loaded_dialects.value);
      for (const auto& [name, dialect] : dialects.by_name) {
        loaded.insert(canonical(dialect.file));
        ++report.files_checked;
      }
    }
    append(check_inventory(*inventory.value, dialects));
    for (const auto& board : inventory.value->boards) {
      std::error_code missing;
      if (!board.sim_profile || !std::filesystem::exists(*board.sim_profile, missing)) continue;
      if (loaded.insert(canonical(*board.sim_profile)).second)
        report.sim_profiles.push_back(*board.sim_profile);
    }
  }

  // Each file is loaded and checked on its own, so files are spread over a few threads (yaml-cpp
  // parsing dominates); the results are then merged in file order, which keeps the output stable.
  struct FileResult {
    bool skipped = false;  // already checked through the inventory
    FileKind kind = FileKind::unknown;
    std::vector<Diagnostic> diagnostics;
    std::string scenario_name;
    SourceLocation where;
  };
  auto files = find_scenario_files(paths, out);
  std::vector<FileResult> results(files.size());
  auto check_file = [&](const std::filesystem::path& file, FileResult& result) {
    // canonical() costs syscalls: only for names that could be one of the files already loaded.
    bool maybe_loaded = std::any_of(loaded.begin(), loaded.end(), [&](const std::filesystem::path& p) {
      return p.filename() == file.filename();
    });
    if (maybe_loaded && loaded.count(canonical(file))) {
      result.skipped = true;
      return;
    }
    std::string why;
    auto text = detail::read_text_file(file, &why);
    if (!text) {
      result.diagnostics.push_back(Diagnostic{Diagnostic::Severity::error,
                                              SourceLocation{file.string(), 0, 0},
                                              fmt::format("cannot read the file: {}", why)});
      return;
    }
    result.kind = file.filename() == project_file_name ? FileKind::project : kind_of_text(*text);
    switch (result.kind) {
      case FileKind::scenario: {
        auto scenario = parse_scenario(*text, file.string());
        result.diagnostics = std::move(scenario.diagnostics);
        if (!scenario.value) break;
        result.scenario_name = scenario.value->name;
        result.where = scenario.value->where;
        if (inventory_ok) {
          auto more = check_scenario(*scenario.value, *inventory.value, dialects);
          result.diagnostics.insert(result.diagnostics.end(), more.begin(), more.end());
        }
        break;
      }
      case FileKind::inventory: {
        auto other = load_inventory(file, options);
        result.diagnostics = std::move(other.diagnostics);
        if (other.value) {
          auto other_dialects = load_dialects(other.value->dialects_dir);
          if (other_dialects.value) {
            auto more = check_inventory(*other.value, *other_dialects.value);
            result.diagnostics.insert(result.diagnostics.end(), more.begin(), more.end());
          }
        }
        break;
      }
      case FileKind::dialect:
        result.diagnostics = load_dialect(file).diagnostics;
        break;
      case FileKind::sim_profile:
        break;
      case FileKind::project:
        result.diagnostics = load_project(file.has_parent_path() ? file.parent_path() : ".").diagnostics;
        break;
      case FileKind::unknown:
        result.diagnostics.push_back(
            Diagnostic{Diagnostic::Severity::error, SourceLocation{file.string(), 1, 1},
                       "not a scenario, inventory or dialect file: expected a top-level key 'scenario:', "
                       "'boards:' or 'dialect:'"});
        break;
    }
  };
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < files.size();)
      check_file(files[i], results[i]);
  };
  std::size_t thread_count = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
  thread_count = std::min(thread_count, files.size() / 32 + 1);  // a few files: not worth a thread
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < thread_count; ++t)
    threads.emplace_back(worker);
  worker();
  for (auto& thread : threads)
    thread.join();

  std::map<std::string, std::string> scenario_names;  // name -> file that uses it first
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto& result = results[i];
    if (result.skipped) continue;
    ++report.files_checked;
    if (result.kind == FileKind::scenario) ++report.scenarios;
    if (result.kind == FileKind::sim_profile) report.sim_profiles.push_back(files[i]);
    if (!result.scenario_name.empty()) {
      auto [it, inserted] = scenario_names.emplace(result.scenario_name, files[i].string());
      if (!inserted)
        result.diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, result.where,
                                                fmt::format("scenario name '{}' is already used by {}: names "
                                                            "must be unique (they name the reports)",
                                                            result.scenario_name, it->second)});
    }
    detail::sort_by_place(result.diagnostics);  // a file's findings top to bottom, loader's and checks' alike
    append(std::move(result.diagnostics));
  }
  return report;
}

}  // namespace provhil::scenario
