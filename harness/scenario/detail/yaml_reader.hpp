#pragma once

// Internal to the scenario module: reading yaml-cpp nodes while collecting diagnostics with
// file:line:column. Not part of the module's face.

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.hpp"
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

// Bounds on a document as its readers see it, aliases followed: a few hundred bytes of YAML aliases
// can stand for billions of nodes, and an alias inside its own anchor for an endless loop.
struct YamlLimits {
  std::size_t max_nodes = 1'000'000;  // nodes visited with every alias expanded
  int max_depth = 64;                 // nested lists and mappings
};
// Walks `root` following aliases. Reports (and returns false for) the first alias that makes a node
// contain itself, nesting deeper than max_depth, or a document of more than max_nodes nodes; the
// loaders then read nothing more of it.
bool check_yaml_bounds(const YAML::Node& root, YamlReader& reader, const YamlLimits& limits = {});

// Runs a loader so that nothing it throws escapes as an "unexpected error": whatever the library
// below throws (a filesystem error, yaml-cpp) becomes a diagnostic on the file.
template <class T, class Load>
Loaded<T> guarded_load(const std::string& file_label, Load&& load) {
  try {
    return load();
  } catch (const std::exception& e) {
    Loaded<T> result;
    result.diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, SourceLocation{file_label, 0, 0},
                                            std::string("cannot load the file: ") + e.what()});
    return result;
  }
}

// Orders diagnostics by file, line and column (stable: the order of one place is kept), so that a
// file's problems read top to bottom whatever order the loader found them in.
void sort_by_place(std::vector<Diagnostic>& diagnostics);

// The text of `node` as JSON (for response bodies written as YAML mappings).
std::string to_json(const YAML::Node& node);

// Compiles a Perl regex with Boost.Regex; the error text when it does not compile.
std::optional<std::string> regex_error(const std::string& regex);

using provhil::first_invalid_utf8;

// Reads a whole file of at most max_input_file_bytes; empty when it cannot, with the reason in *error.
std::optional<std::string> read_text_file(const std::filesystem::path& file, std::string* error = nullptr);

}  // namespace provhil::scenario::detail
