// Each step kind through its executor and StepContext, against fakes (tests/runner/step_fakes.hpp):
// what it asks of the console, the board, the interceptor, the phone app and the shell, and what it
// makes of the answers, passing and failing.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "step_fakes.hpp"

namespace provhil::runner {
namespace {

using namespace std::chrono_literals;
using report::Outcome;
using testing::Rig;

scenario::Matcher line(std::string pattern) {
  scenario::Matcher m;
  m.kind = scenario::Matcher::Kind::line;
  m.pattern = std::move(pattern);
  return m;
}

// ---- reset ----
TEST(ResetStep, HardResetWaitsForTheBootBanner) {
  Rig rig;
  rig.console.lines = {"stale line from before", "[12] Blynk.Edgent v0.9.1 on ESP32"};
  EXPECT_EQ(rig.run(scenario::ResetStep{}), std::nullopt);
  EXPECT_EQ(rig.board.hard_resets, 1);
  EXPECT_EQ(rig.board.soft_resets, 0);
  EXPECT_TRUE(rig.console.lines.empty());  // the next expect starts after the banner
}

TEST(ResetStep, SoftResetUsesTheConsoleReboot) {
  Rig rig;
  rig.console.lines = {"[3] Blynk.Edgent v0.9.1"};
  scenario::ResetStep soft;
  soft.mode = scenario::ResetStep::Mode::soft;
  EXPECT_EQ(rig.run(soft), std::nullopt);
  EXPECT_EQ(rig.board.soft_resets, 1);
}

TEST(ResetStep, NoBannerFailsAndAFailedResetIsAnError) {
  Rig rig;
  auto failure = rig.run(scenario::ResetStep{});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_NE(failure->message.find("did not boot after the reset"), std::string::npos) << failure->message;

  Rig broken;
  broken.board.reset_error = "no DTR line";
  failure = broken.run(scenario::ResetStep{});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::error);
  EXPECT_EQ(failure->message, "reset failed: no DTR line");
}

TEST(ResetStep, ARewoundReplayWaitsForNothing) {
  Rig rig;
  rig.board.rewinds = true;
  EXPECT_EQ(rig.run(scenario::ResetStep{}), std::nullopt);
  EXPECT_TRUE(rig.console.requests.empty());
}

// ---- send ----
TEST(SendStep, SendsTheResolvedTextWithItsLineEnd) {
  Rig rig;
  EXPECT_EQ(rig.run(scenario::SendStep{"wifi ${ssid}", true}), std::nullopt);
  EXPECT_EQ(rig.run(scenario::SendStep{"y", false}), std::nullopt);
  EXPECT_EQ(rig.console.sent, (std::vector<std::string>{"wifi lab-net\r\n", "y"}));
}

TEST(SendStep, AnUndefinedVariableSendsNothing) {
  Rig rig;
  EXPECT_THROW(rig.run(scenario::SendStep{"wifi ${nope}", true}), scenario::ResolveError);
  EXPECT_TRUE(rig.console.sent.empty());
}

// ---- expect ----
TEST(ExpectStep, MatchesAnyOfAndKeepsNamedGroups) {
  Rig rig;
  rig.console.lines = {"noise", "MAC: aa:bb:cc"};
  scenario::ExpectStep step;
  step.any_of = {line("nothing"), line(R"(MAC: (?<mac>\S+))")};
  EXPECT_EQ(rig.run(step), std::nullopt);
  EXPECT_EQ(rig.ctx.vars.captures.at("mac"), "aa:bb:cc");
  // Crash lines are forbidden by default.
  EXPECT_EQ(rig.console.requests.back().must_not.size(), 3u);
}

TEST(ExpectStep, TimesOutWithWhatItWaitedFor) {
  Rig rig;
  rig.console.lines = {"something else"};
  scenario::ExpectStep step;
  step.any_of = {line("Ready")};
  auto started = rig.clock.now();
  auto failure = rig.run(step, 3s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_EQ(failure->message, "no line matched line /Ready/ in time");
  EXPECT_GE(rig.clock.now() - started, 3s);
  // The wait is cut into slices so an interrupt is noticed.
  EXPECT_GE(rig.console.requests.size(), 12u);
}

TEST(ExpectStep, AMustNotLineOrACrashFailsAndAVanishedPortIsAnError) {
  Rig rig;
  rig.console.lines = {"Guru Meditation Error: Core 1 panic'ed", "Ready"};
  scenario::ExpectStep step;
  step.any_of = {line("Ready")};
  auto failure = rig.run(step);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_NE(failure->message.find("a must-not-appear line showed up (/Guru Meditation Error/)"),
            std::string::npos)
      << failure->message;

  Rig gone;
  gone.console.gone = "the board was unplugged";
  failure = gone.run(step);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::error);
  EXPECT_EQ(failure->message, "the board was unplugged");
}

TEST(ExpectStep, AStepWaitingForACrashMayMatchIt) {
  Rig rig;
  rig.console.lines = {"Backtrace: 0x400d2f3b:0x3ffb1f50"};
  scenario::ExpectStep step;
  step.any_of = {line("Backtrace:")};
  EXPECT_EQ(rig.run(step), std::nullopt);
}

TEST(ExpectStep, DialectAutoPicksTheFamilyWhoseLineShowsFirst) {
  Rig rig;
  auto& idf = rig.dialects.by_name["esp-idf"];
  idf.name = "esp-idf";
  idf.detect = scenario::DialectPattern{R"(^I \(\d+\) )", {}};
  idf.states["RUNNING"] = {R"(cloud: connected)", {}};
  rig.dialect.detect = scenario::DialectPattern{R"(Blynk\.Edgent)", {}};
  rig.ctx.dialect = nullptr;
  std::string picked;
  rig.ctx.on_dialect_picked = [&](const std::string& said) { picked = said; };
  rig.console.lines = {"I (312) wifi: started", "I (900) cloud: connected"};
  scenario::ExpectStep step;
  scenario::Matcher running;
  running.kind = scenario::Matcher::Kind::state;
  running.pattern = "RUNNING";
  step.any_of = {running};
  EXPECT_EQ(rig.run(step), std::nullopt);
  ASSERT_NE(rig.ctx.dialect, nullptr);
  EXPECT_EQ(rig.ctx.dialect->name, "esp-idf");
  EXPECT_EQ(picked, "dialect auto: picked esp-idf from the line: I (312) wifi: started");
}

TEST(ExpectStep, DialectAutoWithoutADetectLineFails) {
  Rig rig;
  rig.ctx.dialect = nullptr;
  scenario::ExpectStep step;
  step.any_of = {line("Ready")};
  auto failure = rig.run(step);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_EQ(failure->message, "dialect auto: no dialect has a 'detect' line");
}

// ---- capture ----
TEST(CaptureStep, StoresEachNamedGroup) {
  Rig rig;
  rig.console.lines = {"fw 1.2.3 built 2024"};
  scenario::CaptureStep step;
  step.from = line(R"(fw (?<fw_ver>[\d.]+) built (?<year>\d+))");
  EXPECT_EQ(rig.run(step), std::nullopt);
  EXPECT_EQ(rig.ctx.vars.captures.at("fw_ver"), "1.2.3");
  EXPECT_EQ(rig.ctx.vars.captures.at("year"), "2024");
}

TEST(CaptureStep, NoMatchCapturesNothing) {
  Rig rig;
  scenario::CaptureStep step;
  step.from = line(R"(fw (?<fw_ver>[\d.]+))");
  auto failure = rig.run(step, 1s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_EQ(rig.ctx.vars.captures.count("fw_ver"), 0u);
}

// ---- wait ----
TEST(WaitStep, LetsTheTimePass) {
  Rig rig;
  auto started = rig.clock.now();
  EXPECT_EQ(rig.run(scenario::WaitStep{2s}), std::nullopt);
  EXPECT_EQ(rig.clock.now() - started, 2s);
}

TEST(WaitStep, AnInterruptEndsItButNotInTeardown) {
  Rig rig;
  rig.interrupt = true;
  auto failure = rig.run(scenario::WaitStep{2s});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::error);
  EXPECT_EQ(failure->message, "interrupted");
  rig.ctx.teardown = true;
  EXPECT_EQ(rig.run(scenario::WaitStep{2s}), std::nullopt);
}

// ---- ap_config ----
scenario::ApConfigStep full_config() {
  scenario::ApConfigStep step;
  scenario::NamedCheck type_check;
  type_check.name = "board";
  type_check.check.value = "ESP32";
  step.board_info = {type_check};
  step.scan_contains = {"${ssid}"};
  step.config = {{"ssid", "${ssid}"}, {"pass", "p w"}};
  return step;
}

TEST(ApConfigStep, PlaysThePhoneApp) {
  Rig rig;
  rig.phone_app.replies["/board_info.json"] = {200, R"({"board":"ESP32","last_error":7})"};
  rig.phone_app.replies["/wifi_scan.json"] = {200, R"([{"ssid":"other"},{"ssid":"lab-net"}])"};
  rig.phone_app.replies["/config?ssid=lab-net&pass=p%20w"] = {200, R"({"status":"ok"})"};
  EXPECT_EQ(rig.run(full_config()), std::nullopt);
  EXPECT_EQ(rig.ctx.vars.captures.at("board_info.last_error"), "7");
  EXPECT_EQ(rig.ctx.ap_journal.size(), 3u);
}

TEST(ApConfigStep, AFailedBoardInfoCheckOrConfigStatusFails) {
  Rig rig;
  rig.phone_app.replies["/board_info.json"] = {200, R"({"board":"ESP8266"})"};
  auto failure = rig.run(full_config());
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_NE(failure->message.find("board_info.json: "), std::string::npos) << failure->message;

  Rig refused;
  refused.phone_app.replies["/board_info.json"] = {200, R"({"board":"ESP32"})"};
  refused.phone_app.replies["/wifi_scan.json"] = {200, R"([{"ssid":"lab-net"}])"};
  refused.phone_app.replies["/config?ssid=lab-net&pass=p%20w"] = {200, R"({"status":"error"})"};
  failure = refused.run(full_config());
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->message, "/config answered 200 with status 'error', expected 'ok'");
}

