// Lab inventory (boards, lab network and secrets, interceptor settings) and firmware dialects.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "scenario/loader.hpp"
#include "scenario/yaml_reader.hpp"
#include "serial/port.hpp"
#include "serial/reset.hpp"

namespace provhil::scenario {

namespace {

using detail::describe_node;
using detail::YamlReader;

std::filesystem::path expand_path(const std::string& text, const std::filesystem::path& base) {
  std::filesystem::path p;
  if (text.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    p = std::filesystem::path(home ? home : "") / text.substr(2);
  } else {
    p = text;
  }
  if (p.is_relative()) p = base / p;
  return p.lexically_normal();
}

class InventoryParser {
 public:
  InventoryParser(YamlReader& reader, const std::filesystem::path& base, const InventoryOptions& options)
      : r_(reader), base_(base), options_(options) {}

  Inventory parse(const YAML::Node& root) {
    Inventory inv;
    inv.dialects_dir = base_ / "dialects";
    if (!r_.expect_map(root, "an inventory file")) return inv;
    r_.check_keys(root, {"boards", "lab", "interceptor", "dialects"}, "the inventory");
    if (const YAML::Node d = root["dialects"]; d.IsDefined()) {
      if (auto text = r_.text(d, "'dialects' (the dialect folder)"))
        inv.dialects_dir = expand_path(*text, base_);
    }
    // The lab first: secrets of boards may come from its secrets file.
    if (const YAML::Node lab = root["lab"]; lab.IsDefined()) parse_lab(lab, inv.lab);
    load_secrets_file(inv.lab);
    resolve_secret(inv.lab.wifi_ssid);
    resolve_secret(inv.lab.wifi_pass);
    for (auto& [key, value] : inv.lab.values)
      resolve_secret(value);
    const YAML::Node boards = root["boards"];
    if (!boards.IsDefined()) {
      r_.error(SourceLocation{r_.file(), 1, 1}, "missing key 'boards' (the list of boards)");
    } else if (r_.expect_list(boards, "'boards'")) {
      std::set<std::string> names;
      for (const auto& item : boards) {
        auto board = parse_board(item);
        if (!board) continue;
        if (!board->name.empty() && !names.insert(board->name).second)
          r_.error(item["name"],
                   fmt::format("board name '{}' is used twice: names must be unique", board->name));
        inv.boards.push_back(std::move(*board));
      }
      if (boards.size() == 0) r_.error(boards, "'boards' is empty: list at least one board");
    }
    if (const YAML::Node n = root["interceptor"]; n.IsDefined()) parse_interceptor(n, inv.interceptor);
    return inv;
  }

 private:
  YamlReader& r_;
  std::filesystem::path base_;
  const InventoryOptions& options_;
  std::optional<YAML::Node> secrets_;
  std::string secrets_path_;

  SecretValue parse_secret(const YAML::Node& n, std::string_view what, bool secret) {
    SecretValue value;
    value.where = r_.where(n);
    value.secret = secret;
    if (n.IsScalar()) {
      value.source = SecretValue::Source::literal;
      value.value = n.Scalar();
      return value;
    }
    if (!n.IsMap()) {
      r_.error(n, fmt::format("{} must be a value, {{ env: NAME }} or {{ secret: KEY }}, found {}", what,
                              describe_node(n)));
      return value;
    }
    r_.check_keys(n, {"env", "secret", "default"}, what);
    value.secret = true;
    const YAML::Node env = n["env"];
    const YAML::Node key = n["secret"];
    if (env.IsDefined() == key.IsDefined()) {
      r_.error(
          n, fmt::format("{} takes exactly one of 'env' (an environment variable) or 'secret' (a key of the "
                         "secrets file)",
                         what));
      return value;
    }
    value.source = env.IsDefined() ? SecretValue::Source::env : SecretValue::Source::secrets_file;
    value.key = r_.text(env.IsDefined() ? env : key, what).value_or("");
    if (const YAML::Node d = n["default"]; d.IsDefined()) value.fallback = r_.text(d, "'default'");
    return value;
  }

