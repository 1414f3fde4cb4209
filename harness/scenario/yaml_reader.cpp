#include "scenario/detail/yaml_reader.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <fmt/format.h>
#include <boost/regex.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "common/files.hpp"
#include "common/text.hpp"
#include "scenario/variables.hpp"

namespace provhil::scenario::detail {

std::string describe_node(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "an empty value";
    case YAML::NodeType::Scalar:
      if (node.Scalar().size() > 200) return fmt::format("a text of {} bytes", node.Scalar().size());
      return fmt::format("'{}'", node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

SourceLocation YamlReader::where(const YAML::Mark& mark) const {
  // yaml-cpp counts from 0 and uses -1 for "no position".
  return SourceLocation{file_, mark.line < 0 ? 0 : mark.line + 1, mark.column < 0 ? 0 : mark.column + 1};
}

SourceLocation YamlReader::where(const YAML::Node& node) const {
  if (!node.IsDefined()) return SourceLocation{file_, 0, 0};
  return where(node.Mark());
}

// Messages echo values from the file: a NUL or an escape sequence is shown as \xHH, never raw.
void YamlReader::error(const SourceLocation& location, std::string message) {
  diagnostics_.push_back(Diagnostic{Diagnostic::Severity::error, location, sanitize_text(message)});
}

void YamlReader::error(const YAML::Node& node, std::string message) {
  error(where(node), std::move(message));
}

void YamlReader::warning(const YAML::Node& node, std::string message) {
  diagnostics_.push_back(Diagnostic{Diagnostic::Severity::warning, where(node), sanitize_text(message)});
}

bool YamlReader::expect_map(const YAML::Node& node, std::string_view what) {
  if (node.IsMap()) return true;
  error(node, fmt::format("{} must be a mapping (key: value), found {}", what, describe_node(node)));
  return false;
}

bool YamlReader::expect_list(const YAML::Node& node, std::string_view what) {
  if (node.IsSequence()) return true;
  error(node, fmt::format("{} must be a list, found {}", what, describe_node(node)));
  return false;
}

bool YamlReader::expect_scalar(const YAML::Node& node, std::string_view what) {
  if (node.IsScalar()) return true;
  error(node, fmt::format("{} must be a single value, found {}", what, describe_node(node)));
  return false;
}

void YamlReader::check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                            std::string_view context) {
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: `it->` is a temporary proxy
    if (!key.IsScalar()) {
      error(key, fmt::format("a key in {} must be a plain word, found {}", context, describe_node(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (!seen.insert(name).second) {
      error(key, fmt::format("duplicate key '{}' in {}", name, context));
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    auto suggestion = did_you_mean(name, allowed);
    std::string expected;
    for (const auto& a : allowed)
      expected += (expected.empty() ? "" : ", ") + a;
    if (!suggestion.empty())
      error(key, fmt::format("unknown key '{}' in {}; did you mean '{}'? (expected one of: {})", name,
                             context, suggestion, expected));
    else
      error(key, fmt::format("unknown key '{}' in {} (expected one of: {})", name, context, expected));
  }
}

std::optional<std::string> YamlReader::text(const YAML::Node& node, std::string_view what) {
  if (!expect_scalar(node, what)) return std::nullopt;
  return node.Scalar();
}

std::optional<long long> YamlReader::integer(const YAML::Node& node, std::string_view what, long long min,
                                             long long max) {
  if (!expect_scalar(node, what)) return std::nullopt;
  const std::string& s = node.Scalar();
  long long value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    error(node, fmt::format("{} must be a whole number, found '{}'", what, s));
    return std::nullopt;
  }
  if (value < min || value > max) {
    error(node, fmt::format("{} must be between {} and {}, found {}", what, min, max, value));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> YamlReader::boolean(const YAML::Node& node, std::string_view what) {
  if (!expect_scalar(node, what)) return std::nullopt;
  std::string s = node.Scalar();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  error(node, fmt::format("{} must be true or false (or on/off), found '{}'", what, node.Scalar()));
  return std::nullopt;
}

std::optional<Duration> YamlReader::duration(const YAML::Node& node, std::string_view what) {
  if (!expect_scalar(node, what)) return std::nullopt;
  auto parsed = parse_duration(node.Scalar());
  if (!parsed)
    error(node, fmt::format("bad duration '{}' for {}: expected a number with a unit ms, s, m or h "
                            "(e.g. 500ms, 10s, 1.5s, 2m)",
                            node.Scalar(), what));
  return parsed;
}

std::vector<std::string> YamlReader::text_list(const YAML::Node& node, std::string_view what) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence()) {
    error(node, fmt::format("{} must be a value or a list of values, found {}", what, describe_node(node)));
    return out;
  }
  for (const auto& item : node) {
    if (auto value = text(item, fmt::format("each item of {}", what))) out.push_back(*value);
  }
  return out;
}

std::optional<std::string> YamlReader::choice(const YAML::Node& node, std::string_view what,
                                              const std::vector<std::string>& choices) {
  auto value = text(node, what);
  if (!value) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *value) != choices.end()) return value;
  std::string expected;
  for (const auto& c : choices)
    expected += (expected.empty() ? "" : ", ") + c;
  auto suggestion = did_you_mean(*value, choices);
  if (!suggestion.empty())
    error(node, fmt::format("bad {} '{}'; did you mean '{}'? (expected one of: {})", what, *value, suggestion,
                            expected));
  else
    error(node, fmt::format("bad {} '{}' (expected one of: {})", what, *value, expected));
  return std::nullopt;
}

void YamlReader::check_template(const YAML::Node& node, const std::string& value) {
  if (value.find('$') == std::string::npos) return;
  std::string problem;
  auto refs = find_references(value, &problem);
  if (!problem.empty())
    error(node, problem);
  else if (!refs.empty() && template_sink)
    template_sink->push_back(TemplateSite{value, where(node)});
}

namespace {

void write_json_string(std::string& out, const std::string& s) {
  out += boost::json::serialize(boost::json::string(s));
}

bool looks_like_json_literal(const YAML::Node& node) {
  // Quoted YAML scalars have the tag "!"; plain ones "?". Only plain numbers/bools/null stay bare.
  if (node.Tag() == "!") return false;
  static const boost::regex literal(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null)");
  return boost::regex_match(node.Scalar(), literal);
}

void write_json(std::string& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!first) out += ',';
        first = false;
        write_json_string(out, it->first.Scalar());
        out += ':';
        write_json(out, it->second);
      }
      out += '}';
      break;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& item : node) {
        if (!first) out += ',';
        first = false;
        write_json(out, item);
      }
      out += ']';
      break;
    }
    case YAML::NodeType::Scalar:
      if (looks_like_json_literal(node))
        out += node.Scalar();
      else
        write_json_string(out, node.Scalar());
      break;
    default:
      out += "null";
  }
}

}  // namespace