TEST(ApConfigStep, NothingListeningUntilTheDeadlineFails) {
  Rig rig;
  auto failure = rig.run(full_config(), 1s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_GT(rig.phone_app.targets.size(), 1u);  // it tried again while nothing listened
}

// ---- expect_provision ----
scenario::ExpectProvisionStep provision_step() {
  scenario::ExpectProvisionStep step;
  step.builtin_checks[scenario::BuiltinCheck::version_format] = false;
  scenario::Fault delay;
  delay.kind = intercept::Fault::Kind::delay;
  delay.delay = 3s;
  delay.request = 2;
  scenario::Fault alert;
  alert.kind = intercept::ConnectionFault::Kind::tls_alert;
  step.faults = {delay, alert};
  return step;
}

TEST(ExpectProvisionStep, ArmedAheadAndSatisfied) {
  Rig rig;
  std::vector<scenario::Step> steps(1);
  steps[0].body = provision_step();
  plan_expectations({}, steps, rig.ctx);
  ASSERT_EQ(rig.interceptor.provisions.size(), 1u);
  const auto& armed = rig.interceptor.provisions[0];
  EXPECT_EQ(armed.token, rig.ctx.vars.board_token);
  EXPECT_EQ(armed.owner, "case [b1]");
  EXPECT_FALSE(armed.builtin.version_format);
  EXPECT_TRUE(armed.builtin.token_format);
  ASSERT_EQ(armed.answers.size(), 2u);  // the default answer and the 2nd request's, with its delay
  ASSERT_EQ(armed.answers[1].faults.size(), 1u);
  EXPECT_EQ(armed.answers[1].faults[0].kind, intercept::Fault::Kind::delay);
  ASSERT_EQ(rig.interceptor.connection_faults.size(), 1u);
  EXPECT_EQ(rig.interceptor.connection_faults[0].kind, intercept::ConnectionFault::Kind::tls_alert);
  EXPECT_EQ(rig.interceptor.connection_faults[0].client_address, "127.77.0.9");

  rig.interceptor.results[1].satisfied = true;
  rig.interceptor.results[1].exchanges.resize(1);
  EXPECT_EQ(rig.run_step(steps[0]), std::nullopt);
  EXPECT_EQ(rig.interceptor.provisions.size(), 1u);  // it used the armed expectation
  EXPECT_EQ(rig.interceptor.finished, (std::vector<intercept::ExpectationId>{1}));
}

TEST(ExpectProvisionStep, AFailedCheckOrNoRequestFails) {
  Rig rig;
  auto& result = rig.interceptor.results[1];
  result.satisfied = true;
  result.summary = "exactly 1 provision request";
  result.exchanges.resize(1);
  result.exchanges[0].verdicts.push_back({"builtin:token_format", false, "31 characters"});
  auto failure = rig.run(scenario::ExpectProvisionStep{});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_EQ(failure->message,
            "1 check(s) failed on the provision request: builtin:token_format: 31 characters");

  Rig silent;
  silent.interceptor.results[1].summary = "expected exactly 1 provision request, got 0";
  failure = silent.run(scenario::ExpectProvisionStep{}, 2s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->message, "expected exactly 1 provision request, got 0");
  EXPECT_NE(failure->detail.find("No provision request arrived."), std::string::npos);
}

// ---- expect_login ----
TEST(ExpectLoginStep, RegistersTheLoginAndPasses) {
  Rig rig;
  rig.interceptor.results[1].satisfied = true;
  scenario::ExpectLoginStep step;
  step.accept = false;
  EXPECT_EQ(rig.run(step), std::nullopt);
  ASSERT_EQ(rig.interceptor.logins.size(), 1u);
  EXPECT_FALSE(rig.interceptor.logins[0].accept);
  EXPECT_EQ(rig.interceptor.logins[0].token, rig.ctx.vars.board_token);
}

TEST(ExpectLoginStep, NoLoginFailsAndAVanishedPortIsAnError) {
  Rig rig;
  auto failure = rig.run(scenario::ExpectLoginStep{}, 1s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_NE(failure->detail.find("No login request arrived."), std::string::npos);

  Rig gone;
  gone.console.gone = "EOF";
  failure = gone.run(scenario::ExpectLoginStep{}, 1s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::error);
  EXPECT_EQ(failure->message, "port vanished: EOF");
}

// ---- exec ----
TEST(ExecStep, RunsTheResolvedCommandWithTheBoardName) {
  Rig rig;
  rig.shell.result.exit_code = 0;
  EXPECT_EQ(rig.run(scenario::ExecStep{"./power ${board.name}", 0}), std::nullopt);
  EXPECT_EQ(rig.shell.commands, (std::vector<std::string>{"./power b1"}));
  EXPECT_EQ(rig.shell.last_env.at("PROVHIL_BOARD"), "b1");
}

TEST(ExecStep, AnotherExitCodeOrTheDeadlineFailsAndNoShellIsAnError) {
  Rig rig;
  rig.shell.result.exit_code = 3;
  rig.shell.result.output = "relay busy";
  auto failure = rig.run(scenario::ExecStep{"./power", 0});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_EQ(failure->message, "the command exited 3, expected 0");
  EXPECT_EQ(failure->detail, "relay busy");

  rig.shell.result.timed_out = true;
  failure = rig.run(scenario::ExecStep{"./power", 0});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->message, "the command did not finish before its deadline");

  rig.shell.result = {};
  rig.shell.result.started = false;
  failure = rig.run(scenario::ExecStep{"./power", 0});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::error);
}