  void resolve_secret(SecretValue& value) {
    if (value.source == SecretValue::Source::literal) return;
    if (value.source == SecretValue::Source::env) {
      if (const char* env = std::getenv(value.key.c_str())) {
        value.value = env;
        return;
      }
      if (value.fallback) {
        value.value = *value.fallback;
        return;
      }
      missing(value, fmt::format("environment variable {} is not set and no 'default' is given", value.key));
      return;
    }
    if (!secrets_) {
      missing(
          value,
          fmt::format(
              "secret '{}' needs a secrets file: give --secrets FILE, PROVHIL_SECRETS or lab.secrets_file",
              value.key));
      return;
    }
    const YAML::Node entry = (*secrets_)[value.key];
    if (entry.IsDefined() && entry.IsScalar()) {
      value.value = entry.Scalar();
      return;
    }
    if (value.fallback) {
      value.value = *value.fallback;
      return;
    }
    missing(value, fmt::format("secret '{}' is not in the secrets file {}", value.key, secrets_path_));
  }

  void missing(const SecretValue& value, std::string message) {
    Diagnostic d{options_.require_secrets ? Diagnostic::Severity::error : Diagnostic::Severity::warning,
                 value.where, std::move(message)};
    extra_.push_back(std::move(d));
  }

 public:
  std::vector<Diagnostic> extra_;

 private:
  void load_secrets_file(Lab& lab) {
    std::optional<std::filesystem::path> path = options_.secrets_file;
    if (!path) {
      if (const char* env = std::getenv("PROVHIL_SECRETS"); env && *env) path = std::filesystem::path(env);
    }
    if (!path) path = lab.secrets_file;
    if (!path) return;
    lab.secrets_file = *path;
    secrets_path_ = path->string();
    auto text = detail::read_text_file(*path);
    if (!text) {
      extra_.push_back(Diagnostic{
          options_.require_secrets ? Diagnostic::Severity::error : Diagnostic::Severity::warning,
          SourceLocation{r_.file(), 0, 0}, fmt::format("cannot read the secrets file {}", secrets_path_)});
      return;
    }
    try {
      YAML::Node node = YAML::Load(*text);
      if (!node.IsMap()) {
        extra_.push_back(Diagnostic{Diagnostic::Severity::error, SourceLocation{secrets_path_, 1, 1},
                                    "a secrets file must be a mapping of key: value"});
        return;
      }
      secrets_ = node;
    } catch (const YAML::Exception& e) {
      extra_.push_back(Diagnostic{Diagnostic::Severity::error,
                                  SourceLocation{secrets_path_, e.mark.line + 1, e.mark.column + 1},
                                  fmt::format("not valid YAML: {}", e.msg)});
    }
  }

  void parse_lab(const YAML::Node& lab, Lab& out) {
    if (!r_.expect_map(lab, "'lab'")) return;
    r_.check_keys(lab, {"wifi", "secrets_file", "vars"}, "'lab'");
    if (const YAML::Node wifi = lab["wifi"]; wifi.IsDefined() && r_.expect_map(wifi, "'lab.wifi'")) {
      r_.check_keys(wifi, {"ssid", "pass"}, "'lab.wifi'");
      if (const YAML::Node n = wifi["ssid"]; n.IsDefined())
        out.wifi_ssid = parse_secret(n, "'lab.wifi.ssid'", false);
      else
        r_.error(wifi, "'lab.wifi' needs 'ssid'");
      if (const YAML::Node n = wifi["pass"]; n.IsDefined())
        out.wifi_pass = parse_secret(n, "'lab.wifi.pass'", true);
      else
        r_.error(wifi, "'lab.wifi' needs 'pass' (a value, { env: NAME } or { secret: KEY })");
    }
    if (const YAML::Node n = lab["secrets_file"]; n.IsDefined()) {
      if (auto text = r_.text(n, "'lab.secrets_file'")) out.secrets_file = expand_path(*text, base_);
    }
    if (const YAML::Node vars = lab["vars"]; vars.IsDefined() && r_.expect_map(vars, "'lab.vars'")) {
      for (auto it = vars.begin(); it != vars.end(); ++it) {
        std::string key = it->first.Scalar();
        out.values[key] = parse_secret(it->second, fmt::format("'lab.vars.{}'", key), false);
      }
    }
  }

