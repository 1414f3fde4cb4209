// What the case itself does: setup, steps and teardown in order (each step through its executor,
// runner/steps.hpp), repeat and retry blocks, the case's verdict and its attachments.
#include "runner/case_runner.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/regex.hpp>

#include "common/regex_names.hpp"
#include "common/text.hpp"
#include "runner/steps.hpp"

namespace provhil::runner {

namespace {

using report::ErrorReason;
using report::Outcome;
namespace json = boost::json;

constexpr auto teardown_after_interrupt = std::chrono::seconds(5);
constexpr std::size_t evidence_lines = 20;

report::SourceLocation to_report(const scenario::SourceLocation& where) {
  return {where.file, where.line, where.column};
}

// ---- the StepContext of a run: the board session, the run's interceptor, real HTTP, shell, clock ----
class LiveConsole final : public StepConsole {
 public:
  explicit LiveConsole(console::Console& console) : console_(console) {}
  console::ExpectResult expect(const console::ExpectRequest& request) override {
    return console_.expect(request);
  }
  void send_line(std::string_view text, std::string_view line_ending) override {
    console_.send_line(text, line_ending);
  }
  std::optional<std::string> vanished() const override { return console_.vanished(); }
  void note(std::string_view text) override { console_.note(text); }

 private:
  console::Console& console_;
};

class LiveBoard final : public StepBoard {
 public:
  explicit LiveBoard(BoardSession& session) : session_(session) {}
  const scenario::Board& board() const override { return session_.board(); }
  bool hard_reset() override { return session_.hard_reset(); }
  bool soft_reset() override { return session_.soft_reset(); }
  ApEndpoint ap_endpoint(Clock::time_point deadline) const override { return session_.ap_endpoint(deadline); }
  std::string client_address() const override { return session_.client_address(); }

 private:
  BoardSession& session_;
};

class LiveInterceptor final : public StepInterceptor {
 public:
  explicit LiveInterceptor(intercept::Interceptor& interceptor) : interceptor_(interceptor) {}
  intercept::ExpectationId expect_provision(intercept::ProvisionExpectation e) override {
    return interceptor_.expect_provision(std::move(e));
  }
  intercept::ExpectationId expect_login(intercept::LoginExpectation e) override {
    return interceptor_.expect_login(std::move(e));
  }
  void arm_connection_fault(intercept::ConnectionFault fault) override {
    interceptor_.arm_connection_fault(std::move(fault));
  }
  intercept::WaitResult wait(intercept::ExpectationId id, Clock::time_point deadline) override {
    return interceptor_.wait(id, deadline);
  }
  intercept::WaitResult finish(intercept::ExpectationId id) override { return interceptor_.finish(id); }

 private:
  intercept::Interceptor& interceptor_;
};

class LivePhoneApp final : public PhoneAppClient {
 public:
  HttpReply get(const std::string& host, std::uint16_t port, const std::string& target,
                Clock::time_point deadline) override {
    return http_get(host, port, target, deadline);
  }
};

class LiveShell final : public HostShell {
 public:
  HostCommandResult run(const std::string& command, const std::map<std::string, std::string>& env,
                        Clock::time_point deadline, const std::atomic<bool>* interrupted) override {
    return run_host_command(command, env, deadline, interrupted);
  }
};

class LiveClock final : public StepClock {
 public:
  Clock::time_point now() const override { return Clock::now(); }
  void sleep_for(Clock::duration duration) override { std::this_thread::sleep_for(duration); }
};

class CaseExecution {
 public:
  explicit CaseExecution(const CaseInput& input)
      : in_(input),
        run_clock_(input.clock != nullptr ? *input.clock : own_clock_),
        session_(*input.session),
        console_(session_.console()),
        board_(session_),
        interceptor_(*input.interceptor),
        ctx_{console_,
             board_,
             interceptor_,
             phone_app_,
             shell_,
             clock_,
             input.dialect,
             *input.dialects,
             *input.masker,
             input.owner,
             input.inventory->interceptor.upstream,
             input.interrupted} {
    ctx_.run_clock = &run_clock_;
  }

  report::CaseResult run();

 private:
  bool interrupted() const { return ctx_.interrupted(); }
  std::string masked(std::string_view text) const { return in_.masker->mask(text); }