// ---- the name tables ----
TEST(StepKinds, EveryKindHasItsKeywordAndDescription) {
  EXPECT_EQ(scenario::step_keywords.size(), std::variant_size_v<scenario::StepBody>);
  scenario::Step step;
  step.body = scenario::ExpectLoginStep{};
  EXPECT_EQ(step.kind(), "expect_login");
  EXPECT_EQ(describe_step(step), "expect_login");
  EXPECT_EQ(scenario::BuiltinCheckNames::parse("path_exact"), scenario::BuiltinCheck::path_exact);
  EXPECT_EQ(scenario::BuiltinCheckNames::parse("nope"), std::nullopt);
  EXPECT_EQ(report::OutcomeNames::list(), "passed, failed, error, skipped");
}

// ---- repeat and retry ----
scenario::Step step_of(scenario::StepBody body) {
  scenario::Step step;
  step.body = std::move(body);
  return step;
}

scenario::ExpectStep expect_line(std::string pattern) {
  scenario::ExpectStep expect;
  expect.any_of = {line(std::move(pattern))};
  return expect;
}

TEST(RepeatStep, RunsItsStepsTheGivenNumberOfTimes) {
  Rig rig;
  scenario::RepeatStep repeat;
  repeat.times = 3;
  repeat.steps = {step_of(scenario::SendStep{"ping", true}), step_of(scenario::SendStep{"${ssid}", false})};
  EXPECT_EQ(rig.run(repeat), std::nullopt);
  EXPECT_EQ(rig.console.sent,
            (std::vector<std::string>{"ping\r\n", "lab-net", "ping\r\n", "lab-net", "ping\r\n", "lab-net"}));
}

