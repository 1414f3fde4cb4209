#pragma once

// Internal to the scenario module: reading yaml-cpp nodes while collecting diagnostics with
// file:line:column. Not part of the module's face.

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenario/loader.hpp"

namespace provhil::scenario::detail {

// "a mapping", "a list", "a text value", "nothing"
std::string describe_node(const YAML::Node& node);

class YamlReader {
 public:
  YamlReader(std::string file_label, std::vector<Diagnostic>& diagnostics)
      : file_(std::move(file_label)), diagnostics_(diagnostics) {}

  const std::string& file() const { return file_; }
  SourceLocation where(const YAML::Node& node) const;
  SourceLocation where(const YAML::Mark& mark) const;

  void error(const YAML::Node& node, std::string message);
  void error(const SourceLocation& where, std::string message);
  void warning(const YAML::Node& node, std::string message);

  // Type checks; on failure report "<what> must be <kind>, found <describe>" and return false.
  bool expect_map(const YAML::Node& node, std::string_view what);
  bool expect_list(const YAML::Node& node, std::string_view what);
  bool expect_scalar(const YAML::Node& node, std::string_view what);

  // Reports each key of `map` that is not in `allowed` (with "did you mean") and each duplicate key.
  void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed, std::string_view context);

  std::optional<std::string> text(const YAML::Node& node, std::string_view what);
  std::optional<long long> integer(const YAML::Node& node, std::string_view what, long long min,
                                   long long max);
  std::optional<bool> boolean(const YAML::Node& node, std::string_view what);
  std::optional<Duration> duration(const YAML::Node& node, std::string_view what);
  // A scalar or a list of scalars.
  std::vector<std::string> text_list(const YAML::Node& node, std::string_view what);
  // One of `choices`, else an error with "did you mean".
  std::optional<std::string> choice(const YAML::Node& node, std::string_view what,
                                    const std::vector<std::string>& choices);
  // Checks `${...}` syntax in a template and records it in `template_sink` when set.
  void check_template(const YAML::Node& node, const std::string& text);
  std::vector<TemplateSite>* template_sink = nullptr;

 private:
  std::string file_;
  std::vector<Diagnostic>& diagnostics_;
};

// Orders diagnostics by file, line and column (stable: the order of one place is kept), so that a
// file's problems read top to bottom whatever order the loader found them in.
void sort_by_place(std::vector<Diagnostic>& diagnostics);

// The text of `node` as JSON (for response bodies written as YAML mappings).
std::string to_json(const YAML::Node& node);

// Named groups `(?<name>...)` / `(?P<name>...)` / `(?'name'...)` in a regex, in order.
std::vector<std::string> named_groups(std::string_view regex);

// Compiles a Perl regex with Boost.Regex; the error text when it does not compile.
std::optional<std::string> regex_error(const std::string& regex);

// The 1-based line and column (in bytes) of the first line that is not valid UTF-8, if any.
std::optional<std::pair<int, int>> first_invalid_utf8(std::string_view text);

// Reads a whole file; empty when it cannot.
std::optional<std::string> read_text_file(const std::filesystem::path& file);
// The same, and when it fails, why: the OS's reason ("No such file or directory", "Is a directory").
std::optional<std::string> read_text_file(const std::filesystem::path& file, std::string& why);

}  // namespace provhil::scenario::detail
