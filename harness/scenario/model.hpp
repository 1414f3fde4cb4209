#pragma once

// The scenario language as plain data: what the loader produces and the runner executes.
// Nothing here parses or runs anything. Strings documented as "template" may hold `${...}`
// references that the runner resolves per board at run time (scenario/variables.hpp).

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/enum_names.hpp"
#include "intercept/provision.hpp"  // the fault kinds and their names (plain data, header only here)
#include "serial/reset.hpp"

namespace provhil::scenario {

using Duration = std::chrono::milliseconds;

// Where something was written: 1-based line and column. `file` is the path as given to the loader.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string to_string() const;  // "file:line:column"
};

// ---------------------------------------------------------------------------------------------
// Checks on one named value (a provision query parameter, a header, a board_info field, a login
// info field). A plain scalar in YAML is `equals`.
struct ValueCheck {
  enum class Kind { equals, matches, one_of, present, absent };
  Kind kind = Kind::equals;
  std::string value;                // equals: template; matches: regex template (Perl, Boost.Regex)
  std::vector<std::string> values;  // one_of: templates
  SourceLocation where;
};

struct NamedCheck {
  std::string name;  // parameter / header / field name, exactly as written
  ValueCheck check;
};

// ---------------------------------------------------------------------------------------------
// Serial line matchers. The console engine searches each line (regex_search, not a full match).
struct Matcher {
  enum class Kind {
    line,     // `pattern` is a regex template
    literal,  // `pattern` is a literal substring template
    state,    // `pattern` is a dialect state name, e.g. RUNNING: the line of the transition into it
    event,    // `pattern` is a dialect event name, e.g. ready
  };
  Kind kind = Kind::line;
  std::string pattern;
  SourceLocation where;
  std::string describe() const;  // e.g. "state RUNNING", "line /Ready/", "literal \"x\""
};

// ---------------------------------------------------------------------------------------------
// Step kinds.

// `reset: hard` uses the board's reset strategy from the inventory; `soft` sends the console
// `reboot` command.
struct ResetStep {
  static constexpr std::string_view keyword = "reset";
  static constexpr bool value_optional = true;  // `- reset:` alone is complete
  static constexpr std::string_view value_hint = "hard or soft";
  enum class Mode { hard, soft };
  Mode mode = Mode::hard;
};

// `send: <text>` writes text + line end (CR LF) to the console; `{ text: ..., newline: false }`.
struct SendStep {
  static constexpr std::string_view keyword = "send";
  static constexpr std::string_view value_hint = "the text to send, e.g. 'send: config erase'";
  std::string text;  // template
  bool newline = true;
};

// `expect:` waits (default `within`: 10s) until one of `any_of` matches a line. `must_not` patterns
// fail the step when one of them appears before the match. Named groups of the matching pattern
// become variables, as with capture.
struct ExpectStep {
  static constexpr std::string_view keyword = "expect";
  static constexpr std::string_view value_hint = "what to wait for, e.g. '{ state: RUNNING }'";
  std::vector<Matcher> any_of;  // at least one; one entry when written without any_of
  std::vector<Matcher> must_not;
};

// `wait: 2s`: just let time pass (the board keeps being read).
struct WaitStep {
  static constexpr std::string_view keyword = "wait";
  static constexpr std::string_view value_hint = "a duration, e.g. 'wait: 2s'";
  Duration duration{0};
};

// `capture:` like expect (a line regex or dialect event with named groups), but at least one named
// group is required; each group's text becomes the variable of that name (`${mac}`).
struct CaptureStep {
  static constexpr std::string_view keyword = "capture";
  static constexpr std::string_view value_hint = "'{ line: REGEX with (?<name>...) }' or '{ event: NAME }'";
  Matcher from;
  std::vector<std::string> names;  // a line regex's named groups, in order (for an event: the dialect's)
};

// `ap_config:` plays the phone app against the board's setup AP: GET /board_info.json and check its
// fields, optionally GET /wifi_scan.json, then GET /config with `config` as query parameters and
// check the answer's `status` ("ok" or "error").
struct ApConfigStep {
  static constexpr std::string_view keyword = "ap_config";
  static constexpr std::string_view value_hint = "a mapping of its settings";
  std::vector<NamedCheck> board_info;      // checks on top-level fields of board_info.json
  bool wifi_scan = false;                  // also fetch /wifi_scan.json
  std::vector<std::string> scan_contains;  // SSIDs the scan must list (templates); implies wifi_scan
  // /config parameters in order (values: templates). Empty: /config is not called (only board_info,
  // e.g. to read last_error after a failure).
  std::vector<std::pair<std::string, std::string>> config;
  std::string expect_status = "ok";  // the /config answer's "status"
};

