#pragma once

// The results the runner hands to the report writer: plain data, no behaviour. The report module
// knows nothing of YAML, serial ports or the interceptor; everything arrives here already resolved.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "common/enum_names.hpp"

namespace provhil::report {

// Report timestamps are wall-clock (they are read by people and CI); durations are measured by the
// runner with steady_clock and handed over as plain durations.
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

enum class Outcome {
  passed,
  failed,   // a check did not hold (JUnit <failure>)
  error,    // infrastructure trouble: port vanished, listener could not bind (JUnit <error>)
  skipped,  // not run: no eligible board, filtered out, setup failed (JUnit <skipped>)
};
constexpr std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {  // no default: a new outcome without its name fails the build
    case Outcome::passed:
      return "passed";
    case Outcome::failed:
      return "failed";
    case Outcome::error:
      return "error";
    case Outcome::skipped:
      return "skipped";
  }
  return {};
}
// The outcomes' name table: results.json's "outcome", the summary's counts, `report --rebuild`.
using OutcomeNames = EnumNames<outcome_name>;
std::string_view to_string(Outcome outcome);

// Why a case was skipped. The exit code and the reports decide on this, never on the message.
enum class SkipReason {
  no_eligible_board,   // no board of the inventory matches the scenario's selector
  filtered_out,        // --filter left it out
  setup_failed,        // a setup step failed: the scenario's steps did not run (fails the run)
  run_interrupted,     // the run was interrupted before the case started
  reports_unwritable,  // an earlier write to the reports failed (a full disk): nothing new started
};
constexpr std::string_view skip_reason_name(SkipReason reason) {
  switch (reason) {  // no default: a new reason without its name fails the build
    case SkipReason::no_eligible_board:
      return "no_eligible_board";
    case SkipReason::filtered_out:
      return "filtered_out";
    case SkipReason::setup_failed:
      return "setup_failed";
    case SkipReason::run_interrupted:
      return "run_interrupted";
    case SkipReason::reports_unwritable:
      return "reports_unwritable";
  }
  return {};
}
using SkipReasonNames = EnumNames<skip_reason_name>;

// What kind of infrastructure trouble made a case an error.
enum class ErrorReason {
  port,          // the board's port could not be opened, or vanished
  reset,         // the board could not be reset
  host_command,  // a host command (exec, joining the board's AP) could not run
  interrupted,   // the run was interrupted while the case ran
  interceptor,   // the interceptor could not start
  work_folder,   // the run's private work folder could not be made
  internal,      // anything else the harness did not expect (a full disk, a report folder gone)
};
constexpr std::string_view error_reason_name(ErrorReason reason) {
  switch (reason) {  // no default: a new reason without its name fails the build
    case ErrorReason::port:
      return "port";
    case ErrorReason::reset:
      return "reset";
    case ErrorReason::host_command:
      return "host_command";
    case ErrorReason::interrupted:
      return "interrupted";
    case ErrorReason::interceptor:
      return "interceptor";
    case ErrorReason::work_folder:
      return "work_folder";
    case ErrorReason::internal:
      return "internal";
  }
  return {};
}
using ErrorReasonNames = EnumNames<error_reason_name>;

// Where a step was written: scenario file, 1-based line and column. Empty file = unknown.
struct SourceLocation {
  std::filesystem::path file;
  int line = 0;
  int column = 0;

  bool empty() const { return file.empty(); }
  // "scenarios/happy.yaml:12:5" (line/column left out when 0).
  std::string to_string() const;
};

struct Property {
  std::string name;
  std::string value;
};

// A number worth tracking across runs, e.g. {"ping_ms", 42, "ms"} or {"provision_latency", 1.8, "s"}.
struct Figure {
  std::string name;
  double value = 0;
  std::string unit;
};

struct StepResult {
  std::string name;  // what the step does, e.g. "expect state WAIT_CONFIG"
  std::string kind;  // the step keyword, e.g. "expect", "send", "expect_provision"
  SourceLocation location;
  Outcome outcome = Outcome::passed;
  std::string message;  // one line; empty when passed
  WallTime started{};
  Duration duration{};
};