  std::optional<Board> parse_board(const YAML::Node& item) {
    if (!r_.expect_map(item, "a board")) return std::nullopt;
    r_.check_keys(
        item,
        {"name", "port", "sim", "baud", "flow_control", "reset", "dialect", "tags", "join", "token", "vars"},
        "a board");
    Board board;
    board.where = r_.where(item);
    const YAML::Node name = item["name"];
    if (!name.IsDefined()) {
      r_.error(item, "a board needs 'name'");
    } else if (auto text = r_.text(name, "a board's 'name'")) {
      board.name = *text;
      bool ok = !board.name.empty() && std::all_of(board.name.begin(), board.name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
      });
      if (!ok)
        r_.error(name,
                 fmt::format("bad board name '{}': expected letters, digits, - _ and . (it names report "
                             "folders)",
                             board.name));
    }
    const YAML::Node port = item["port"];
    const YAML::Node sim = item["sim"];
    if (port.IsDefined() && sim.IsDefined()) {
      r_.error(sim, "a board has either 'port' (a real board) or 'sim' (a simulated one), found both");
    } else if (!port.IsDefined() && !sim.IsDefined()) {
      r_.error(item,
               fmt::format("board '{}' needs 'port' (e.g. usb:10c4:ea60, /dev/ttyUSB0, tcp://host:port) or "
                           "'sim: {{ profile: FILE }}'",
                           board.name));
    }
    // The port's kind decides which reset strategies can work: known here, so that a strategy the
    // backend cannot do fails now and not in the middle of a run. Nothing is opened.
    std::optional<serial::PortKind> port_kind;
    if (port.IsDefined()) {
      if (auto text = r_.text(port, "'port'")) {
        board.port = *text;
        if (board.port.empty()) {
          r_.error(port, "'port' must not be empty");
        } else {
          try {
            auto spec = serial::parse_port_spec(board.port);
            port_kind = spec.kind;
            // A replayed log's relative path is relative to the inventory, as every other path here.
            if (spec.kind == serial::PortKind::replay && spec.path.is_relative()) {
              auto options = board.port.substr(7 + spec.path.string().size());
              board.port = "replay:" + (base_ / spec.path).lexically_normal().string() + options;
            }
          } catch (const std::invalid_argument& e) {
            r_.error(port, e.what());
          }
        }
      }
    }
    if (sim.IsDefined() && r_.expect_map(sim, "'sim'")) {
      r_.check_keys(sim, {"profile"}, "'sim'");
      const YAML::Node profile = sim["profile"];
      if (!profile.IsDefined()) {
        r_.error(sim, "'sim' needs 'profile' (the simulator profile file)");
      } else if (auto text = r_.text(profile, "'sim.profile'")) {
        // A bare name means <inventory folder>/sim/<name>.yaml.
        std::string file = *text;
        if (file.find('/') == std::string::npos && file.find('.') == std::string::npos)
          file = "sim/" + file + ".yaml";
        board.sim_profile = expand_path(file, base_);
        if (!std::filesystem::exists(*board.sim_profile))
          r_.error(profile, fmt::format("simulator profile not found: {}", board.sim_profile->string()));
      }
    }
    if (const YAML::Node n = item["baud"]; n.IsDefined())
      board.baud = static_cast<int>(r_.integer(n, "'baud'", 300, 4000000).value_or(115200));
    if (const YAML::Node n = item["flow_control"]; n.IsDefined()) {
      if (auto v = r_.choice(n, "'flow_control'", {"none", "rtscts", "xonxoff"}))
        board.flow_control = *v == "rtscts"    ? Board::FlowControl::rtscts
                             : *v == "xonxoff" ? Board::FlowControl::xonxoff
                                               : Board::FlowControl::none;
    }
    // Default reset: a simulated board gets SIGUSR1 (the simulator's EN pin); a real one has none unless
    // told. A simulated board runs on a pty.
    if (board.simulated()) port_kind = serial::PortKind::pty;
    board.reset = serial::parse_reset_strategy(board.simulated() ? "signal" : "none");
    if (const YAML::Node n = item["reset"]; n.IsDefined()) {
      if (auto reset = parse_reset(n)) {
        board.reset = std::move(reset->first);
        if (port_kind) {
          if (auto why = serial::reset_unsupported_reason(board.reset, *port_kind); !why.empty())
            r_.error(reset->second, fmt::format("reset '{}' cannot work on {}: {}", reset->second.Scalar(),
                                                board.simulated() ? std::string("a simulated board (a pty)")
                                                                  : fmt::format("port {}", board.port),
                                                why));
        }
      }
    }
    if (const YAML::Node n = item["dialect"]; n.IsDefined()) {
      if (auto text = r_.text(n, "'dialect'")) board.dialect = *text;
    }
    if (const YAML::Node n = item["tags"]; n.IsDefined()) board.tags = r_.text_list(n, "'tags'");
    if (const YAML::Node n = item["join"]; n.IsDefined()) {
      if (auto text = r_.text(n, "'join' (the command that joins the board's setup AP)")) {
        board.join = *text;
        r_.check_template(n, board.join);
      }
    }
    if (const YAML::Node n = item["token"]; n.IsDefined()) {
      board.token = parse_secret(n, "'token'", true);
      resolve_secret(*board.token);
      if (board.token->value && board.token->value->size() != 32)
        r_.error(n, fmt::format("a token has exactly 32 characters, found {}", board.token->value->size()));
    }
    if (const YAML::Node vars = item["vars"]; vars.IsDefined() && r_.expect_map(vars, "a board's 'vars'")) {
      for (auto it = vars.begin(); it != vars.end(); ++it) {
        std::string key = it->first.Scalar();
        if (key == "name" || key == "port" || key == "dialect" || key == "token")
          r_.error(it->first,
                   fmt::format("board var '{}' would hide ${{board.{}}}: choose another name", key, key));
        if (auto text = r_.text(it->second, fmt::format("board var '{}'", key))) board.vars[key] = *text;
      }
    }
    return board;
  }