// How many provision requests the interceptor must see for this step.
struct CountRule {
  enum class Kind { exactly, at_least, none };
  Kind kind = Kind::exactly;
  int count = 1;
};

// The interceptor's built-in checks on a provision request, as `checks:` names them (each one a
// field of intercept::BuiltinChecks).
enum class BuiltinCheck {
  token_format,
  template_id_format,
  type_value,
  version_format,
  no_duplicates,
  method_get,
  path_exact,
};
constexpr std::string_view builtin_check_name(BuiltinCheck check) {
  switch (check) {  // no default: a new check without its name fails the build
    case BuiltinCheck::token_format:
      return "token_format";
    case BuiltinCheck::template_id_format:
      return "template_id_format";
    case BuiltinCheck::type_value:
      return "type_value";
    case BuiltinCheck::version_format:
      return "version_format";
    case BuiltinCheck::no_duplicates:
      return "no_duplicates";
    case BuiltinCheck::method_get:
      return "method_get";
    case BuiltinCheck::path_exact:
      return "path_exact";
  }
  return {};
}
using BuiltinCheckNames = EnumNames<builtin_check_name>;

// One scripted misbehaviour of the interceptor.
struct Fault {
  // The interceptor's own kinds, so that a scenario names exactly what the interceptor can do: a
  // fault on the answer (delay, close, reset, malformed, truncated, tls_truncation) or a connection
  // fault (tls_alert, stall_handshake, expired_cert, wrong_name_cert).
  using Kind = std::variant<intercept::Fault::Kind, intercept::ConnectionFault::Kind>;
  // A connection fault acts during the handshake, before a token is known: `request` then counts
  // connections, not requests.
  bool connection_fault() const { return std::holds_alternative<intercept::ConnectionFault::Kind>(kind); }
  Kind kind = intercept::Fault::Kind::delay;
  std::optional<int> request;  // 1-based: only the Nth request; empty: every request
  Duration delay{0};
  std::optional<Duration> delay_max;
  std::optional<std::uint64_t> seed;
  SourceLocation where;
};

// The fault kinds' names, as scenarios write them: the interceptor's tables (intercept/provision.hpp).
// `fault_kind_names()` lists them all; `parse_fault_kind` maps one back.
std::string_view to_string(Fault::Kind kind);
const std::vector<std::string>& fault_kind_names();
std::optional<Fault::Kind> parse_fault_kind(std::string_view name);

// The interceptor's answer. Exactly one of respond (default 200 `{}`), redirect, proxy applies.
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // values: templates
  std::optional<std::string> body;                           // template; empty: interceptor default
};

struct Redirect {
  std::string location;  // template, e.g. https://fra1.blynk.cloud:${interceptor.port}
  int status = 308;
};

struct Proxy {
  std::string upstream;  // empty: the inventory's interceptor upstream
};

// `expect_provision:` registers with the interceptor, keyed by the board's token, what the board
// must send (checks) and how to answer, then waits `within` (default 60s) until `count` is satisfied.
struct ExpectProvisionStep {
  static constexpr std::string_view keyword = "expect_provision";
  static constexpr bool value_optional = true;  // `- expect_provision:` alone is complete
  static constexpr std::string_view value_hint = "a mapping of its settings";
  CountRule count;
  std::vector<NamedCheck> query;    // per query parameter
  std::vector<NamedCheck> headers;  // per header (names case-insensitive)
  // Built-in checks switched on/off; absent ones keep the interceptor's default (on).
  std::map<BuiltinCheck, bool> builtin_checks;
  std::variant<Response, Redirect, Proxy> answer = Response{};
  // `answers: [{ request: N, respond|redirect|proxy: ... }]`: the answer for the Nth request only.
  std::vector<std::pair<int, std::variant<Response, Redirect, Proxy>>> nth_answers;
  std::vector<Fault> faults;
  // The token the requests are keyed by (template); default "${board.token}".
  std::string token = "${board.token}";
};

// `expect_login:` the board logs in over the Blynk binary protocol (stock Edgent).
struct ExpectLoginStep {
  static constexpr std::string_view keyword = "expect_login";
  static constexpr bool value_optional = true;  // `- expect_login:` alone is complete
  static constexpr std::string_view value_hint = "a mapping of its settings";
  std::string token = "${board.token}";  // template: the HW_LOGIN body
  std::vector<NamedCheck> info;          // checks on the INTERNAL info frame (ver, dev, tmpl, fw-type ...)
  bool accept = true;                    // answer 200 (true) or 9 invalid token (false)
};

