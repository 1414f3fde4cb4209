#include "runner/case_runner.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/regex.hpp>

#include "common/text.hpp"
#include "runner/host_command.hpp"
#include "runner/http_get.hpp"
#include "runner/to_intercept.hpp"
#include "scenario/variables.hpp"

namespace provhil::runner {

namespace {

using Clock = std::chrono::steady_clock;
using report::Outcome;
namespace json = boost::json;

// Waits are cut into slices this long so that an interrupt is noticed; arrivals still wake at once.
constexpr auto interrupt_slice = std::chrono::milliseconds(250);
constexpr auto teardown_after_interrupt = std::chrono::seconds(5);
constexpr std::size_t evidence_lines = 20;

// Crashes fail any wait the moment they appear, unless the step is waiting for that crash itself.
struct CrashPattern {
  const char* regex;
  const char* sample;  // a typical line, to tell whether a step waits for this crash
};
const CrashPattern default_must_not[] = {
    {R"(Guru Meditation Error)",
     "Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled."},
    {R"(Backtrace:)", "Backtrace: 0x400d2f3b:0x3ffb1f50 0x400d3b1e:0x3ffb1f80"},
    {R"(abort\(\) was called)", "abort() was called at PC 0x400d2f3b on core 1"},
};

struct StepFailure {
  Outcome outcome = Outcome::failed;
  std::string message;  // one line
  std::string detail;   // expected vs received, evidence
  // The two sides on their own, when the step knows them (index.html shows them side by side).
  std::string expected{}, actual{};
};

std::string json_scalar_text(const json::value& value) {
  if (value.is_string()) return std::string(value.as_string());
  return json::serialize(value);
}

std::string describe_matchers(const std::vector<scenario::Matcher>& matchers) {
  std::string out;
  for (const auto& m : matchers)
    out += (out.empty() ? "" : " or ") + m.describe();
  return out;
}

std::string describe_step(const scenario::Step& step) {
  if (step.name) return *step.name;
  return std::visit(
      [&](const auto& body) -> std::string {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, scenario::ResetStep>) {
          return body.mode == scenario::ResetStep::Mode::hard ? "reset hard" : "reset soft";
        } else if constexpr (std::is_same_v<T, scenario::SendStep>) {
          return "send '" + body.text + "'";
        } else if constexpr (std::is_same_v<T, scenario::ExpectStep>) {
          return "expect " + describe_matchers(body.any_of);
        } else if constexpr (std::is_same_v<T, scenario::WaitStep>) {
          return fmt::format("wait {}ms", body.duration.count());
        } else if constexpr (std::is_same_v<T, scenario::CaptureStep>) {
          return "capture " + body.from.describe();
        } else if constexpr (std::is_same_v<T, scenario::ApConfigStep>) {
          return body.config.empty() ? "ap_config (board_info)" : "ap_config";
        } else if constexpr (std::is_same_v<T, scenario::ExpectProvisionStep>) {
          return "expect_provision";
        } else if constexpr (std::is_same_v<T, scenario::ExpectLoginStep>) {
          return "expect_login";
        } else if constexpr (std::is_same_v<T, scenario::ExecStep>) {
          return "exec " + body.command;
        } else if constexpr (std::is_same_v<T, scenario::RepeatStep>) {
          return fmt::format("repeat {}x", body.times);
        } else {
          return fmt::format("retry up to {}x", body.attempts);
        }
      },
      step.body);
}

report::SourceLocation to_report(const scenario::SourceLocation& where) {
  return {where.file, where.line, where.column};
}

// The expect_provision / expect_login steps in the order they will first run (repeat blocks
// unrolled, retry blocks once), so each can be registered with the interceptor before the board
// sends what it expects: a board may well send its request before the step that waits for it starts.
template <class Body>
void collect(const std::vector<scenario::Step>& steps, std::vector<const scenario::Step*>& out) {
  for (const auto& step : steps) {
    if (std::holds_alternative<Body>(step.body)) out.push_back(&step);
    if (const auto* repeat = std::get_if<scenario::RepeatStep>(&step.body)) {
      for (int i = 0; i < repeat->times; ++i)
        collect<Body>(repeat->steps, out);
    }
    if (const auto* retry = std::get_if<scenario::RetryStep>(&step.body)) collect<Body>(retry->steps, out);
  }
}

class CaseExecution {
 public:
  explicit CaseExecution(const CaseInput& input)
      : in_(input), session_(*input.session), dialect_(input.dialect) {}

  report::CaseResult run();

 private:
  enum class Phase { setup, steps, teardown };

  bool interrupted() const { return in_.interrupted != nullptr && in_.interrupted->load(); }
  // An interrupt ends waits at once, except in teardown, which has its own short deadline instead.
  bool stop_waiting() const { return interrupted() && !teardown_; }
  std::string resolve(const std::string& text, scenario::Escape escape = scenario::Escape::none) const {
    return scenario::resolve(text, ctx_, escape);
  }
  std::string masked(std::string_view text) const { return in_.masker->mask(text); }
  // A scenario check with its templates resolved (a `matches` regex gets its values regex-escaped).
  intercept::ValueCheck value_check(const scenario::NamedCheck& named) const;

  std::optional<StepFailure> run_steps(const std::vector<scenario::Step>& steps);
  std::optional<StepFailure> run_step(const scenario::Step& step);
  std::optional<StepFailure> dispatch(const scenario::Step& step, Clock::time_point deadline);
  Clock::time_point deadline_for(const scenario::Step& step) const;

  std::optional<StepFailure> do_expect(const std::vector<scenario::Matcher>& any_of,
                                       const std::vector<scenario::Matcher>& must_not,
                                       Clock::time_point deadline);
  std::optional<StepFailure> do_wait(Clock::time_point until);
  std::optional<StepFailure> do_ap_config(const scenario::ApConfigStep& step, Clock::time_point deadline);
  // One pass of the phone app; throws HttpConnectError when nothing listens at the endpoint.
  std::optional<StepFailure> ap_session(const scenario::ApConfigStep& step, Clock::time_point deadline);
  std::optional<StepFailure> do_exec(const scenario::ExecStep& step, Clock::time_point deadline);
  std::optional<StepFailure> do_expect_provision(const scenario::Step& step, Clock::time_point deadline);
  std::optional<StepFailure> do_expect_login(const scenario::Step& step, Clock::time_point deadline);
  std::optional<StepFailure> judge(const intercept::WaitResult& result, const char* what);