  // `reset:` through serial::parse_reset_strategy: a scalar (`esp32-dtr-rts`, `console:restart`,
  // `command:hubctl -p 3 -a cycle`, `signal:SIGUSR2`, ...) or a map `{ strategy: ..., OPTION: ... }` with
  // serial's options (`pulse: 200ms` is accepted for `pulse_ms: 200`). On success: the strategy and the
  // node naming it (where an unsupported-port error goes). Errors are reported here.
  std::optional<std::pair<serial::ResetStrategy, YAML::Node>> parse_reset(const YAML::Node& n) {
    static const std::vector<std::string> option_keys = {
        "pulse_ms", "bootloader", "bootloader_hold_ms", "command", "line_ending", "timeout_ms", "signal"};
    // yaml-cpp's Node::operator= writes through to the document: nodes here are only ever
    // copy-constructed (emplace, pointers), never assigned.
    const YAML::Node strategy_node = n.IsMap() ? n["strategy"] : n;
    std::map<std::string, std::string> options;
    std::map<std::string, YAML::Node> option_nodes;  // option -> the value written for it
    if (n.IsMap()) {
      std::vector<std::string> allowed = {"strategy", "pulse"};
      allowed.insert(allowed.end(), option_keys.begin(), option_keys.end());
      r_.check_keys(n, allowed, "'reset'");
      if (!strategy_node.IsDefined()) {
        r_.error(n, "'reset' needs 'strategy' (esp32-dtr-rts, dtr-pulse, console, command, signal or none)");
        return std::nullopt;
      }
      bool ok = true;
      for (const auto& key : option_keys) {
        const YAML::Node value = n[key];
        if (!value.IsDefined()) continue;
        auto text = r_.text(value, fmt::format("'reset.{}'", key));
        if (!text) {
          ok = false;
          continue;
        }
        options[key] = *text;
        option_nodes.emplace(key, value);
      }
      if (const YAML::Node pulse = n["pulse"]; pulse.IsDefined()) {
        if (options.contains("pulse_ms")) {
          r_.error(pulse, "'reset' takes 'pulse' (a duration) or 'pulse_ms' (milliseconds), not both");
          ok = false;
        } else if (auto duration = r_.duration(pulse, "'reset.pulse'")) {
          options["pulse_ms"] = std::to_string(duration->count());
          option_nodes.emplace("pulse_ms", pulse);
        } else {
          ok = false;
        }
      }
      if (!ok) return std::nullopt;
    }
    auto text = r_.text(strategy_node, "'reset' (the reset strategy)");
    if (!text) return std::nullopt;
    try {
      return std::make_pair(serial::parse_reset_strategy(*text, options), strategy_node);
    } catch (const std::invalid_argument& e) {
      std::string message = e.what();
      // serial's messages start with what is wrong: "reset option KEY: ...", "reset signal ...",
      // "reset command ...: unterminated quote"; anything else is about the strategy itself.
      const YAML::Node* at = &strategy_node;
      for (const auto& [key, node] : option_nodes)
        if (message.starts_with(fmt::format("reset option {}:", key))) at = &node;
      if (message.starts_with("reset signal ") && option_nodes.contains("signal"))
        at = &option_nodes.at("signal");
      if (message.starts_with("reset command ") && option_nodes.contains("command"))
        at = &option_nodes.at("command");
      if (message.find(": unknown strategy") != std::string::npos) {
        auto name = text->substr(0, text->find(':'));
        auto suggestion =
            did_you_mean(name, {"esp32-dtr-rts", "dtr-pulse", "console", "command", "signal", "none"});
        if (!suggestion.empty()) message += fmt::format("; did you mean '{}'?", suggestion);
      }
      r_.error(*at, std::move(message));
      return std::nullopt;
    }
  }