TEST(RepeatStep, AFailureEndsItAndNamesTheIteration) {
  Rig rig;
  rig.console.lines = {"tick", "tick"};
  scenario::RepeatStep repeat;
  repeat.times = 3;
  repeat.steps = {step_of(expect_line("tick")), step_of(scenario::SendStep{"after", true})};
  auto failure = rig.run(repeat, 1s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_EQ(failure->message.rfind("iteration 3 of 3: ", 0), 0u) << failure->message;
  EXPECT_EQ(rig.console.sent.size(), 2u);  // the third iteration stopped at its failed expect
}

// A nested runner that fails its first `failures` calls, then passes.
struct FlakyNested {
  int failures = 0;
  int calls = 0;
  StepOutcome operator()(const std::vector<scenario::Step>&) {
    ++calls;
    if (calls <= failures) return StepFailure::failed("attempt " + std::to_string(calls) + " saw nothing");
    return std::nullopt;
  }
};

TEST(RetryStep, PassesOnALaterAttemptAfterItsDelays) {
  Rig rig;
  scenario::RetryStep retry;
  retry.attempts = 3;
  retry.delay = 2s;
  FlakyNested flaky{2};
  scenario::Step step = step_of(retry);
  auto started = rig.clock.now();
  EXPECT_EQ(execute(retry, StepCall{step, started + 10s}, rig.ctx, std::ref(flaky)), std::nullopt);
  EXPECT_EQ(flaky.calls, 3);
  EXPECT_EQ(rig.clock.now() - started, 4s);  // two delays, on the case's clock
}

TEST(RetryStep, AllAttemptsFailedNamesTheLastAndWaitsNotAfterIt) {
  Rig rig;
  scenario::RetryStep retry;
  retry.attempts = 2;
  retry.delay = 5s;
  FlakyNested flaky{99};
  scenario::Step step = step_of(retry);
  auto started = rig.clock.now();
  auto failure = execute(retry, StepCall{step, started + 10s}, rig.ctx, std::ref(flaky));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->outcome, Outcome::failed);
  EXPECT_EQ(failure->message, "all 2 attempts failed; the last: attempt 2 saw nothing");
  EXPECT_EQ(flaky.calls, 2);
  EXPECT_EQ(rig.clock.now() - started, 5s);
}

