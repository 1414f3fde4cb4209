// Steps the interceptor answers: expect_provision and expect_login. Each registers an expectation
// keyed by the board's token; the first ones are armed before the case starts (a board may send its
// request before the step that waits for it runs), and each finished one arms the next of its kind.
#include <algorithm>

#include <fmt/format.h>

#include "runner/detail/value_checks.hpp"
#include "runner/steps.hpp"
#include "runner/to_intercept.hpp"

namespace provhil::runner {

namespace {

using report::Outcome;
using Answer = std::variant<scenario::Response, scenario::Redirect, scenario::Proxy>;

bool& builtin_switch(intercept::BuiltinChecks& checks, scenario::BuiltinCheck check) {
  using C = scenario::BuiltinCheck;
  switch (check) {  // no default: a new check without its switch fails the build
    case C::token_format:
      return checks.token_format;
    case C::template_id_format:
      return checks.template_id_format;
    case C::type_value:
      return checks.type_value;
    case C::version_format:
      return checks.version_format;
    case C::no_duplicates:
      return checks.no_duplicates;
    case C::method_get:
      return checks.method_get;
    case C::path_exact:
      return checks.path_exact;
  }
  throw std::logic_error("unnamed built-in check");
}

intercept::Answer make_answer(const Answer& answer, const StepContext& ctx) {
  if (const auto* respond = std::get_if<scenario::Response>(&answer)) {
    intercept::Answer a = respond->status == 400 && !respond->body ? intercept::Answer::invalid_token()
                                                                   : intercept::Answer::ok();
    a.status = respond->status;
    if (respond->body) a.body = ctx.resolve(*respond->body);
    for (const auto& [name, value] : respond->headers)
      a.headers.emplace_back(name, ctx.resolve(value));
    return a;
  }
  if (const auto* redirect = std::get_if<scenario::Redirect>(&answer))
    return intercept::Answer::redirect_to(ctx.resolve(redirect->location), redirect->status);
  const auto& proxy = std::get<scenario::Proxy>(answer);
  if (!proxy.upstream.empty() && proxy.upstream != ctx.inventory_upstream) {
    throw std::invalid_argument(
        "a per-step proxy upstream is not supported: set interceptor.upstream in the inventory");
  }
  return intercept::Answer::forward();
}

// A handshake fault is armed on the interceptor for the board's next connection.
void arm_connection_fault(const scenario::Fault& fault, intercept::ConnectionFault::Kind kind,
                          StepContext& ctx) {
  if (fault.request.value_or(1) != 1)
    throw std::invalid_argument(fmt::format("{}: a handshake fault applies to the next connection only ({})",
                                            fault.where.to_string(), "request: 1"));
  intercept::ConnectionFault armed;
  armed.kind = kind;
  armed.client_address = ctx.board.client_address();  // empty (any client) for a real board
  armed.owner = ctx.owner;
  ctx.interceptor.arm_connection_fault(armed);
}

// A request fault rides on the answer of the request it names (made from the default one).
void add_request_fault(const scenario::Fault& fault, intercept::Fault::Kind kind,
                       intercept::ProvisionExpectation& expectation) {
  intercept::Fault f;
  f.kind = kind;
  f.delay = fault.delay;
  if (fault.delay_max) f.delay_max = *fault.delay_max;
  if (fault.seed) f.seed = *fault.seed;
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

intercept::ExpectationId register_step(const scenario::ExpectProvisionStep& step, StepContext& ctx) {
  intercept::ProvisionExpectation expectation;
  expectation.token = ctx.resolve(step.token);
  expectation.owner = ctx.owner;
  expectation.count = to_intercept(step.count);
  for (const auto& [check, on] : step.builtin_checks)
    builtin_switch(expectation.builtin, check) = on;
  int origin = 0;  // numbered as checks_of() lists them
  for (const auto& named : step.query)
    expectation.query.push_back(value_check(named, ctx, origin++));
  for (const auto& named : step.headers)
    expectation.headers.push_back(value_check(named, ctx, origin++));
  expectation.answers.push_back(make_answer(step.answer, ctx));
  for (const auto& [nth, answer] : step.nth_answers) {
    auto a = make_answer(answer, ctx);
    a.nth = nth;
    expectation.answers.push_back(std::move(a));
  }
  for (const auto& fault : step.faults) {
    if (const auto* connection_kind = std::get_if<intercept::ConnectionFault::Kind>(&fault.kind))
      arm_connection_fault(fault, *connection_kind, ctx);
    else
      add_request_fault(fault, std::get<intercept::Fault::Kind>(fault.kind), expectation);
  }
  return ctx.interceptor.expect_provision(std::move(expectation));
}

intercept::ExpectationId register_step(const scenario::ExpectLoginStep& step, StepContext& ctx) {
  intercept::LoginExpectation expectation;
  expectation.token = ctx.resolve(step.token);
  expectation.owner = ctx.owner;
  expectation.count = intercept::CountRule::at_least_n(1);
  expectation.accept = step.accept;
  int origin = 0;
  for (const auto& named : step.info)
    expectation.info.push_back(value_check(named, ctx, origin++));
  return ctx.interceptor.expect_login(std::move(expectation));
}

// The plan, cursor and armed slot of one kind.
template <class Body>
struct Lane;
template <>
struct Lane<scenario::ExpectProvisionStep> {
  static constexpr const char* what = "provision";
  static auto& plan(ExpectationPlan& p) { return p.provision; }
  static auto& next(ExpectationPlan& p) { return p.provision_next; }
  static auto& armed(ExpectationPlan& p) { return p.armed_provision; }
};
template <>
struct Lane<scenario::ExpectLoginStep> {
  static constexpr const char* what = "login";
  static auto& plan(ExpectationPlan& p) { return p.login; }
  static auto& next(ExpectationPlan& p) { return p.login_next; }
  static auto& armed(ExpectationPlan& p) { return p.armed_login; }
};

template <class Body>
void arm_next(StepContext& ctx) {
  using L = Lane<Body>;
  auto& plan = L::plan(ctx.expectations);
  auto& next = L::next(ctx.expectations);
  if (next >= plan.size()) return;
  const auto* step = plan[next++];
  L::armed(ctx.expectations) = ExpectationPlan::Armed{step, register_step(std::get<Body>(step->body), ctx)};
}

// The steps of kind Body in the order they first run (repeat blocks unrolled, retry blocks once).
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

// A step's value checks in the order register_step numbers their `origin`.
std::vector<const scenario::NamedCheck*> checks_of(const scenario::ExpectProvisionStep& step) {
  std::vector<const scenario::NamedCheck*> checks;
  for (const auto& named : step.query)
    checks.push_back(&named);
  for (const auto& named : step.headers)
    checks.push_back(&named);
  return checks;
}
std::vector<const scenario::NamedCheck*> checks_of(const scenario::ExpectLoginStep& step) {
  std::vector<const scenario::NamedCheck*> checks;
  for (const auto& named : step.info)
    checks.push_back(&named);
  return checks;
}

StepOutcome judge(const intercept::WaitResult& result, const char* what,
                  const std::vector<const scenario::NamedCheck*>& checks, const StepContext& ctx) {
  std::vector<std::string> failed_checks;
  std::optional<scenario::SourceLocation> first_failed_key;
  for (const auto& exchange : result.exchanges) {
    for (const auto& verdict : exchange.verdicts) {
      if (verdict.passed) continue;
      failed_checks.push_back(verdict.check + (verdict.detail.empty() ? "" : ": " + verdict.detail));
      auto origin = static_cast<std::size_t>(verdict.origin);
      if (failed_checks.size() == 1 && verdict.origin >= 0 && origin < checks.size())
        first_failed_key = checks[origin]->check.where;
    }
  }
  if (result.satisfied && failed_checks.empty()) return std::nullopt;
  StepFailure failure;
  failure.where = first_failed_key;
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
    auto last = result.exchanges.back().to_json_line(&ctx.masker);
    failure.detail += "Last exchange:\n" + last + "\n";
    failure.actual += last;
  } else {
    failure.detail += fmt::format("No {} request arrived.\n", what);
    failure.actual += fmt::format("no {} request arrived", what);
  }
  return failure;
}

// Waits for the step's expectation (armed early, or registered now), retires it and arms the next
// one of its kind.
template <class Body>
StepOutcome await_expectation(const Body& body, const StepCall& call, StepContext& ctx) {
  using L = Lane<Body>;
  auto& armed = L::armed(ctx.expectations);
  intercept::ExpectationId id;
  bool was_armed = armed && armed->step == &call.step;
  if (was_armed) {
    id = armed->id;
    armed.reset();
  } else {
    // A retry running this step again: its earlier expectation is retired already, and what is armed
    // belongs to a later step, which keeps it.
    id = register_step(body, ctx);
  }
  intercept::WaitResult waited;
  do {
    waited = ctx.interceptor.wait(id, std::min(call.deadline, ctx.clock.now() + interrupt_slice));
  } while (waited.timed_out && ctx.clock.now() < call.deadline && !ctx.stop_waiting() &&
           !ctx.console.vanished());
  auto final_result = ctx.interceptor.finish(id);
  if (was_armed) arm_next<Body>(ctx);
  if (auto gone = ctx.console.vanished(); gone && !waited.satisfied)
    return StepFailure::error(report::ErrorReason::port, "port vanished: " + *gone);
  if (!waited.satisfied && ctx.interrupted())
    return StepFailure::error(report::ErrorReason::interrupted, "interrupted");
  return judge(final_result, L::what, checks_of(body), ctx);
}

}  // namespace

StepOutcome execute(const scenario::ExpectProvisionStep& body, const StepCall& call, StepContext& ctx) {
  return await_expectation(body, call, ctx);
}

StepOutcome execute(const scenario::ExpectLoginStep& body, const StepCall& call, StepContext& ctx) {
  return await_expectation(body, call, ctx);
}

void plan_expectations(const std::vector<scenario::Step>& setup, const std::vector<scenario::Step>& steps,
                       StepContext& ctx) {
  auto& plan = ctx.expectations;
  collect<scenario::ExpectProvisionStep>(setup, plan.provision);
  collect<scenario::ExpectProvisionStep>(steps, plan.provision);
  collect<scenario::ExpectLoginStep>(setup, plan.login);
  collect<scenario::ExpectLoginStep>(steps, plan.login);
  arm_next<scenario::ExpectProvisionStep>(ctx);
  arm_next<scenario::ExpectLoginStep>(ctx);
}

void retire_expectations(StepContext& ctx) {
  for (auto* armed : {&ctx.expectations.armed_provision, &ctx.expectations.armed_login}) {
    if (*armed) ctx.interceptor.finish((*armed)->id);
    armed->reset();
  }
}

}  // namespace provhil::runner