  void parse_interceptor(const YAML::Node& n, InterceptorSettings& out) {
    if (!r_.expect_map(n, "'interceptor'")) return;
    r_.check_keys(n, {"listen", "advertise", "mode", "upstream", "ca_dir"}, "'interceptor'");
    if (const YAML::Node l = n["listen"]; l.IsDefined()) {
      if (auto text = r_.text(l, "'interceptor.listen'")) {
        auto colon = text->rfind(':');
        bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text->size() &&
                  std::all_of(text->begin() + static_cast<long>(colon) + 1, text->end(),
                              [](unsigned char c) { return std::isdigit(c); }) &&
                  std::stol(text->substr(colon + 1)) <= 65535;
        if (!ok)
          r_.error(
              l, fmt::format("bad 'interceptor.listen' '{}': expected host:port, e.g. 0.0.0.0:8443", *text));
        out.listen = *text;
      }
    }
    if (const YAML::Node a = n["advertise"]; a.IsDefined())
      out.advertise = r_.text(a, "'advertise'").value_or("");
    if (const YAML::Node m = n["mode"]; m.IsDefined()) {
      if (auto v = r_.choice(m, "interceptor mode", {"mock", "proxy"}))
        out.mode = *v == "proxy" ? InterceptorSettings::Mode::proxy : InterceptorSettings::Mode::mock;
    }
    if (const YAML::Node u = n["upstream"]; u.IsDefined()) {
      if (auto text = r_.text(u, "'upstream'")) {
        if (text->rfind("https://", 0) != 0 && text->rfind("http://", 0) != 0)
          r_.error(u, fmt::format("bad 'upstream' '{}': expected a URL such as https://blynk.cloud", *text));
        out.upstream = *text;
      }
    }
    if (const YAML::Node c = n["ca_dir"]; c.IsDefined()) {
      if (auto text = r_.text(c, "'ca_dir'")) out.ca_dir = expand_path(*text, base_);
    }
  }
};

}  // namespace

Loaded<Inventory> load_inventory(const std::filesystem::path& file, const InventoryOptions& options) {
  Loaded<Inventory> result;
  YamlReader reader(file.string(), result.diagnostics);
  std::string why;
  auto text = detail::read_text_file(file, why);
  if (!text) {
    reader.error(SourceLocation{file.string(), 0, 0}, "cannot read the inventory file: " + why);
    return result;
  }
  if (auto bad = detail::first_invalid_utf8(*text)) {
    reader.error(SourceLocation{file.string(), bad->first, bad->second}, "the file is not valid UTF-8");
    return result;
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    reader.error(reader.where(e.mark), fmt::format("not valid YAML: {}", e.msg));
    return result;
  }
  auto base = std::filesystem::absolute(file).parent_path();
  InventoryParser parser(reader, base, options);
  result.value = parser.parse(root);
  result.value->file = file;
  for (auto& d : parser.extra_)
    result.diagnostics.push_back(std::move(d));
  detail::sort_by_place(result.diagnostics);
  return result;
}

}  // namespace provhil::scenario
