#pragma once
// One executor per step kind, grouped by what they talk to:
//   console_steps.cpp      reset, send, expect, capture, wait (the board and its console)
//   phone_app_steps.cpp    ap_config (the phone app against the board's setup AP)
//   interceptor_steps.cpp  expect_provision, expect_login (expectations armed ahead of their steps)
//   host_steps.cpp         exec (the lab host's shell)
//   block_steps.cpp        repeat, retry (how often nested steps run; the case runs and records them)
// repeat and retry come in as `blocks` to execute_body(), since only the case can run and record nested
// steps; it hands them a NestedSteps. A step kind without an executor does not compile.
#include <concepts>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "runner/step_context.hpp"

namespace provhil::runner {

// What an executor knows of the step besides its body.
struct StepCall {
  const scenario::Step& step;
  Clock::time_point deadline;  // the step's `within`, bounded by the scenario's timeout
};

StepOutcome execute(const scenario::ResetStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::SendStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::ExpectStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::CaptureStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::WaitStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::ApConfigStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::ExpectProvisionStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::ExpectLoginStep& body, const StepCall& call, StepContext& ctx);
StepOutcome execute(const scenario::ExecStep& body, const StepCall& call, StepContext& ctx);

// Runs nested steps in order, each recorded as the case records a step; the first failure ends them.
using NestedSteps = std::function<StepOutcome(const std::vector<scenario::Step>&)>;
StepOutcome execute(const scenario::RepeatStep& body, const StepCall& call, StepContext& ctx,
                    const NestedSteps& nested);
StepOutcome execute(const scenario::RetryStep& body, const StepCall& call, StepContext& ctx,
                    const NestedSteps& nested);

// Lets time pass until `until` (the board keeps being read); an interrupt ends it outside teardown.
StepOutcome wait_until(StepContext& ctx, Clock::time_point until);

// Registers the first expect_provision / expect_login steps of `setup` and `steps` with the
// interceptor before anything runs (interceptor_steps.cpp), and retires what is still armed.
void plan_expectations(const std::vector<scenario::Step>& setup, const std::vector<scenario::Step>& steps,
                       StepContext& ctx);
void retire_expectations(StepContext& ctx);

// "expect state RUNNING", "send 'config erase'", ...: what a step does, for reports and progress.
std::string describe_step(const scenario::Step& step);

template <class Body>
concept Executable = requires(const Body& body, const StepCall& call, StepContext& ctx) {
  { execute(body, call, ctx) } -> std::same_as<StepOutcome>;
};

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Runs `body` (a StepBody, or any variant of step kinds) with its kind's executor; `blocks` takes the
// kinds that hold nested steps (repeat, retry).
template <class Variant, class Blocks>
StepOutcome execute_body(const Variant& body, const StepCall& call, StepContext& ctx, Blocks blocks) {
  return std::visit(Overloaded{std::move(blocks),
                               [&](const auto& leaf) -> StepOutcome {
                                 using Kind = std::decay_t<decltype(leaf)>;
                                 static_assert(Executable<Kind>,
                                               "a step kind without an executor: declare "
                                               "execute(const Kind&, const StepCall&, StepContext&) "
                                               "in runner/steps.hpp and define it in runner/*_steps.cpp");
                                 if constexpr (Executable<Kind>)
                                   return execute(leaf, call, ctx);
                                 else
                                   return std::nullopt;
                               }},
                    body);
}

}  // namespace provhil::runner