  StepOutcome run_steps(const std::vector<scenario::Step>& steps);
  StepOutcome run_step(const scenario::Step& step);
  StepOutcome attempt_step(const scenario::Step& step);
  StepOutcome dispatch(const scenario::Step& step, Clock::time_point deadline);
  Clock::time_point deadline_for(const scenario::Step& step) const;

  void verdict(const StepOutcome& failure, bool setup_failed, const StepOutcome& teardown_failure);
  void collect_properties();
  std::string last_lines_text() const;
  void echo_serial_lines();
  void write_attachments();
  void scan_serial_log();

  const CaseInput& in_;
  RunClock own_clock_;  // used only when the runner gives none
  const RunClock& run_clock_;
  BoardSession& session_;
  LiveConsole console_;
  LiveBoard board_;
  LiveInterceptor interceptor_;
  LivePhoneApp phone_app_;
  LiveShell shell_;
  LiveClock clock_;
  StepContext ctx_;
  report::CaseResult result_;
  std::optional<std::uint64_t> echoed_seq_;  // the last line handed to on_serial_line
};

report::CaseResult CaseExecution::run() {
  const auto& scenario = *in_.scenario;
  const auto& board = session_.board();
  auto started_steady = Clock::now();
  result_.scenario = scenario.name;
  result_.scenario_file = scenario.file;
  result_.board = board.name;
  result_.started = run_clock_.wall_now();
  result_.properties = {{"board", board.name},
                        {"port", session_.port_description()},
                        {"dialect", board.dialect},
                        {"simulated", board.simulated() ? "true" : "false"}};
  ctx_.case_deadline = started_steady + scenario.timeout;

  in_.masker->add(in_.board_token, "token");
  auto& console = session_.console();
  std::error_code ignored;
  std::filesystem::create_directories(in_.case_dir, ignored);
  console.set_logs(in_.raw_log, in_.case_dir / (in_.file_prefix + "serial.log"));
  result_.attachments.raw_serial_log = in_.case_dir / (in_.file_prefix + "serial.raw");
  result_.attachments.text_log = in_.case_dir / (in_.file_prefix + "serial.log");
  console.note(fmt::format("scenario {} on board {} (stamps: milliseconds since the run started at {})",
                           scenario.name, board.name, run_clock_.started_iso()));
  session_.start_case();
  // Lines from the mark on are this case's (a rewound replay's reader may already have read some).
  if (auto mark = console.mark_seq(); mark > 0) echoed_seq_ = mark - 1;
  ctx_.on_dialect_picked = [this](const std::string& said) {
    if (in_.on_serial_line) in_.on_serial_line("::: " + masked(said));
    for (auto& [key, value] : result_.properties)
      if (key == "dialect") value = fmt::format("{} (auto)", ctx_.dialect->name);
  };

  StepOutcome failure;
  bool setup_failed = false;
  try {
    ctx_.vars = scenario::make_context(scenario, board, *in_.inventory, in_.board_token,
                                       in_.interceptor->host(), in_.interceptor->port());
  } catch (const scenario::ResolveError& e) {
    failure = StepFailure::failed(fmt::format("scenario variables: {}", e.what()));
    result_.failure_location = to_report(scenario.where);
  }

  if (!failure) {
    in_.interceptor->claim_token(in_.board_token, in_.owner);
    try {
      plan_expectations(scenario.setup, scenario.steps, ctx_);
      failure = run_steps(scenario.setup);
      if (failure)
        setup_failed = true;
      else
        failure = run_steps(scenario.steps);
    } catch (const std::exception& e) {
      // A template that does not resolve, a fault the interceptor cannot stage: the scenario is wrong.
      failure = StepFailure::failed(e.what());
    }
  }

  // Teardown always runs; after an interrupt under a short deadline of its own.
  ctx_.teardown = true;
  if (interrupted())
    ctx_.case_deadline = Clock::now() + teardown_after_interrupt;
  else
    ctx_.case_deadline = std::max(ctx_.case_deadline, Clock::now() + std::chrono::seconds(30));
  StepOutcome teardown_failure;
  try {
    teardown_failure = run_steps(scenario.teardown);
  } catch (const std::exception& e) {
    teardown_failure = StepFailure::failed(e.what());
  }
  retire_expectations(ctx_);

  verdict(failure, setup_failed, teardown_failure);
  collect_properties();
  console.note(fmt::format("scenario {} ended: {}", scenario.name, report::to_string(result_.outcome)));
  write_attachments();  // closes the logs: the scan reads the finished text log
  scan_serial_log();
  result_.duration = Clock::now() - started_steady;
  return std::move(result_);
}

// The case's outcome, message and detail from the first failure (setup, steps, teardown, requests no
// step expected), masked: messages may quote what a board or a command printed.
void CaseExecution::verdict(const StepOutcome& failure, bool setup_failed,
                            const StepOutcome& teardown_failure) {
  // Provision requests nobody expected fail the scenario that owns the token.
  std::vector<intercept::Exchange> unexpected;
  for (const auto& x : in_.interceptor->exchanges_for_owner(in_.owner)) {
    if (!x.expected && x.kind == intercept::ExchangeKind::provision) unexpected.push_back(x);
  }
  if (failure) {
    if (setup_failed && failure->outcome == Outcome::failed) {
      result_.outcome = Outcome::skipped;
      result_.skip_code = report::SkipReason::setup_failed;
      result_.skip_reason = "setup failed: " + failure->message;
      result_.message = result_.skip_reason;
    } else {
      result_.outcome = failure->outcome;
      result_.error_code = failure->error_reason;
      result_.message = failure->message;
    }
    result_.detail = failure->detail;
    result_.expected = masked(failure->expected);
    result_.actual = masked(failure->actual);
  } else if (teardown_failure) {
    result_.outcome = teardown_failure->outcome;
    result_.error_code = teardown_failure->error_reason;
    result_.message = "teardown: " + teardown_failure->message;
    result_.detail = teardown_failure->detail;
  } else if (!unexpected.empty()) {
    result_.outcome = Outcome::failed;
    result_.message = fmt::format("{} provision request(s) arrived that no step expected", unexpected.size());
    for (const auto& x : unexpected)
      result_.detail += x.to_json_line(in_.masker) + "\n";
  }
  bool has_serial_lines = (failure && failure->has_serial_lines) ||
                          (!failure && teardown_failure && teardown_failure->has_serial_lines);
  if (result_.outcome != Outcome::passed && !has_serial_lines)
    result_.detail += "\nLast serial lines:\n" + last_lines_text();
  result_.message = masked(result_.message);
  result_.detail = masked(result_.detail);
  if (interrupted() && result_.outcome == Outcome::passed) {
    result_.outcome = Outcome::error;
    result_.error_code = ErrorReason::interrupted;
    result_.message = "interrupted";
  }
}

// Figures the scenario captured under their conventional names (board identity: scan_serial_log).
void CaseExecution::collect_properties() {
  const auto& captures = ctx_.vars.captures;
  if (auto it = captures.find("ping_ms"); it != captures.end()) {
    try {
      result_.figures.push_back({"ping_ms", std::stod(it->second), "ms"});
    } catch (const std::exception&) {
      // not a number: left out of the figures, still in variables.json
    }
  }
}

Clock::time_point CaseExecution::deadline_for(const scenario::Step& step) const {
  auto within = step.within.value_or(scenario::default_within(step));
  return std::min(Clock::now() + within, ctx_.case_deadline);
}

StepOutcome CaseExecution::run_steps(const std::vector<scenario::Step>& steps) {
  for (const auto& step : steps) {
    if (auto failure = run_step(step)) return failure;
  }
  return std::nullopt;
}

// One step with its record for the report and the progress display.
StepOutcome CaseExecution::run_step(const scenario::Step& step) {
  report::StepResult record;
  record.name = describe_step(step);
  record.kind = std::string(step.kind());
  record.location = to_report(step.where);
  record.started = run_clock_.wall_now();
  auto started = Clock::now();
  if (in_.on_step_start) in_.on_step_start(record.name);
  auto failure = attempt_step(step);
  record.duration = Clock::now() - started;
  if (failure) {
    record.outcome = failure->outcome;
    // A failed key (a query check below the step's keyword) is more exact than the step's line.
    const auto& where = failure->where ? *failure->where : step.where;
    failure->message = masked(fmt::format("{}: {} ({})", record.name, failure->message, where.to_string()));
    failure->detail = masked(failure->detail);
    record.message = failure->message;
    if (result_.failure_location.empty()) result_.failure_location = to_report(where);
  }
  echo_serial_lines();
  result_.steps.push_back(record);
  if (in_.on_step_done) in_.on_step_done(record);
  return failure;
}

// The step under the case's deadline and interrupt; port trouble and unresolved templates become its
// failure.
StepOutcome CaseExecution::attempt_step(const scenario::Step& step) {
  auto timeout_s = std::chrono::duration_cast<std::chrono::seconds>(in_.scenario->timeout).count();
  if (interrupted() && !ctx_.teardown)
    return StepFailure::error(ErrorReason::interrupted, "interrupted before this step");
  if (Clock::now() >= ctx_.case_deadline)
    return StepFailure::failed(
        fmt::format("the scenario's timeout ({}s) ran out before this step", timeout_s));
  if (ctx_.teardown && interrupted())
    ctx_.case_deadline = std::min(ctx_.case_deadline, Clock::now() + teardown_after_interrupt);
  auto deadline = deadline_for(step);
  StepOutcome failure;
  try {
    failure = dispatch(step, deadline);
  } catch (const serial::PortError& e) {
    // Name the port briefly: a simulator's pty description carries its whole command line.
    failure = StepFailure::error(ErrorReason::port,
                                 e.port().empty()
                                     ? fmt::format("port {}{}", session_.port_description(), e.what())
                                     : fmt::format("port {}: {}", session_.port_description(), e.reason()));
  } catch (const scenario::ResolveError& e) {
    failure = StepFailure::failed(fmt::format("variables: {}", e.what()));
  }
  if (failure && deadline == ctx_.case_deadline && Clock::now() >= ctx_.case_deadline)
    failure->message += fmt::format(" (the scenario's timeout of {}s ran out)", timeout_s);
  return failure;
}

StepOutcome CaseExecution::dispatch(const scenario::Step& step, Clock::time_point deadline) {
  NestedSteps nested = [this](const std::vector<scenario::Step>& steps) { return run_steps(steps); };
  auto blocks = [&](const auto& block) -> StepOutcome {
    return execute(block, StepCall{step, deadline}, ctx_, nested);
  };
  return execute_body(step.body, StepCall{step, deadline}, ctx_,
                      Overloaded{[&](const scenario::RepeatStep& b) { return blocks(b); },
                                 [&](const scenario::RetryStep& b) { return blocks(b); }});
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
// captured, else the first line that one of the dialect's events with the group firmware_version (or
// the older fw_ver), library_version (blynk_version), mac or chip matches. Marks: every line a dialect
// state or event matches, at most max_marks. Read line by line: memory stays bounded by a line.
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
    if (auto it = ctx_.vars.captures.find(w.group); it != ctx_.vars.captures.end())
      found.emplace(w.property, it->second);
  }
  struct Probe {
    report::SerialMark::Kind kind;
    std::string name;
    boost::regex regex;
    std::vector<const Wanted*> identity;  // the identity groups this event carries
  };
  std::vector<Probe> probes;
  if (const auto* dialect = ctx_.dialect; dialect != nullptr) {
    auto add = [&](report::SerialMark::Kind kind, const std::string& name, const std::string& regex) {
      Probe probe{kind, name, boost::regex(), {}};
      try {
        probe.regex = boost::regex(regex, boost::regex::perl);
      } catch (const std::exception&) {
        return;  // the loader checked every dialect regex
      }
      if (kind == report::SerialMark::Kind::event) {
        auto groups = regex_group_names(regex);
        for (const auto& w : wanted) {
          if (std::find(groups.begin(), groups.end(), w.group) != groups.end()) probe.identity.push_back(&w);
        }
      }
      probes.push_back(std::move(probe));
    };
    for (const auto& [name, pattern] : dialect->states)
      add(report::SerialMark::Kind::state, name, pattern.regex);
    for (const auto& [name, pattern] : dialect->events)
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
      object["t_ms"] = run_clock_.ms(at);
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
  for (const auto& line : ctx_.ap_journal)
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
  for (const auto& [name, value] : ctx_.vars.vars)
    vars[name] = masked(value);
  json::object captures;
  for (const auto& [name, value] : ctx_.vars.captures)
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
