// Firmware dialects: one YAML file per firmware family.
#include <fmt/format.h>

#include <algorithm>

#include "scenario/loader.hpp"
#include "scenario/yaml_reader.hpp"

namespace provhil::scenario {

namespace {

using detail::describe_node;
using detail::YamlReader;

bool valid_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

void add_pattern(YamlReader& r, const YAML::Node& node, const std::string& regex, const std::string& what,
                 std::map<std::string, DialectPattern>& into, const std::string& name) {
  if (auto error = detail::regex_error(regex)) {
    r.error(node, fmt::format("{} '{}': regex does not compile: {}: found /{}/", what, name, *error, regex));
    return;
  }
  if (!into.emplace(name, DialectPattern{regex, r.where(node)}).second)
    r.error(node, fmt::format("{} '{}' is defined twice", what, name));
}

}  // namespace

Loaded<Dialect> load_dialect(const std::filesystem::path& file) {
  Loaded<Dialect> result;
  YamlReader r(file.string(), result.diagnostics);
  std::string why;
  auto text = detail::read_text_file(file, why);
  if (!text) {
    r.error(SourceLocation{file.string(), 0, 0}, "cannot read the dialect file: " + why);
    return result;
  }
  if (auto bad = detail::first_invalid_utf8(*text)) {
    r.error(SourceLocation{file.string(), bad->first, bad->second}, "the file is not valid UTF-8");
    return result;
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    r.error(r.where(e.mark), fmt::format("not valid YAML: {}", e.msg));
    return result;
  }
  Dialect dialect;
  dialect.file = file;
  if (!r.expect_map(root, "a dialect file")) return result;
  r.check_keys(root, {"dialect", "description", "state_pattern", "states", "events", "boot", "detect"},
               "the dialect");
  const YAML::Node name = root["dialect"];
  if (!name.IsDefined()) {
    r.error(SourceLocation{file.string(), 1, 1},
            "missing key 'dialect' (the dialect's name, e.g. edgent-1.2)");
  } else if (auto value = r.text(name, "'dialect'")) {
    dialect.name = *value;
    if (!valid_name(dialect.name))
      r.error(name, fmt::format("bad dialect name '{}': expected letters, digits, - _ and .", dialect.name));
  }
  if (const YAML::Node d = root["description"]; d.IsDefined())
    dialect.description = r.text(d, "'description'").value_or("");
  std::string state_pattern;
  const YAML::Node pattern_node = root["state_pattern"];
  if (pattern_node.IsDefined()) {
    state_pattern = r.text(pattern_node, "'state_pattern'").value_or("");
    if (!state_pattern.empty() && state_pattern.find("{state}") == std::string::npos) {
      r.error(pattern_node,
              fmt::format("'state_pattern' must contain {{state}} where the state name goes, found /{}/",
                          state_pattern));
      state_pattern.clear();
    }
  }
  const YAML::Node states = root["states"];
  if (!states.IsDefined()) {
    r.error(SourceLocation{file.string(), 1, 1}, "missing key 'states' (the firmware's state names)");
  } else if (r.expect_list(states, "'states'")) {
    for (const auto& item : states) {
      if (item.IsScalar()) {
        const std::string& state = item.Scalar();
        if (state_pattern.empty()) {
          if (!pattern_node.IsDefined())
            r.error(item,
                    fmt::format("state '{}' has no regex: give 'state_pattern' or write {{ {}: REGEX }}",
                                state, state));
          continue;
        }
        std::string regex = state_pattern;
        regex.replace(regex.find("{state}"), 7, state);
        add_pattern(r, item, regex, "state", dialect.states, state);
      } else if (item.IsMap() && item.size() == 1) {
        auto it = item.begin();
        if (auto regex = r.text(it->second, fmt::format("the regex of state '{}'", it->first.Scalar())))
          add_pattern(r, it->second, *regex, "state", dialect.states, it->first.Scalar());
      } else {
        r.error(item, fmt::format("a state is a NAME or {{ NAME: REGEX }}, found {}", describe_node(item)));
      }
    }
  }
  if (const YAML::Node events = root["events"]; events.IsDefined() && r.expect_map(events, "'events'")) {
    for (auto it = events.begin(); it != events.end(); ++it) {
      const std::string& event = it->first.Scalar();
      if (!valid_name(event)) {
        r.error(it->first, fmt::format("bad event name '{}': expected letters, digits, - _ and .", event));
        continue;
      }
      if (auto regex = r.text(it->second, fmt::format("the regex of event '{}'", event)))
        add_pattern(r, it->second, *regex, "event", dialect.events, event);
    }
  }
  for (auto [key, slot] : {std::pair{"boot", &dialect.boot}, std::pair{"detect", &dialect.detect}}) {
    const YAML::Node node = root[key];
    if (!node.IsDefined()) continue;
    auto regex = r.text(node, fmt::format("'{}'", key));
    if (!regex) continue;
    if (auto error = detail::regex_error(*regex)) {
      r.error(node, fmt::format("'{}': regex does not compile: {}: found /{}/", key, *error, *regex));
      continue;
    }
    *slot = DialectPattern{*regex, r.where(node)};
  }
  result.value = std::move(dialect);
  return result;
}

Loaded<DialectSet> load_dialects(const std::filesystem::path& dir) {
  Loaded<DialectSet> result;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path());
  }
  if (ec) {
    result.diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, SourceLocation{dir.string(), 0, 0},
                                            fmt::format("cannot read the dialect folder: {}", ec.message())});
    return result;
  }
  std::sort(files.begin(), files.end());
  DialectSet set;
  for (const auto& file : files) {
    auto loaded = load_dialect(file);
    for (auto& d : loaded.diagnostics)
      result.diagnostics.push_back(std::move(d));
    if (!loaded.value || loaded.value->name.empty()) continue;
    std::string name = loaded.value->name;
    auto [it, inserted] = set.by_name.emplace(name, std::move(*loaded.value));
    if (!inserted)
      result.diagnostics.push_back(
          Diagnostic{Diagnostic::Severity::error, SourceLocation{file.string(), 1, 1},
                     fmt::format("dialect '{}' is already defined in {}", name, it->second.file.string())});
  }
  result.value = std::move(set);
  return result;
}

}  // namespace provhil::scenario
