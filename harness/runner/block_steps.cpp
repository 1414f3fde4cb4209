// repeat and retry: how often their nested steps run and what a failure inside means. The nested
// steps themselves run through the case (StepCall's caller), which records and reports each one.
#include <fmt/format.h>

#include "runner/steps.hpp"

namespace provhil::runner {

StepOutcome execute(const scenario::RepeatStep& body, const StepCall&, StepContext&,
                    const NestedSteps& nested) {
  for (int i = 1; i <= body.times; ++i) {
    if (auto failure = nested(body.steps)) {
      failure->message = fmt::format("iteration {} of {}: {}", i, body.times, failure->message);
      return failure;
    }
  }
  return std::nullopt;
}

StepOutcome execute(const scenario::RetryStep& body, const StepCall&, StepContext& ctx,
                    const NestedSteps& nested) {
  StepOutcome failure;
  for (int attempt = 1; attempt <= body.attempts; ++attempt) {
    failure = nested(body.steps);
    if (!failure) return std::nullopt;
    if (attempt < body.attempts) {
      if (auto stop = wait_until(ctx, std::min(ctx.clock.now() + body.delay, ctx.case_deadline))) return stop;
    }
  }
  failure->message = fmt::format("all {} attempts failed; the last: {}", body.attempts, failure->message);
  return failure;
}

}  // namespace provhil::runner