// `exec:` a host command through /bin/sh -c, with a deadline (`within`, default 30s).
struct ExecStep {
  static constexpr std::string_view keyword = "exec";
  static constexpr std::string_view value_hint = "a command, e.g. 'exec: ./power-cycle.sh'";
  std::string command;  // template
  int expect_exit = 0;
};

struct Step;

// `repeat:` runs `steps` `times` times; fails on the first failing iteration.
struct RepeatStep {
  static constexpr std::string_view keyword = "repeat";
  static constexpr std::string_view value_hint = "'{ times: N, steps: [...] }'";
  int times = 1;
  std::vector<Step> steps;
};

// `retry:` runs `steps` until they pass, at most `attempts` times, waiting `delay` between attempts.
struct RetryStep {
  static constexpr std::string_view keyword = "retry";
  static constexpr std::string_view value_hint = "'{ attempts: N, steps: [...] }'";
  int attempts = 1;
  Duration delay{0};
  std::vector<Step> steps;
};

// The step kinds. Each body type names its YAML key (`keyword`) and what its value looks like
// (`value_hint`); the loader parses and the runner executes each alternative through an overload set,
// so a kind added here without its keyword, parser or executor does not compile.
using StepBody = std::variant<ResetStep, SendStep, ExpectStep, WaitStep, CaptureStep, ApConfigStep,
                              ExpectProvisionStep, ExpectLoginStep, ExecStep, RepeatStep, RetryStep>;

template <class Kind>
concept HasKeyword = requires {
  { Kind::keyword } -> std::convertible_to<std::string_view>;
};
// The keywords of a variant of step kinds, in its order.
template <class Variant>
consteval auto keywords_of() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    static_assert((HasKeyword<std::variant_alternative_t<I, Variant>> && ...),
                  "a step kind without its keyword: add static constexpr std::string_view keyword");
    if constexpr ((HasKeyword<std::variant_alternative_t<I, Variant>> && ...))
      return std::array<std::string_view, sizeof...(I)>{std::variant_alternative_t<I, Variant>::keyword...};
    else
      return std::array<std::string_view, 0>{};
  }
  (std::make_index_sequence<std::variant_size_v<Variant>>{});
}
// Every step keyword, in the variant's order: the step kinds' name table.
inline constexpr auto step_keywords = keywords_of<StepBody>();
static_assert(
    [] {
      for (std::size_t i = 0; i < step_keywords.size(); ++i)
        for (std::size_t j = i + 1; j < step_keywords.size(); ++j)
          if (step_keywords[i] == step_keywords[j]) return false;
      return true;
    }(),
    "two step kinds share a keyword");

// A `${...}` template as written, with its place: what validation checks references against.
struct TemplateSite {
  std::string text;
  SourceLocation where;
};

struct Step {
  std::optional<std::string> name;  // `name:` as written
  std::optional<Duration> within;   // `within:`; empty: the kind's default (default_within())
  StepBody body;
  SourceLocation where;                 // the step's kind key
  std::vector<TemplateSite> templates;  // this step's own templates (not its nested steps'), in order
  std::string label() const;            // the name, or "<kind> at file:line"
  // The YAML key: "reset", "send", "expect", ... (the body's keyword).
  std::string_view kind() const {
    return std::visit([](const auto& b) { return std::decay_t<decltype(b)>::keyword; }, body);
  }
};

// Default deadlines when a step has no `within`.
Duration default_within(const Step& step);

// How many of the boards a selector matches run the scenario (`boards: { run_on: ... }`): each of
// them, or any one that is free (a pool: the runner hands the scenario to the next free matching board,
// so N matching boards run N such scenarios at once).
enum class RunOn { each, any };
constexpr std::string_view run_on_name(RunOn run_on) {
  switch (run_on) {  // no default: a new mode without its name fails the build
    case RunOn::each:
      return "each";
    case RunOn::any:
      return "any";
  }
  return {};
}
using RunOnNames = EnumNames<run_on_name>;

// Which boards a scenario runs on. Every non-empty list must match: the board has all `tags`,
// its name is one of `names`, its dialect is one of `dialects`. All empty: every board.
struct BoardSelector {
  std::vector<std::string> tags;
  std::vector<std::string> names;
  std::vector<std::string> dialects;
  RunOn run_on = RunOn::each;
  SourceLocation where;
};