  intercept::ProvisionExpectation provision_expectation(const scenario::ExpectProvisionStep& step);
  intercept::ExpectationId register_provision(const scenario::Step& step);
  intercept::ExpectationId register_login(const scenario::Step& step);
  void arm_next_provision();
  void arm_next_login();

  HttpReply ap_get(const ApEndpoint& endpoint, const std::string& target, Clock::time_point deadline);
  // GETs `target` and parses its JSON, which must be of `kind`; a failure says what came instead.
  std::optional<StepFailure> fetch_json(const ApEndpoint& endpoint, const std::string& target,
                                        json::kind kind, Clock::time_point deadline, json::value& parsed,
                                        std::string& body);
  std::string last_lines_text() const;
  void echo_serial_lines();
  void write_attachments();
  void scan_serial_log();

  std::optional<StepFailure> pick_dialect(Clock::time_point deadline);

  const CaseInput& in_;
  RunClock own_clock_;  // used only when the runner gives none
  const RunClock& clock_ = in_.clock != nullptr ? *in_.clock : own_clock_;
  BoardSession& session_;
  // The board's dialect; for `dialect: auto` null until pick_dialect() saw a line it can tell by.
  const scenario::Dialect* dialect_ = nullptr;
  scenario::VariableContext ctx_;
  Clock::time_point case_deadline_{};
  bool teardown_ = false;
  report::CaseResult result_;
  std::vector<std::string> ap_journal_;      // JSON lines of the phone-app exchanges with the setup AP
  std::optional<std::uint64_t> echoed_seq_;  // the last line handed to on_serial_line

  std::vector<const scenario::Step*> provision_plan_, login_plan_;
  std::size_t provision_cursor_ = 0, login_cursor_ = 0;
  struct Armed {
    const scenario::Step* step;
    intercept::ExpectationId id;
  };
  std::optional<Armed> armed_provision_, armed_login_;

