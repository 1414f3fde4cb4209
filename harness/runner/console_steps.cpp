// Steps that talk to the board and its console: reset, send, expect, capture, wait.
#include <algorithm>

#include <fmt/format.h>

#include "common/text.hpp"
#include "runner/steps.hpp"

namespace provhil::runner {

namespace {

using report::Outcome;

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

std::string describe_matchers(const std::vector<scenario::Matcher>& matchers) {
  std::string out;
  for (const auto& m : matchers)
    out += (out.empty() ? "" : " or ") + m.describe();
  return out;
}

// A vanished port is the lab's trouble; anything else the board's. The detail is `prefix` and the
// console's account, which carries the last lines it received.
StepFailure failure_of(const console::ExpectResult& result, std::string message, std::string prefix = {}) {
  auto detail = prefix + result.describe();
  auto failure = result.status == console::ExpectStatus::vanished
                     ? StepFailure::error(report::ErrorReason::port, std::move(message), std::move(detail))
                     : StepFailure::failed(std::move(message), std::move(detail));
  failure.has_serial_lines = !result.evidence.empty();
  return failure;
}

// Runs `request` in interrupt slices until it is answered, `deadline` passes or the run stops waiting.
console::ExpectResult expect_until(console::ExpectRequest request, Clock::time_point deadline,
                                   StepContext& ctx) {
  console::ExpectResult result;
  while (true) {
    request.deadline = std::min(deadline, ctx.clock.now() + interrupt_slice);
    result = ctx.console.expect(request);
    if (result.status != console::ExpectStatus::timeout || ctx.clock.now() >= deadline || ctx.stop_waiting())
      return result;
  }
}

// `dialect: auto`: looks (without consuming) for the first line one dialect's `detect` pattern knows;
// the scenario's own expectations then see the same lines.
StepOutcome pick_dialect(Clock::time_point deadline, StepContext& ctx) {
  console::ExpectRequest look;
  look.consume = false;
  std::vector<const scenario::Dialect*> order;
  std::string tried;
  for (const auto& [name, dialect] : ctx.dialects.by_name) {
    if (!dialect.detect) continue;
    look.any_of.push_back(console::Pattern::regex(dialect.detect->regex));
    order.push_back(&dialect);
    tried += (tried.empty() ? "" : ", ") + name;
  }
  if (order.empty()) return StepFailure::failed("dialect auto: no dialect has a 'detect' line");
  auto seen = expect_until(look, deadline, ctx);
  if (!seen.ok())
    return failure_of(
        seen, fmt::format("dialect auto: no line told the firmware's dialect ({}): {}", tried, seen.reason));
  ctx.dialect = order.at(static_cast<std::size_t>(seen.pattern_index));
  auto said = fmt::format("dialect auto: picked {} from the line: {}", ctx.dialect->name,
                          sanitize_text(seen.line.text));
  ctx.console.note(said);
  if (ctx.on_dialect_picked) ctx.on_dialect_picked(said);
  return std::nullopt;
}

// Waits until a line matches one of `any_of`; its named groups become captures.
StepOutcome expect_lines(const std::vector<scenario::Matcher>& any_of,
                         const std::vector<scenario::Matcher>& must_not, Clock::time_point deadline,
                         StepContext& ctx) {
  if (ctx.dialect == nullptr) {
    if (auto failure = pick_dialect(deadline, ctx)) return failure;
  }
  console::ExpectRequest request;
  for (const auto& matcher : any_of)
    request.any_of.push_back(
        console::Pattern::regex(scenario::matcher_regex(matcher, *ctx.dialect, ctx.vars)));
  for (const auto& matcher : must_not)
    request.must_not.push_back(
        console::Pattern::regex(scenario::matcher_regex(matcher, *ctx.dialect, ctx.vars)));
  for (const auto& crash : default_must_not) {
    // A step that waits for this very crash (one of its patterns matches a typical crash line) keeps it
    // allowed.
    bool waited_for = std::any_of(request.any_of.begin(), request.any_of.end(),
                                  [&](const console::Pattern& p) { return p.search(crash.sample); });
    if (!waited_for) request.must_not.push_back(console::Pattern::regex(crash.regex));
  }
  auto result = expect_until(request, deadline, ctx);
  if (result.ok()) {
    for (auto& [name, value] : result.captures)
      ctx.vars.captures[name] = value;
    return std::nullopt;
  }
  std::string message;
  switch (result.status) {
    case console::ExpectStatus::timeout:
      message = ctx.interrupted() ? "interrupted while waiting for " + describe_matchers(any_of)
                                  : "no line matched " + describe_matchers(any_of) + " in time";
      break;
    case console::ExpectStatus::forbidden: {
      auto index = static_cast<std::size_t>(result.pattern_index);
      std::string pattern =
          result.pattern_index >= 0 && index < request.must_not.size() ? request.must_not[index].text() : "?";
      message = fmt::format("a must-not-appear line showed up (/{}/): {}", pattern,
                            sanitize_text(result.line.text));
      break;
    }
    case console::ExpectStatus::vanished:
    case console::ExpectStatus::ended:  // the log does not hold the line: a failed check, not the lab's fault
      message = result.reason;
      break;
    case console::ExpectStatus::matched:
      break;
  }
  auto failure =
      failure_of(result, std::move(message), fmt::format("Expected: {}\n", describe_matchers(any_of)));
  failure.expected = describe_matchers(any_of);
  failure.actual = result.describe();
  return failure;
}

}  // namespace

StepOutcome execute(const scenario::ResetStep& body, const StepCall& call, StepContext& ctx) {
  bool rewound = false;
  try {
    rewound = body.mode == scenario::ResetStep::Mode::hard ? ctx.board.hard_reset() : ctx.board.soft_reset();
  } catch (const serial::ResetError& e) {
    return StepFailure::error(report::ErrorReason::reset, fmt::format("reset failed: {}", e.what()));
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
  if (ctx.dialect != nullptr) {
    add_marker(*ctx.dialect);
  } else {
    for (const auto& [name, dialect] : ctx.dialects.by_name)  // auto, not picked yet: any family's
      add_marker(dialect);
  }
  if (boot.any_of.empty()) return std::nullopt;
  boot.deadline = call.deadline;
  auto booted = ctx.console.expect(boot);
  if (booted.ok()) return std::nullopt;
  return failure_of(booted, "the board did not boot after the reset (no boot line): " + booted.reason);
}

StepOutcome execute(const scenario::SendStep& body, const StepCall&, StepContext& ctx) {
  ctx.console.send_line(ctx.resolve(body.text), body.newline ? "\r\n" : "");
  return std::nullopt;
}

StepOutcome execute(const scenario::ExpectStep& body, const StepCall& call, StepContext& ctx) {
  return expect_lines(body.any_of, body.must_not, call.deadline, ctx);
}

StepOutcome execute(const scenario::CaptureStep& body, const StepCall& call, StepContext& ctx) {
  return expect_lines({body.from}, {}, call.deadline, ctx);
}

StepOutcome execute(const scenario::WaitStep& body, const StepCall&, StepContext& ctx) {
  return wait_until(ctx, std::min(ctx.clock.now() + body.duration, ctx.case_deadline));
}

StepOutcome wait_until(StepContext& ctx, Clock::time_point until) {
  while (ctx.clock.now() < until) {
    if (ctx.stop_waiting()) return StepFailure::error(report::ErrorReason::interrupted, "interrupted");
    ctx.clock.sleep_for(std::min<Clock::duration>(interrupt_slice, until - ctx.clock.now()));
  }
  return std::nullopt;
}

std::string describe_step(const scenario::Step& step) {
  if (step.name) return *step.name;
  return std::visit(
      Overloaded{
          [](const scenario::ResetStep& b) -> std::string {
            return b.mode == scenario::ResetStep::Mode::hard ? "reset hard" : "reset soft";
          },
          [](const scenario::SendStep& b) -> std::string { return "send '" + b.text + "'"; },
          [](const scenario::ExpectStep& b) -> std::string {
            return "expect " + describe_matchers(b.any_of);
          },
          [](const scenario::WaitStep& b) -> std::string {
            return fmt::format("wait {}ms", b.duration.count());
          },
          [](const scenario::CaptureStep& b) -> std::string { return "capture " + b.from.describe(); },
          [](const scenario::ApConfigStep& b) -> std::string {
            return b.config.empty() ? "ap_config (board_info)" : "ap_config";
          },
          [](const scenario::ExpectProvisionStep&) -> std::string { return "expect_provision"; },
          [](const scenario::ExpectLoginStep&) -> std::string { return "expect_login"; },
          [](const scenario::ExecStep& b) -> std::string { return "exec " + b.command; },
          [](const scenario::RepeatStep& b) -> std::string { return fmt::format("repeat {}x", b.times); },
          [](const scenario::RetryStep& b) -> std::string {
            return fmt::format("retry up to {}x", b.attempts);
          },
      },
      step.body);
}

}  // namespace provhil::runner