struct Scenario {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  BoardSelector boards;
  Duration timeout{std::chrono::seconds(300)};
  struct Var {
    std::string name;
    std::string value;  // template: may use board/lab/interceptor values and earlier vars
    SourceLocation where;
  };
  std::vector<Var> vars;  // in order
  std::vector<Step> setup;
  std::vector<Step> steps;
  std::vector<Step> teardown;
  std::filesystem::path file;
  SourceLocation where;
};

// ---------------------------------------------------------------------------------------------
// Lab inventory.

// A value given in clear, from the environment (`{ env: NAME, default: x }`) or from the secrets
// file (`{ secret: key }`). `value` is filled at load time when it is known.
struct SecretValue {
  enum class Source { literal, env, secrets_file };
  Source source = Source::literal;
  std::string key;                      // env variable name or secrets-file key
  std::optional<std::string> value;     // resolved; empty when unavailable
  std::optional<std::string> fallback;  // `default:` used when the variable or key is missing
  bool secret = true;                   // mask it in logs (false only for non-secret literals)
  SourceLocation where;
};

struct Board {
  std::string name;
  // Real board: the port string (usb:VID:PID[:serial], /dev/serial/by-id/..., tcp://host:port,
  // rfc2217://host:port, pty:COMMAND, replay:PATH or a device path), checked with
  // serial::parse_port_spec at load time. Empty for a simulated board.
  std::string port;
  int baud = 115200;
  enum class FlowControl { none, rtscts, xonxoff };
  FlowControl flow_control = FlowControl::none;
  // `reset:` as serial::parse_reset_strategy reads it, checked at load time against the port kind
  // (serial::reset_unsupported_reason; a simulated board's port is a pty). Default: `signal` for a
  // simulated board (SIGUSR1 is its EN pin), `none` for a real one.
  serial::ResetStrategy reset;
  std::string dialect = "edgent-1.2";
  std::vector<std::string> tags;
  std::string join;                  // host command that joins the board's setup AP (template)
  std::optional<SecretValue> token;  // empty: a fresh token per run (generate_token())
  std::optional<std::filesystem::path> sim_profile;  // simulated board: absolute path to the profile
  std::map<std::string, std::string> vars;           // extra `${board.<key>}` values
  SourceLocation where;
  bool simulated() const { return sim_profile.has_value(); }
};

struct Lab {
  SecretValue wifi_ssid;
  SecretValue wifi_pass;
  std::map<std::string, SecretValue> values;  // `lab: { vars: {...} }` -> `${lab.<key>}`
  std::optional<std::filesystem::path> secrets_file;
};

struct InterceptorSettings {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  std::string advertise;               // what boards connect to (${interceptor.host}); empty: listen host
  enum class Mode { mock, proxy };
  Mode mode = Mode::mock;
  std::string upstream = "https://blynk.cloud";
  std::optional<std::filesystem::path> ca_dir;  // lab CA state folder; empty: the default
};

struct Inventory {
  std::vector<Board> boards;
  Lab lab;
  InterceptorSettings interceptor;
  std::filesystem::path dialects_dir;  // absolute; default <inventory dir>/dialects
  std::filesystem::path file;
};

// ---------------------------------------------------------------------------------------------
// Firmware dialects: how one firmware family logs states and events.

struct DialectPattern {
  std::string regex;  // Perl syntax, named groups `(?<name>...)`
  SourceLocation where;
};

struct Dialect {
  std::string name;
  std::string description;
  std::map<std::string, DialectPattern> states;  // state name -> the line of the transition into it
  std::map<std::string, DialectPattern> events;  // event name -> its line
  // The first line a board of this family prints after a reset (ROM `rst:` line, banner, or first
  // stamped line where there is no banner): `reset` waits for it. Unset: the `banner` event.
  std::optional<DialectPattern> boot;
  // A line only this family prints, early: `dialect: auto` picks the first dialect whose line shows up.
  std::optional<DialectPattern> detect;
  std::filesystem::path file;
};

// A board's `dialect: auto`: the runner picks the dialect whose `detect` line the board prints first.
inline constexpr std::string_view auto_dialect = "auto";

struct DialectSet {
  std::map<std::string, Dialect> by_name;
  const Dialect* find(const std::string& name) const;
};

// True when `board` matches `selector`.
bool matches(const BoardSelector& selector, const Board& board);

}  // namespace provhil::scenario
