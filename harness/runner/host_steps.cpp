// Steps that run on the lab host: exec.
#include <fmt/format.h>

#include "runner/steps.hpp"

namespace provhil::runner {

StepOutcome execute(const scenario::ExecStep& body, const StepCall& call, StepContext& ctx) {
  using report::Outcome;
  // In teardown an interrupt does not cut the command short: the teardown deadline bounds it.
  auto result = ctx.shell.run(ctx.resolve(body.command), {{"PROVHIL_BOARD", ctx.board.board().name}},
                              call.deadline, ctx.teardown ? nullptr : ctx.interrupted_flag);
  if (!result.started)
    return StepFailure::error(report::ErrorReason::host_command, "could not start /bin/sh: " + result.output);
  if (result.timed_out)
    return StepFailure::failed("the command did not finish before its deadline", result.output);
  if (result.exit_code != body.expect_exit)
    return StepFailure::failed(
        fmt::format("the command exited {}, expected {}", result.exit_code, body.expect_exit), result.output);
  return std::nullopt;
}

}  // namespace provhil::runner