void sort_by_place(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) <
           std::tie(b.where.file, b.where.line, b.where.column);
  });
}

std::string to_json(const YAML::Node& node) {
  std::string out;
  write_json(out, node);
  return out;
}

namespace {

// True when a character class is still open at the end of `regex`.
bool has_open_bracket(const std::string& regex) {
  bool in_class = false;
  for (std::size_t i = 0; i < regex.size(); ++i) {
    if (regex[i] == '\\') {
      ++i;
    } else if (!in_class && regex[i] == '[') {
      in_class = true;
      if (i + 1 < regex.size() && regex[i + 1] == '^') ++i;
      if (i + 1 < regex.size() && regex[i + 1] == ']') ++i;  // a leading ']' is literal
    } else if (in_class && regex[i] == ']') {
      in_class = false;
    }
  }
  return in_class;
}

}  // namespace

namespace {

class BoundsWalker {
 public:
  BoundsWalker(YamlReader& reader, const YamlLimits& limits) : r_(reader), limits_(limits) {}

  // `at`: where to point when `node` breaks a bound (an alias has no mark of its own: the key before
  // it, or the list holding it, is the closest place).
  bool walk(const YAML::Node& node, const YAML::Mark& at) {
    if (++visited_ > limits_.max_nodes) {
      r_.error(r_.where(at), fmt::format("the document expands to more than {} nodes (YAML aliases repeat "
                                         "what they refer to): write it out or split it",
                                         limits_.max_nodes));
      return false;
    }
    if (!node.IsMap() && !node.IsSequence()) return true;
    for (const auto& open : path_) {
      if (open.is(node)) {
        r_.error(r_.where(at), "a YAML alias refers to a node that contains it (an endless loop)");
        return false;
      }
    }
    if (static_cast<int>(path_.size()) >= limits_.max_depth) {
      r_.error(r_.where(at), fmt::format("lists and mappings nested more than {} deep", limits_.max_depth));
      return false;
    }
    path_.push_back(node);
    bool ok = true;
    if (node.IsMap()) {
      for (auto it = node.begin(); ok && it != node.end(); ++it) {
        ok = walk(it->first, it->first.Mark()) && walk(it->second, it->first.Mark());
      }
    } else {
      for (auto it = node.begin(); ok && it != node.end(); ++it) {
        const YAML::Node item = *it;
        YAML::Mark mark = item.Mark();
        // An alias to an enclosing node carries that node's (earlier) mark: point at the list instead.
        if (mark.line < node.Mark().line ||
            (mark.line == node.Mark().line && mark.column <= node.Mark().column))
          mark = node.Mark();
        ok = walk(item, mark);
      }
    }
    path_.pop_back();
    return ok;
  }

 private:
  YamlReader& r_;
  const YamlLimits& limits_;
  std::size_t visited_ = 0;
  std::vector<YAML::Node> path_;
};

}  // namespace

bool check_yaml_bounds(const YAML::Node& root, YamlReader& reader, const YamlLimits& limits) {
  BoundsWalker walker(reader, limits);
  return walker.walk(root, root.Mark());
}

std::optional<std::string> regex_error(const std::string& regex) {
  try {
    boost::regex compiled(regex, boost::regex::perl);
    return std::nullopt;
  } catch (const boost::regex_error& e) {
    // Boost's own texts can mislead (an open '[' is reported as a stray ')'): name the problem from
    // its code, and where it is.
    namespace rc = boost::regex_constants;
    std::string what;
    switch (e.code()) {
      case rc::error_brack:
        what = "a '[' without its ']'";
        break;
      case rc::error_paren:
        // Boost 1.81 also reports an unclosed '[' this way.
        what = has_open_bracket(regex) ? "a '[' without its ']'" : "unbalanced parentheses";
        break;
      case rc::error_brace:
        what = "a '{' without its '}'";
        break;
      case rc::error_badbrace:
        what = "a bad {n,m} repeat";
        break;
      case rc::error_range:
        what = "a bad character range";
        break;
      case rc::error_escape:
        what = "a bad escape";
        break;
      case rc::error_badrepeat:
        what = "nothing to repeat before '*', '+', '?' or '{'";
        break;
      case rc::error_backref:
        what = "a back-reference to a group that does not exist";
        break;
      case rc::error_perl_extension:
        what = "a bad (?...) group";
        break;
      default:
        return std::string(e.what());
    }
    return fmt::format("{} (at character {})", what, e.position() + 1);
  }
}

std::optional<std::string> read_text_file(const std::filesystem::path& file, std::string* error) {
  return read_file_capped(file, max_input_file_bytes, error);
}

}  // namespace provhil::scenario::detail
