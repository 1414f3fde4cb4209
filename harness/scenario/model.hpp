#pragma once

// The scenario language as plain data: what the loader produces and the runner executes.
// Nothing here parses or runs anything. Strings documented as "template" may hold `${...}`
// references that the runner resolves per board at run time (scenario/variables.hpp).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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
  enum class Mode { hard, soft };
  Mode mode = Mode::hard;
};

// `send: <text>` writes text + line end (CR LF) to the console; `{ text: ..., newline: false }`.
struct SendStep {
  std::string text;  // template
  bool newline = true;
};

// `expect:` waits (default `within`: 10s) until one of `any_of` matches a line. `must_not` patterns
// fail the step when one of them appears before the match. Named groups of the matching pattern
// become variables, as with capture.
struct ExpectStep {
  std::vector<Matcher> any_of;  // at least one; one entry when written without any_of
  std::vector<Matcher> must_not;
};

// `wait: 2s`: just let time pass (the board keeps being read).
struct WaitStep {
  Duration duration{0};
};

// `capture:` like expect (a line regex or dialect event with named groups), but at least one named
// group is required; each group's text becomes the variable of that name (`${mac}`).
struct CaptureStep {
  Matcher from;
  std::vector<std::string> names;  // a line regex's named groups, in order (for an event: the dialect's)
};

// `ap_config:` plays the phone app against the board's setup AP: GET /board_info.json and check its
// fields, optionally GET /wifi_scan.json, then GET /config with `config` as query parameters and
// check the answer's `status` ("ok" or "error").
struct ApConfigStep {
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

// One scripted misbehaviour of the interceptor.
struct Fault {
  enum class Kind {
    delay,            // answer after `delay` (or a random delay in [delay, delay_max] from `seed`)
    close,            // close the connection before answering
    reset,            // TCP reset (SO_LINGER 0)
    malformed,        // a response that is not HTTP
    truncated,        // the response cut in the middle of the body
    tls_truncation,   // half the answer, then TCP dropped without close_notify
    tls_alert,        // abort the TLS handshake with a fatal alert (connection fault)
    stall_handshake,  // never finish the TLS handshake (connection fault)
    expired_cert,     // serve an expired leaf certificate (connection fault)
    wrong_name_cert,  // serve a leaf for another host name (connection fault)
  };
  // tls_alert, stall_handshake, expired_cert and wrong_name_cert act during the handshake, before a
  // token is known: `request` then counts connections, not requests.
  bool connection_fault() const;
  Kind kind = Kind::delay;
  std::optional<int> request;  // 1-based: only the Nth request; empty: every request
  Duration delay{0};
  std::optional<Duration> delay_max;
  std::optional<std::uint64_t> seed;
  SourceLocation where;
};

// The fault kinds' names, as scenarios write them (one exhaustive switch: a new kind without its
// name does not build). `fault_kind_names()` lists them all; `parse_fault_kind` maps one back.
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
  CountRule count;
  std::vector<NamedCheck> query;    // per query parameter
  std::vector<NamedCheck> headers;  // per header (names case-insensitive)
  // Built-in checks switched on/off by name; absent names keep the interceptor's default (on).
  // Names as in intercept::BuiltinChecks: token_format, template_id_format, type_value,
  // version_format, no_duplicates, method_get, path_exact.
  std::map<std::string, bool> builtin_checks;
  std::variant<Response, Redirect, Proxy> answer = Response{};
  // `answers: [{ request: N, respond|redirect|proxy: ... }]`: the answer for the Nth request only.
  std::vector<std::pair<int, std::variant<Response, Redirect, Proxy>>> nth_answers;
  std::vector<Fault> faults;
  // The token the requests are keyed by (template); default "${board.token}".
  std::string token = "${board.token}";
};

// `expect_login:` the board logs in over the Blynk binary protocol (stock Edgent).
struct ExpectLoginStep {
  std::string token = "${board.token}";  // template: the HW_LOGIN body
  std::vector<NamedCheck> info;          // checks on the INTERNAL info frame (ver, dev, tmpl, fw-type ...)
  bool accept = true;                    // answer 200 (true) or 9 invalid token (false)
};

// `exec:` a host command through /bin/sh -c, with a deadline (`within`, default 30s).
struct ExecStep {
  std::string command;  // template
  int expect_exit = 0;
};

struct Step;

// `repeat:` runs `steps` `times` times; fails on the first failing iteration.
struct RepeatStep {
  int times = 1;
  std::vector<Step> steps;
};

// `retry:` runs `steps` until they pass, at most `attempts` times, waiting `delay` between attempts.
struct RetryStep {
  int attempts = 1;
  Duration delay{0};
  std::vector<Step> steps;
};

using StepBody = std::variant<ResetStep, SendStep, ExpectStep, WaitStep, CaptureStep, ApConfigStep,
                              ExpectProvisionStep, ExpectLoginStep, ExecStep, RepeatStep, RetryStep>;

// A `${...}` template as written, with its place: what validation checks references against.
struct TemplateSite {
  std::string text;
  SourceLocation where;
};

struct Step {
  std::string kind;                 // the YAML key: "reset", "send", "expect", ... (for messages)
  std::optional<std::string> name;  // `name:` as written
  std::optional<Duration> within;   // `within:`; empty: the kind's default (default_within())
  StepBody body;
  SourceLocation where;                 // the step's kind key
  std::vector<TemplateSite> templates;  // this step's own templates (not its nested steps'), in order
  std::string label() const;            // the name, or "<kind> at file:line"
};

// Default deadlines when a step has no `within`.
Duration default_within(const Step& step);

// Which boards a scenario runs on. Every non-empty list must match: the board has all `tags`,
// its name is one of `names`, its dialect is one of `dialects`. All empty: every board.
struct BoardSelector {
  std::vector<std::string> tags;
  std::vector<std::string> names;
  std::vector<std::string> dialects;
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