  // Waits for an expect_provision / expect_login step's expectation (armed early, or registered now),
  // retires it and arms the next one of its kind.
  std::optional<StepFailure> await_expectation(
      const scenario::Step& step, std::optional<Armed>& armed,
      intercept::ExpectationId (CaseExecution::*register_step)(const scenario::Step&),
      void (CaseExecution::*arm_next)(), const char* what, Clock::time_point deadline);
};

intercept::ValueCheck CaseExecution::value_check(const scenario::NamedCheck& named) const {
  intercept::ValueCheck check;
  check.name = named.name;
  check.kind = to_intercept(named.check.kind);
  check.value = named.check.kind == scenario::ValueCheck::Kind::matches
                    ? resolve(named.check.value, scenario::Escape::regex)
                    : resolve(named.check.value);
  for (const auto& v : named.check.values)
    check.values.push_back(resolve(v));
  return check;
}

report::CaseResult CaseExecution::run() {
  const auto& scenario = *in_.scenario;
  const auto& board = session_.board();
  auto started_steady = Clock::now();
  result_.scenario = scenario.name;
  result_.scenario_file = scenario.file;
  result_.board = board.name;
  result_.started = clock_.wall_now();
  result_.properties = {{"board", board.name},
                        {"port", session_.port_description()},
                        {"dialect", board.dialect},
                        {"simulated", board.simulated() ? "true" : "false"}};
  case_deadline_ = started_steady + scenario.timeout;

  in_.masker->add(in_.board_token, "token");
  auto& console = session_.console();
  std::error_code ignored;
  std::filesystem::create_directories(in_.case_dir, ignored);
  console.set_logs(in_.raw_log, in_.case_dir / (in_.file_prefix + "serial.log"));
  result_.attachments.raw_serial_log = in_.case_dir / (in_.file_prefix + "serial.raw");
  result_.attachments.text_log = in_.case_dir / (in_.file_prefix + "serial.log");
  console.note(fmt::format("scenario {} on board {} (stamps: milliseconds since the run started at {})",
                           scenario.name, board.name, clock_.started_iso()));
  session_.start_case();
  // Lines from the mark on are this case's (a rewound replay's reader may already have read some).
  if (auto mark = console.mark_seq(); mark > 0) echoed_seq_ = mark - 1;

  std::optional<StepFailure> failure;
  bool setup_failed = false;
  try {
    ctx_ = scenario::make_context(scenario, board, *in_.inventory, in_.board_token, in_.interceptor->host(),
                                  in_.interceptor->port());
  } catch (const scenario::ResolveError& e) {
    failure = StepFailure{Outcome::failed, fmt::format("scenario variables: {}", e.what()), {}};
    result_.failure_location = to_report(scenario.where);
  }

  if (!failure) {
    in_.interceptor->claim_token(in_.board_token, in_.owner);
    collect<scenario::ExpectProvisionStep>(scenario.setup, provision_plan_);
    collect<scenario::ExpectProvisionStep>(scenario.steps, provision_plan_);
    collect<scenario::ExpectLoginStep>(scenario.setup, login_plan_);
    collect<scenario::ExpectLoginStep>(scenario.steps, login_plan_);
    try {
      arm_next_provision();
      arm_next_login();
      failure = run_steps(scenario.setup);
      if (failure) {
        setup_failed = true;
      } else {
        failure = run_steps(scenario.steps);
      }
    } catch (const std::exception& e) {
      // A template that does not resolve, a fault the interceptor cannot stage: the scenario is wrong.
      failure = StepFailure{Outcome::failed, e.what(), {}};
    }
  }

  // Teardown always runs; after an interrupt under a short deadline of its own.
  teardown_ = true;
  if (interrupted())
    case_deadline_ = Clock::now() + teardown_after_interrupt;
  else
    case_deadline_ = std::max(case_deadline_, Clock::now() + std::chrono::seconds(30));
  std::optional<StepFailure> teardown_failure;
  try {
    teardown_failure = run_steps(scenario.teardown);
  } catch (const std::exception& e) {
    teardown_failure = StepFailure{Outcome::failed, e.what(), {}};
  }

  for (auto* armed : {&armed_provision_, &armed_login_}) {
    if (*armed) in_.interceptor->finish((*armed)->id);
    armed->reset();
  }
  // Provision requests nobody expected fail the scenario that owns the token.
  std::vector<intercept::Exchange> unexpected;
  for (const auto& x : in_.interceptor->exchanges_for_owner(in_.owner)) {
    if (!x.expected && x.kind == intercept::ExchangeKind::provision) unexpected.push_back(x);
  }

  if (failure) {
    if (setup_failed && failure->outcome == Outcome::failed) {
      result_.outcome = Outcome::skipped;
      result_.skip_reason = "setup failed: " + failure->message;
      result_.message = result_.skip_reason;
    } else {
      result_.outcome = failure->outcome;
      result_.message = failure->message;
    }
    result_.detail = failure->detail;
    result_.expected = masked(failure->expected);
    result_.actual = masked(failure->actual);
  } else if (teardown_failure) {
    result_.outcome = teardown_failure->outcome;
    result_.message = "teardown: " + teardown_failure->message;
    result_.detail = teardown_failure->detail;
  } else if (!unexpected.empty()) {
    result_.outcome = Outcome::failed;
    result_.message = fmt::format("{} provision request(s) arrived that no step expected", unexpected.size());
    for (const auto& x : unexpected)
      result_.detail += x.to_json_line(in_.masker) + "\n";
  }
  if (result_.outcome != Outcome::passed && result_.detail.find("Last serial lines") == std::string::npos) {
    result_.detail += "\nLast serial lines:\n" + last_lines_text();
  }
  // Messages may quote what a board or a command printed: mask them before stdout and the reports.
  result_.message = masked(result_.message);
  result_.detail = masked(result_.detail);
  if (interrupted() && result_.outcome == Outcome::passed) {
    result_.outcome = Outcome::error;
    result_.message = "interrupted";
  }

  if (auto it = ctx_.captures.find("ping_ms"); it != ctx_.captures.end()) {
    try {
      result_.figures.push_back({"ping_ms", std::stod(it->second), "ms"});
    } catch (const std::exception&) {
      // not a number: left out of the figures, still in variables.json
    }
  }
  console.note(fmt::format("scenario {} ended: {}", scenario.name, report::to_string(result_.outcome)));
  write_attachments();  // closes the logs: the scan reads the finished text log
  scan_serial_log();
  result_.duration = Clock::now() - started_steady;
  return std::move(result_);
}

Clock::time_point CaseExecution::deadline_for(const scenario::Step& step) const {
  auto within = step.within.value_or(scenario::default_within(step));
  return std::min(Clock::now() + within, case_deadline_);
}

std::optional<StepFailure> CaseExecution::run_steps(const std::vector<scenario::Step>& steps) {
  for (const auto& step : steps) {
    if (auto failure = run_step(step)) return failure;
  }
  return std::nullopt;
}

std::optional<StepFailure> CaseExecution::run_step(const scenario::Step& step) {
  report::StepResult record;
  record.name = describe_step(step);
  record.kind = step.kind;
  record.location = to_report(step.where);
  record.started = clock_.wall_now();
  auto started = Clock::now();
  if (in_.on_step_start) in_.on_step_start(record.name);

  std::optional<StepFailure> failure;
  if (interrupted() && !teardown_) {
    failure = StepFailure{Outcome::error, "interrupted before this step", {}};
  } else if (Clock::now() >= case_deadline_) {
    failure = StepFailure{
        Outcome::failed,
        fmt::format("the scenario's timeout ({}s) ran out before this step",
                    std::chrono::duration_cast<std::chrono::seconds>(in_.scenario->timeout).count()),
        {}};
  } else {
    if (teardown_ && interrupted())
      case_deadline_ = std::min(case_deadline_, Clock::now() + teardown_after_interrupt);
    auto deadline = deadline_for(step);
    try {
      failure = dispatch(step, deadline);
    } catch (const serial::PortError& e) {
      // Name the port briefly: a simulator's pty description carries its whole command line.
      std::string what = e.what();
      if (!e.port().empty() && what.rfind(e.port(), 0) == 0) what = what.substr(e.port().size());
      failure = StepFailure{Outcome::error, fmt::format("port {}{}", session_.port_description(), what), {}};
    } catch (const scenario::ResolveError& e) {
      failure = StepFailure{Outcome::failed, fmt::format("variables: {}", e.what()), {}};
    }
    if (failure && deadline == case_deadline_ && Clock::now() >= case_deadline_) {
      failure->message +=
          fmt::format(" (the scenario's timeout of {}s ran out)",
                      std::chrono::duration_cast<std::chrono::seconds>(in_.scenario->timeout).count());
    }
  }
  record.duration = Clock::now() - started;
  if (failure) {
    record.outcome = failure->outcome;
    failure->message =
        masked(fmt::format("{}: {} ({})", record.name, failure->message, step.where.to_string()));
    failure->detail = masked(failure->detail);
    record.message = failure->message;
    if (result_.failure_location.empty()) result_.failure_location = record.location;
  }
  echo_serial_lines();
  result_.steps.push_back(record);
  if (in_.on_step_done) in_.on_step_done(record);
  return failure;
}

std::optional<StepFailure> CaseExecution::dispatch(const scenario::Step& step, Clock::time_point deadline) {
  auto& console = session_.console();
  if (const auto* reset = std::get_if<scenario::ResetStep>(&step.body)) {
    bool rewound = false;
    try {
      rewound =
          reset->mode == scenario::ResetStep::Mode::hard ? session_.hard_reset() : session_.soft_reset();
    } catch (const serial::ResetError& e) {
      return StepFailure{Outcome::error, fmt::format("reset failed: {}", e.what()), {}};
    }
    // A rewound replay holds nothing from before the reset. On a board, lines still in flight from
    // before the reset must not satisfy later expects: wait for the dialect's boot line (the ROM's
    // `rst:` line, the banner, or the first stamped line where there is no banner); the next expect
    // starts after it.
    if (rewound) return std::nullopt;
    console::ExpectRequest boot;
    auto add_marker = [&](const scenario::Dialect& dialect) {
      if (dialect.boot) {
        boot.any_of.push_back(console::Pattern::regex(dialect.boot->regex));
      } else if (auto banner = dialect.events.find("banner"); banner != dialect.events.end()) {
        boot.any_of.push_back(console::Pattern::regex(banner->second.regex));
      }
    };
    if (dialect_ != nullptr) {
      add_marker(*dialect_);
    } else {
      for (const auto& [name, dialect] : in_.dialects->by_name)  // auto, not picked yet: any family's
        add_marker(dialect);
    }
    if (boot.any_of.empty()) return std::nullopt;
    boot.deadline = deadline;
    auto booted = console.expect(boot);
    if (booted.ok()) return std::nullopt;
    StepFailure failure;
    failure.outcome = booted.status == console::ExpectStatus::vanished ? Outcome::error : Outcome::failed;
    failure.message = "the board did not boot after the reset (no boot line): " + booted.reason;
    failure.detail = booted.describe();
    return failure;
  }
  if (const auto* send = std::get_if<scenario::SendStep>(&step.body)) {
    console.send_line(resolve(send->text), send->newline ? "\r\n" : "");
    return std::nullopt;
  }
  if (const auto* expect = std::get_if<scenario::ExpectStep>(&step.body)) {
    return do_expect(expect->any_of, expect->must_not, deadline);
  }
  if (const auto* capture = std::get_if<scenario::CaptureStep>(&step.body)) {
    return do_expect({capture->from}, {}, deadline);
  }
  if (const auto* wait = std::get_if<scenario::WaitStep>(&step.body)) {
    return do_wait(std::min(Clock::now() + wait->duration, case_deadline_));
  }
  if (const auto* ap = std::get_if<scenario::ApConfigStep>(&step.body)) return do_ap_config(*ap, deadline);
  if (std::holds_alternative<scenario::ExpectProvisionStep>(step.body))
    return do_expect_provision(step, deadline);
  if (std::holds_alternative<scenario::ExpectLoginStep>(step.body)) return do_expect_login(step, deadline);
  if (const auto* exec = std::get_if<scenario::ExecStep>(&step.body)) return do_exec(*exec, deadline);
  if (const auto* repeat = std::get_if<scenario::RepeatStep>(&step.body)) {
    for (int i = 1; i <= repeat->times; ++i) {
      if (auto failure = run_steps(repeat->steps)) {
        failure->message = fmt::format("iteration {} of {}: {}", i, repeat->times, failure->message);
        return failure;
      }
    }
    return std::nullopt;
  }
  if (const auto* retry = std::get_if<scenario::RetryStep>(&step.body)) {
    std::optional<StepFailure> failure;
    for (int attempt = 1; attempt <= retry->attempts; ++attempt) {
      failure = run_steps(retry->steps);
      if (!failure) return std::nullopt;
      if (attempt < retry->attempts) {
        if (auto stop = do_wait(std::min(Clock::now() + retry->delay, case_deadline_))) return stop;
      }
    }
    failure->message = fmt::format("all {} attempts failed; the last: {}", retry->attempts, failure->message);
    return failure;
  }
  return StepFailure{Outcome::error, "step kind not supported by this runner", {}};
}

std::optional<StepFailure> CaseExecution::do_expect(const std::vector<scenario::Matcher>& any_of,
                                                    const std::vector<scenario::Matcher>& must_not,
                                                    Clock::time_point deadline) {
  if (dialect_ == nullptr) {
    if (auto failure = pick_dialect(deadline)) return failure;
  }
  console::ExpectRequest request;
  std::vector<std::string> regexes;
  for (const auto& matcher : any_of) {
    regexes.push_back(scenario::matcher_regex(matcher, *dialect_, ctx_));
    request.any_of.push_back(console::Pattern::regex(regexes.back()));
  }
  for (const auto& matcher : must_not) {
    request.must_not.push_back(console::Pattern::regex(scenario::matcher_regex(matcher, *dialect_, ctx_)));
  }
  for (const auto& crash : default_must_not) {
    // A step that waits for this very crash (one of its patterns matches a typical crash line) keeps it
    // allowed.
    bool waited_for = std::any_of(request.any_of.begin(), request.any_of.end(),
                                  [&](const console::Pattern& p) { return p.search(crash.sample); });
    if (!waited_for) request.must_not.push_back(console::Pattern::regex(crash.regex));
  }
  console::ExpectResult result;
  while (true) {
    request.deadline = std::min(deadline, Clock::now() + interrupt_slice);
    result = session_.console().expect(request);
    if (result.status != console::ExpectStatus::timeout || Clock::now() >= deadline || stop_waiting()) break;
  }
  if (result.ok()) {
    for (auto& [name, value] : result.captures)
      ctx_.captures[name] = value;
    return std::nullopt;
  }
  StepFailure failure;
  failure.outcome = result.status == console::ExpectStatus::vanished ? Outcome::error : Outcome::failed;
  switch (result.status) {
    case console::ExpectStatus::timeout:
      failure.message = interrupted() ? "interrupted while waiting for " + describe_matchers(any_of)
                                      : "no line matched " + describe_matchers(any_of) + " in time";
      break;
    case console::ExpectStatus::forbidden: {
      std::string pattern = result.pattern_index >= 0 &&
                                    static_cast<std::size_t>(result.pattern_index) < request.must_not.size()
                                ? request.must_not[static_cast<std::size_t>(result.pattern_index)].text()
                                : "?";
      failure.message = fmt::format("a must-not-appear line showed up (/{}/): {}", pattern,
                                    sanitize_text(result.line.text));
      break;
    }
    case console::ExpectStatus::vanished:
    case console::ExpectStatus::ended:  // the log does not hold the line: a failed check, not the lab's fault
      failure.message = result.reason;
      break;
    case console::ExpectStatus::matched:
      break;
  }
  failure.detail = fmt::format("Expected: {}\n{}", describe_matchers(any_of), result.describe());
  failure.expected = describe_matchers(any_of);
  failure.actual = result.describe();
  return failure;
}

std::optional<StepFailure> CaseExecution::pick_dialect(Clock::time_point deadline) {
  // Looks (without consuming) for the first line one dialect's `detect` pattern knows; the scenario's
  // own expectations then see the same lines.
  console::ExpectRequest look;
  look.consume = false;
  std::vector<const scenario::Dialect*> order;
  std::string tried;
  for (const auto& [name, dialect] : in_.dialects->by_name) {
    if (!dialect.detect) continue;
    look.any_of.push_back(console::Pattern::regex(dialect.detect->regex));
    order.push_back(&dialect);
    tried += (tried.empty() ? "" : ", ") + name;
  }
  if (order.empty()) return StepFailure{Outcome::failed, "dialect auto: no dialect has a 'detect' line", {}};
  console::ExpectResult seen;
  while (true) {
    look.deadline = std::min(deadline, Clock::now() + interrupt_slice);
    seen = session_.console().expect(look);
    if (seen.status != console::ExpectStatus::timeout || Clock::now() >= deadline || stop_waiting()) break;
  }
  if (!seen.ok()) {
    StepFailure failure;
    failure.outcome = seen.status == console::ExpectStatus::vanished ? Outcome::error : Outcome::failed;
    failure.message =
        fmt::format("dialect auto: no line told the firmware's dialect ({}): {}", tried, seen.reason);
    failure.detail = seen.describe();
    return failure;
  }
  dialect_ = order.at(static_cast<std::size_t>(seen.pattern_index));
  auto said =
      fmt::format("dialect auto: picked {} from the line: {}", dialect_->name, sanitize_text(seen.line.text));
  session_.console().note(said);
  if (in_.on_serial_line) in_.on_serial_line("::: " + masked(said));
  for (auto& [key, value] : result_.properties)
    if (key == "dialect") value = fmt::format("{} (auto)", dialect_->name);
  return std::nullopt;
}

std::optional<StepFailure> CaseExecution::do_wait(Clock::time_point until) {
  while (Clock::now() < until) {
    if (interrupted() && !teardown_) return StepFailure{Outcome::error, "interrupted", {}};
    std::this_thread::sleep_for(std::min<Clock::duration>(interrupt_slice, until - Clock::now()));
  }
  return std::nullopt;
}

HttpReply CaseExecution::ap_get(const ApEndpoint& endpoint, const std::string& target,
                                Clock::time_point deadline) {
  auto started = Clock::now();
  json::object record{{"kind", "ap"},
                      {"t_ms", clock_.ms(started)},
                      {"method", "GET"},
                      {"url", fmt::format("http://{}:{}{}", endpoint.host, endpoint.port, target)}};
  try {
    auto reply = http_get(endpoint.host, static_cast<std::uint16_t>(endpoint.port), target, deadline);
    record["status"] = reply.status;
    record["body"] = reply.body;
    record["duration_us"] =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    ap_journal_.push_back(masked(json::serialize(record)));
    return reply;
  } catch (const HttpError& e) {
    record["error"] = e.what();
    ap_journal_.push_back(masked(json::serialize(record)));
    throw;
  }
}

std::optional<StepFailure> CaseExecution::fetch_json(const ApEndpoint& endpoint, const std::string& target,
                                                     json::kind kind, Clock::time_point deadline,
                                                     json::value& parsed, std::string& body) {
  auto reply = ap_get(endpoint, target, deadline);
  body = reply.body;
  if (reply.status != 200)
    return StepFailure{Outcome::failed, fmt::format("{} answered {}", target, reply.status), body};
  try {
    parsed = json::parse(body);
  } catch (const std::exception& e) {
    return StepFailure{Outcome::failed, fmt::format("{} is not JSON: {}", target, e.what()), body};
  }
  if (parsed.kind() != kind)
    return StepFailure{
        Outcome::failed,
        fmt::format("{} is not a JSON {}", target, kind == json::kind::object ? "object" : "array"), body};
  return std::nullopt;
}

std::optional<StepFailure> CaseExecution::do_ap_config(const scenario::ApConfigStep& step,
                                                       Clock::time_point deadline) {
  // Like the phone app, start over while nothing listens: the AP may be coming up, or the endpoint
  // read may still be the one of the AP the board just closed.
  while (true) {
    try {
      return ap_session(step, deadline);
    } catch (const HttpConnectError& e) {
      if (Clock::now() + std::chrono::milliseconds(50) >= deadline || interrupted())
        return StepFailure{Outcome::failed, e.what(), {}};
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::optional<StepFailure> CaseExecution::ap_session(const scenario::ApConfigStep& step,
                                                     Clock::time_point deadline) {
  const auto& board = session_.board();
  if (!board.simulated() && !board.join.empty()) {
    auto joined = run_host_command(resolve(board.join), {{"PROVHIL_BOARD", board.name}}, deadline);
    if (joined.timed_out || joined.exit_code != 0) {
      return StepFailure{Outcome::error,
                         joined.timed_out
                             ? "joining the board's AP timed out"
                             : fmt::format("joining the board's AP failed (exit {})", joined.exit_code),
                         joined.output};
    }
  }
  ApEndpoint endpoint;
  try {
    endpoint = session_.ap_endpoint(deadline);
  } catch (const serial::PortError&) {
    throw;
  } catch (const std::runtime_error& e) {
    return StepFailure{Outcome::failed, e.what(), {}};
  }
  try {
    json::value parsed;
    std::string info_body;
    if (auto failure =
            fetch_json(endpoint, "/board_info.json", json::kind::object, deadline, parsed, info_body))
      return failure;
    const auto& object = parsed.as_object();
    for (const auto& [name, value] : object) {
      // Every field becomes a capture too (`${board_info.last_error}`...), e.g. to check it later.
      ctx_.captures["board_info." + std::string(name)] = json_scalar_text(value);
    }
    for (const auto& named : step.board_info) {
      const auto* field = object.if_contains(named.name);
      std::optional<std::string> value;
      if (field != nullptr) value = json_scalar_text(*field);
      auto verdict = intercept::run_value_check(value_check(named), value, "board_info");
      if (!verdict.passed)
        return StepFailure{Outcome::failed, fmt::format("board_info.json: {}", verdict.check),
                           fmt::format("{}\nboard_info.json: {}", verdict.detail, info_body)};
    }
    if (step.wifi_scan || !step.scan_contains.empty()) {
      json::value networks;
      std::string scan_body;
      if (auto failure =
              fetch_json(endpoint, "/wifi_scan.json", json::kind::array, deadline, networks, scan_body))
        return failure;
      for (const auto& wanted_template : step.scan_contains) {
        auto wanted = resolve(wanted_template);
        bool found =
            std::any_of(networks.as_array().begin(), networks.as_array().end(), [&](const json::value& n) {
              const auto* ssid = n.is_object() ? n.as_object().if_contains("ssid") : nullptr;
              return ssid != nullptr && ssid->is_string() && ssid->as_string() == wanted;
            });
        if (!found)
          return StepFailure{Outcome::failed, fmt::format("/wifi_scan.json does not list '{}'", wanted),
                             scan_body};
      }
    }
    if (!step.config.empty()) {
      std::string target = "/config";
      char separator = '?';
      for (const auto& [name, value] : step.config) {
        target += separator + percent_encode(name, false) + "=" + percent_encode(resolve(value), false);
        separator = '&';
      }
      auto answer = ap_get(endpoint, target, deadline);
      std::string status;
      try {
        auto parsed_answer = json::parse(answer.body);
        if (const auto* s =
                parsed_answer.is_object() ? parsed_answer.as_object().if_contains("status") : nullptr)
          status = json_scalar_text(*s);
      } catch (const std::exception&) {
        status = "(not JSON)";
      }
      if (status != step.expect_status)
        return StepFailure{Outcome::failed,
                           fmt::format("/config answered {} with status '{}', expected '{}'", answer.status,
                                       status, step.expect_status),
                           answer.body};
    }
  } catch (const HttpConnectError&) {
    throw;
  } catch (const HttpError& e) {
    return StepFailure{Outcome::failed, e.what(), {}};
  }
  return std::nullopt;
}

std::optional<StepFailure> CaseExecution::do_exec(const scenario::ExecStep& step,
                                                  Clock::time_point deadline) {
  // In teardown an interrupt does not cut the command short: the teardown deadline bounds it.
  auto result = run_host_command(resolve(step.command), {{"PROVHIL_BOARD", session_.board().name}}, deadline,
                                 teardown_ ? nullptr : in_.interrupted);
  if (!result.started) return StepFailure{Outcome::error, "could not start /bin/sh: " + result.output, {}};
  if (result.timed_out)
    return StepFailure{Outcome::failed, "the command did not finish before its deadline", result.output};
  if (result.exit_code != step.expect_exit)
    return StepFailure{Outcome::failed,
                       fmt::format("the command exited {}, expected {}", result.exit_code, step.expect_exit),
                       result.output};
  return std::nullopt;
}

intercept::ProvisionExpectation CaseExecution::provision_expectation(
    const scenario::ExpectProvisionStep& step) {
  intercept::ProvisionExpectation expectation;
  expectation.token = resolve(step.token);
  expectation.owner = in_.owner;
  expectation.count = to_intercept(step.count);
  auto& builtin = expectation.builtin;
  const std::map<std::string, bool*> switches{
      {"token_format", &builtin.token_format},   {"template_id_format", &builtin.template_id_format},
      {"type_value", &builtin.type_value},       {"version_format", &builtin.version_format},
      {"no_duplicates", &builtin.no_duplicates}, {"method_get", &builtin.method_get},
      {"path_exact", &builtin.path_exact}};
  for (const auto& [name, on] : step.builtin_checks) {
    auto it = switches.find(name);
    if (it == switches.end()) throw std::invalid_argument("unknown built-in check '" + name + "'");
    *it->second = on;
  }
  auto convert_checks = [&](const std::vector<scenario::NamedCheck>& from,
                            std::vector<intercept::ValueCheck>& to) {
    for (const auto& named : from)
      to.push_back(value_check(named));
  };
  convert_checks(step.query, expectation.query);
  convert_checks(step.headers, expectation.headers);

  auto make_answer =
      [&](const std::variant<scenario::Response, scenario::Redirect, scenario::Proxy>& answer) {
        if (const auto* respond = std::get_if<scenario::Response>(&answer)) {
          intercept::Answer a = respond->status == 400 && !respond->body ? intercept::Answer::invalid_token()
                                                                         : intercept::Answer::ok();
          a.status = respond->status;
          if (respond->body) a.body = resolve(*respond->body);
          for (const auto& [name, value] : respond->headers)
            a.headers.emplace_back(name, resolve(value));
          return a;
        }
        if (const auto* redirect = std::get_if<scenario::Redirect>(&answer)) {
          return intercept::Answer::redirect_to(resolve(redirect->location), redirect->status);
        }
        const auto& proxy = std::get<scenario::Proxy>(answer);
        if (!proxy.upstream.empty() && proxy.upstream != in_.inventory->interceptor.upstream) {
          throw std::invalid_argument(
              "a per-step proxy upstream is not supported: set interceptor.upstream in the inventory");
        }
        return intercept::Answer::forward();
      };
  expectation.answers.push_back(make_answer(step.answer));
  for (const auto& [nth, answer] : step.nth_answers) {
    auto a = make_answer(answer);
    a.nth = nth;
    expectation.answers.push_back(std::move(a));
  }
  for (const auto& fault : step.faults) {
    auto kind = to_intercept(fault.kind);
    if (const auto* connection_kind = std::get_if<intercept::ConnectionFault::Kind>(&kind)) {
      if (fault.request.value_or(1) != 1)
        throw std::invalid_argument(
            fmt::format("{}: a handshake fault applies to the next connection only ({})",
                        fault.where.to_string(), "request: 1"));
      intercept::ConnectionFault armed;
      armed.kind = *connection_kind;
      armed.client_address = session_.client_address();  // empty (any client) for a real board
      armed.owner = in_.owner;
      in_.interceptor->arm_connection_fault(armed);
      continue;
    }
    intercept::Fault f;
    f.kind = std::get<intercept::Fault::Kind>(kind);
    f.delay = fault.delay;
    if (fault.delay_max) f.delay_max = *fault.delay_max;
    if (fault.seed) f.seed = *fault.seed;
    // A fault for the Nth request rides on that request's answer (made from the default one).
    intercept::Answer* target = &expectation.answers.front();
    if (fault.request) {
      auto it = std::find_if(expectation.answers.begin(), expectation.answers.end(),
                             [&](const intercept::Answer& a) { return a.nth == fault.request; });
      if (it == expectation.answers.end()) {
        auto copy = expectation.answers.front();
        copy.nth = fault.request;
        copy.faults.clear();
        expectation.answers.push_back(std::move(copy));
        target = &expectation.answers.back();
      } else {
        target = &*it;
      }
    }
    target->faults.push_back(f);
  }
  return expectation;
}

intercept::ExpectationId CaseExecution::register_provision(const scenario::Step& step) {
  return in_.interceptor->expect_provision(
      provision_expectation(std::get<scenario::ExpectProvisionStep>(step.body)));
}

intercept::ExpectationId CaseExecution::register_login(const scenario::Step& step) {
  const auto& login = std::get<scenario::ExpectLoginStep>(step.body);
  intercept::LoginExpectation expectation;
  expectation.token = resolve(login.token);
  expectation.owner = in_.owner;
  expectation.count = intercept::CountRule::at_least_n(1);
  expectation.accept = login.accept;
  for (const auto& named : login.info)
    expectation.info.push_back(value_check(named));
  return in_.interceptor->expect_login(std::move(expectation));
}

void CaseExecution::arm_next_provision() {
  if (provision_cursor_ >= provision_plan_.size()) return;
  const auto* step = provision_plan_[provision_cursor_++];
  armed_provision_ = Armed{step, register_provision(*step)};
}

void CaseExecution::arm_next_login() {
  if (login_cursor_ >= login_plan_.size()) return;
  const auto* step = login_plan_[login_cursor_++];
  armed_login_ = Armed{step, register_login(*step)};
}

std::optional<StepFailure> CaseExecution::judge(const intercept::WaitResult& result, const char* what) {
  std::vector<std::string> failed_checks;
  for (const auto& exchange : result.exchanges) {
    for (const auto& verdict : exchange.verdicts) {
      if (!verdict.passed)
        failed_checks.push_back(verdict.check + (verdict.detail.empty() ? "" : ": " + verdict.detail));
    }
  }
  if (result.satisfied && failed_checks.empty()) return std::nullopt;
  StepFailure failure;
  failure.message = failed_checks.empty() ? result.summary
                                          : fmt::format("{} check(s) failed on the {} request: {}",
                                                        failed_checks.size(), what, failed_checks.front());
  failure.detail = "Expected: " + result.summary + "\n";
  for (const auto& check : failed_checks)
    failure.detail += "  failed: " + check + "\n";
  failure.expected = result.summary;
  for (const auto& check : failed_checks)
    failure.actual += "failed: " + check + "\n";
  if (!result.exchanges.empty()) {
    failure.detail += "Last exchange:\n" + result.exchanges.back().to_json_line(in_.masker) + "\n";
    failure.actual += result.exchanges.back().to_json_line(in_.masker);
  } else {
    failure.detail += fmt::format("No {} request arrived.\n", what);
    failure.actual += fmt::format("no {} request arrived", what);
  }
  return failure;
}

std::optional<StepFailure> CaseExecution::do_expect_provision(const scenario::Step& step,
                                                              Clock::time_point deadline) {
  return await_expectation(step, armed_provision_, &CaseExecution::register_provision,
                           &CaseExecution::arm_next_provision, "provision", deadline);
}

std::optional<StepFailure> CaseExecution::do_expect_login(const scenario::Step& step,
                                                          Clock::time_point deadline) {
  return await_expectation(step, armed_login_, &CaseExecution::register_login, &CaseExecution::arm_next_login,
                           "login", deadline);
}

std::optional<StepFailure> CaseExecution::await_expectation(
    const scenario::Step& step, std::optional<Armed>& armed,
    intercept::ExpectationId (CaseExecution::*register_step)(const scenario::Step&),
    void (CaseExecution::*arm_next)(), const char* what, Clock::time_point deadline) {
  intercept::ExpectationId id;
  bool was_armed = armed && armed->step == &step;
  if (was_armed) {
    id = armed->id;
    armed.reset();
  } else {
    // A retry running this step again: its earlier expectation is retired already, and what is armed
    // belongs to a later step, which keeps it.
    id = (this->*register_step)(step);
  }
  intercept::WaitResult waited;
  do {
    waited = in_.interceptor->wait(id, std::min(deadline, Clock::now() + interrupt_slice));
  } while (waited.timed_out && Clock::now() < deadline && !stop_waiting() && !session_.console().vanished());
  auto final_result = in_.interceptor->finish(id);
  if (was_armed) (this->*arm_next)();
  if (auto gone = session_.console().vanished(); gone && !waited.satisfied)
    return StepFailure{Outcome::error, "port vanished: " + *gone, {}};
  if (!waited.satisfied && interrupted()) return StepFailure{Outcome::error, "interrupted", {}};
  return judge(final_result, what);
}

std::string CaseExecution::last_lines_text() const {
  std::string out;
  for (const auto& line : session_.console().recent_lines(evidence_lines)) {
    out += "  " + masked(sanitize_text(line.text)) + "\n";
  }
  return out.empty() ? "  (none)\n" : out;
}

void CaseExecution::echo_serial_lines() {
  if (!in_.on_serial_line) return;
  for (const auto& line : session_.console().recent_lines()) {
    if (line.partial || (echoed_seq_ && line.seq <= *echoed_seq_)) continue;
    in_.on_serial_line(masked(sanitize_text(line.text)));
    echoed_seq_ = line.seq;
  }
}

// One pass over this case's text log (stamped, masked): the board's identity for the report (suite
// properties, the index.html header) and the timeline's serial lane. Identity: what the scenario
// captured, else the first line that one of the dialect's events with the group firmware_version
// (or the older fw_ver), library_version (blynk_version), mac or chip matches. Marks: every line a dialect state or event matches, at most
// max_marks. Read line by line: memory stays bounded by a line.
void CaseExecution::scan_serial_log() {
  struct Wanted {
    const char* group;
    const char* property;
  };
  static constexpr Wanted wanted[] = {{"firmware_version", "firmware_version"},
                                      {"fw_ver", "firmware_version"},
                                      {"library_version", "library_version"},
                                      {"blynk_version", "library_version"},
                                      {"mac", "mac"},
                                      {"chip", "chip"}};
  constexpr std::size_t max_marks = 200;
  std::map<std::string, std::string> found;
  for (const auto& w : wanted) {
    if (auto it = ctx_.captures.find(w.group); it != ctx_.captures.end()) found.emplace(w.property, it->second);
  }
  struct Probe {
    report::SerialMark::Kind kind;
    std::string name;
    boost::regex regex;
    std::vector<const Wanted*> identity;  // the identity groups this event carries
  };
  std::vector<Probe> probes;
  if (dialect_ != nullptr) {
    auto add = [&](report::SerialMark::Kind kind, const std::string& name, const std::string& regex) {
      Probe probe{kind, name, boost::regex(), {}};
      try {
        probe.regex = boost::regex(regex, boost::regex::perl);
      } catch (const std::exception&) {
        return;  // the loader checked every dialect regex
      }
      for (const auto& w : wanted) {
        if (kind == report::SerialMark::Kind::event &&
            regex.find(fmt::format("(?<{}>", w.group)) != std::string::npos)
          probe.identity.push_back(&w);
      }
      probes.push_back(std::move(probe));
    };
    for (const auto& [name, pattern] : dialect_->states)
      add(report::SerialMark::Kind::state, name, pattern.regex);
    for (const auto& [name, pattern] : dialect_->events)
      add(report::SerialMark::Kind::event, name, pattern.regex);
  }
  std::ifstream log(result_.attachments.text_log, std::ios::binary);
  std::string line;
  std::size_t number = 0;
  while (!probes.empty() && std::getline(log, line)) {
    ++number;
    // "[t+   1234ms] text": the console's stamp, then the line; notes ("::: ...") are the harness's own.
    if (line.size() < 3 || line.compare(0, 3, "[t+") != 0) continue;
    auto close = line.find("ms] ");
    if (close == std::string::npos) continue;
    std::int64_t t_ms = 0;
    try {
      t_ms = std::stoll(line.substr(3, close - 3));
    } catch (const std::exception&) {
      continue;
    }
    std::string_view text = std::string_view(line).substr(close + 4);
    if (text.rfind(":::", 0) == 0) continue;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    for (const auto& probe : probes) {
      boost::match_results<std::string_view::const_iterator> match;
      if (!boost::regex_search(text.begin(), text.end(), match, probe.regex)) continue;
      if (result_.serial_marks.size() < max_marks)
        result_.serial_marks.push_back({probe.kind, t_ms, probe.name, std::string(text), number});
      for (const auto* w : probe.identity) {
        if (found.count(w->property) == 0 && match[w->group].matched)
          found[w->property] = match[w->group].str();
      }
    }
  }
  for (const char* property : {"firmware_version", "library_version", "mac", "chip"}) {
    if (auto it = found.find(property); it != found.end() && !it->second.empty())
      result_.properties.push_back({property, masked(sanitize_text(it->second))});
  }
}

void CaseExecution::write_attachments() {
  auto& console = session_.console();
  console.set_logs({}, {});
  const auto& dir = in_.case_dir;
  // The interceptor's and the phone app's exchanges on the run's one time base (t_ms, milliseconds
  // since the run started), in time order. The interceptor's steady stamp shares this process's
  // steady clock; its wall and steady fields are replaced by t_ms (the run's start is in results.json).
  std::vector<json::value> records;
  auto take = [&](std::string_view line) {
    if (line.empty()) return;
    std::error_code ec;
    json::value value = json::parse(masked(line), ec);
    if (ec || !value.is_object()) return;  // a line that is not JSON is not an exchange
    auto& object = value.as_object();
    if (const auto* steady = object.if_contains("steady_us"); steady != nullptr && steady->is_number()) {
      Clock::time_point at{std::chrono::microseconds(steady->to_number<std::int64_t>())};
      object["t_ms"] = clock_.ms(at);
      object.erase("steady_us");
      object.erase("wall");
    }
    records.push_back(std::move(value));
  };
  std::string lines = in_.interceptor->journal_lines_for_owner(in_.owner);
  for (std::size_t start = 0; start < lines.size();) {
    auto end = lines.find('\n', start);
    if (end == std::string::npos) end = lines.size();
    take(std::string_view(lines).substr(start, end - start));
    start = end + 1;
  }
  for (const auto& line : ap_journal_)
    take(line);
  auto t_of = [](const json::value& v) {
    const auto* t = v.as_object().if_contains("t_ms");
    return t != nullptr && t->is_number() ? t->to_number<std::int64_t>() : std::int64_t{0};
  };
  std::stable_sort(records.begin(), records.end(),
                   [&](const json::value& a, const json::value& b) { return t_of(a) < t_of(b); });
  {
    std::ofstream out(dir / (in_.file_prefix + "exchanges.jsonl"), std::ios::binary);
    for (const auto& record : records)
      out << json::serialize(record) << "\n";
  }
  result_.attachments.exchanges = dir / (in_.file_prefix + "exchanges.jsonl");
  result_.exchanges = std::move(records);
  json::object variables;
  json::object vars;
  for (const auto& [name, value] : ctx_.vars)
    vars[name] = masked(value);
  json::object captures;
  for (const auto& [name, value] : ctx_.captures)
    captures[name] = masked(value);
  variables["vars"] = std::move(vars);
  variables["captures"] = std::move(captures);
  variables["board_token"] = masked(in_.board_token);
  {
    std::ofstream out(dir / (in_.file_prefix + "variables.json"), std::ios::binary);
    out << json::serialize(variables) << "\n";
  }
  result_.attachments.variables = dir / (in_.file_prefix + "variables.json");
}

}  // namespace

report::CaseResult run_case(const CaseInput& input) {
  return CaseExecution(input).run();
}

}  // namespace provhil::runner