TEST(RetryStep, TheDelayStopsAtTheCasesDeadlineAndAnInterruptEndsIt) {
  Rig rig;
  rig.ctx.case_deadline = rig.clock.now() + 1s;
  scenario::RetryStep retry;
  retry.attempts = 2;
  retry.delay = 30s;
  FlakyNested flaky{1};
  scenario::Step step = step_of(retry);
  auto started = rig.clock.now();
  EXPECT_EQ(execute(retry, StepCall{step, started + 10s}, rig.ctx, std::ref(flaky)), std::nullopt);
  EXPECT_EQ(rig.clock.now() - started, 1s);

  Rig stopped;
  stopped.interrupt = true;
  FlakyNested again{1};
  auto failure = execute(retry, StepCall{step, stopped.clock.now() + 10s}, stopped.ctx, std::ref(again));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->error_reason, report::ErrorReason::interrupted);
  EXPECT_EQ(again.calls, 1);
}

TEST(RetryStep, NestedStepsRunThroughTheirExecutors) {
  Rig rig;
  rig.console.lines = {"boot", "Ready"};
  scenario::RetryStep retry;
  retry.attempts = 2;
  retry.steps = {step_of(scenario::SendStep{"status", true}), step_of(expect_line("Ready"))};
  EXPECT_EQ(rig.run(retry, 1s), std::nullopt);
  EXPECT_EQ(rig.console.sent, (std::vector<std::string>{"status\r\n"}));
}

// The docs' tables list exactly the names the code knows.
TEST(StepKinds, TheDocsTablesListEveryKindAndReason) {
  std::ifstream scenario_doc(std::string(PROVHIL_SOURCE_DIR) + "/docs/scenario.md");
  ASSERT_TRUE(scenario_doc) << "docs/scenario.md";
  std::vector<std::string> documented;
  std::string text_line;
  bool in_table = false;
  while (std::getline(scenario_doc, text_line)) {
    // The step table: "| kind | forms | default `within` |", then one "| `kind` | ... |" row per kind.
    if (text_line.rfind("| kind | forms", 0) == 0) in_table = true;
    if (in_table && text_line.empty()) break;
    if (in_table && text_line.rfind("| `", 0) == 0)
      documented.push_back(text_line.substr(3, text_line.find('`', 3) - 3));
  }
  EXPECT_EQ(documented,
            std::vector<std::string>(scenario::step_keywords.begin(), scenario::step_keywords.end()));

  std::ifstream report_doc(std::string(PROVHIL_SOURCE_DIR) + "/docs/report.md");
  std::string report_text((std::istreambuf_iterator<char>(report_doc)), std::istreambuf_iterator<char>());
  for (auto reason : report::SkipReasonNames::values)
    EXPECT_NE(report_text.find("`" + std::string(report::skip_reason_name(reason)) + "`"), std::string::npos);
  for (auto reason : report::ErrorReasonNames::values)
    EXPECT_NE(report_text.find("`" + std::string(report::error_reason_name(reason)) + "`"),
              std::string::npos);
}

}  // namespace
}  // namespace provhil::runner