// An earlier attempt of the same case when the runner retries. JUnit shows it as <flakyFailure>
// (the final attempt passed) or <rerunFailure> (the final attempt failed too); "Error" variants for
// Outcome::error.
struct Attempt {
  Outcome outcome = Outcome::failed;  // failed or error
  std::string message;                // one line
  std::string detail;                 // expected vs received, last lines, ...
  WallTime started{};
  Duration duration{};
  std::filesystem::path text_log;  // optional: that attempt's text log, for its own excerpt
  // Every file kept of that attempt (text log first): linked as attachments after the final attempt's.
  std::vector<std::filesystem::path> files{};
};

// Files the runner wrote into case_dir(board, scenario). Empty path = not written. The writer links
// them as [[ATTACHMENT|...]] lines and lists them in results.json; it never copies or loads them whole.
struct Attachments {
  std::filesystem::path raw_serial_log;  // bytes exactly as received (may hold secrets: see docs)
  std::filesystem::path text_log;        // timestamped readable lines; the system-out excerpt comes from here
  std::filesystem::path exchanges;       // HTTP and binary-protocol exchanges, JSONL
  std::filesystem::path variables;       // the scenario's variables and captures (JSON)
  std::vector<std::filesystem::path> extra;
};

// A line of the board's text log that its dialect names: a state it entered or an event.
struct SerialMark {
  enum class Kind { state, event };
  Kind kind = Kind::event;
  std::int64_t t_ms = 0;        // milliseconds since the run started
  std::string name;             // the state or event name
  std::string line;             // the line as logged (masked, sanitised)
  std::size_t line_number = 0;  // 1-based in the text log: index.html links to it
};

// One (scenario, board) result: a JUnit testcase named "<scenario> [<board>]" in the testsuite of its
// scenario file, classname = the file's stem.
struct CaseResult {
  std::string scenario;                 // scenario name
  std::filesystem::path scenario_file;  // as given on the command line / found by the runner
  std::string board;                    // board name from the inventory

  Outcome outcome = Outcome::passed;
  std::string message;              // one line: step, expectation, file:line
  std::string detail;               // multi-line: expected vs received, last serial lines, last exchange
  SourceLocation failure_location;  // the step that failed (or errored)
  std::string skip_reason;          // for Outcome::skipped when `message` is empty
  // The reason as a type (results.json "reason_code"): set for every skipped case and every error
  // the runner makes; empty on results made elsewhere (older journals, hand-made ones).
  std::optional<SkipReason> skip_code;
  std::optional<ErrorReason> error_code;
  // What the failing step wanted and what it got, when it knows them apart (index.html shows them
  // side by side); empty otherwise.
  std::string expected;
  std::string actual;

  WallTime started{};
  Duration duration{};

  std::vector<StepResult> steps;
  // Board identity and context, by convention named: "board", "port", "usb_serial", "mac",
  // "firmware_version", "dialect" (more are welcome). Run-wide ones come from RunInfo.
  std::vector<Property> properties;
  std::vector<Figure> figures;
  std::vector<Attempt> earlier_attempts;  // oldest first; the final attempt is this CaseResult
  Attachments attachments;
  // What the board printed that its dialect names (state transitions, events), in time order, for the
  // timeline in index.html. Bounded by the runner.
  std::vector<SerialMark> serial_marks;
  // The case's exchanges (one JSON object each) for results.json; the JSONL file is the attachment.
  std::vector<boost::json::value> exchanges;
};

struct BoardInfo {
  std::string name;
  std::vector<Property> properties;  // port, usb_serial, dialect, tags, ...
};

// One planned unit of work: results.json lists the plan so a view can tell "not run yet" from "never
// planned".
struct PlannedCase {
  std::string scenario;
  std::filesystem::path scenario_file;
  std::string board;              // empty for a pooled unit (see pool) and for one that does not run
  std::vector<std::string> pool;  // run_on: any: the boards any one of which runs it
};

struct RunInfo {
  std::string run_id;
  std::string harness_version;  // e.g. provhil::full_version()
  std::string shard;            // e.g. "2/4"; empty when not sharded
  WallTime started{};
  std::string hostname;              // empty: the writer fills in gethostname()
  std::vector<Property> properties;  // anything else run-wide (CI job id, git sha of the firmware, ...)
  std::vector<BoardInfo> boards;
  std::vector<PlannedCase> plan;
};

}  // namespace provhil::report
