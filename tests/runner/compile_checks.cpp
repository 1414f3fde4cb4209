// The name tables and the step dispatch are complete by construction: each piece left out here
// (by one of the PROVHIL_DROP_* definitions, tests/runner/CMakeLists.txt) must fail the build with
// the message its ctest test looks for. Built whole, this file compiles and runs.
#include <string_view>
#include <variant>

#include "report/results.hpp"
#include "runner/steps.hpp"
#include "scenario/model.hpp"

namespace probe {

// A new step kind: its keyword and its executor.
struct BlinkStep {
#ifndef PROVHIL_DROP_KEYWORD
  static constexpr std::string_view keyword = "blink";
#endif
  int times = 1;
};

#ifndef PROVHIL_DROP_EXECUTOR
provhil::runner::StepOutcome execute(const BlinkStep&, const provhil::runner::StepCall&,
                                     provhil::runner::StepContext&) {
  return std::nullopt;
}
#endif

using Body = std::variant<provhil::scenario::SendStep, BlinkStep>;

// A new enumerator: its name.
enum class Colour { red, green, blue };
constexpr std::string_view colour_name(Colour colour) {
  switch (colour) {
    case Colour::red:
      return "red";
    case Colour::green:
      return "green";
#ifndef PROVHIL_DROP_NAME
    case Colour::blue:
      return "blue";
#endif
  }
  return {};
}

}  // namespace probe

// Every keyword of a variant of step kinds, as scenario::step_keywords is made.
static_assert(provhil::scenario::keywords_of<probe::Body>()[1] == "blink");
static_assert(provhil::EnumNames<probe::colour_name>::values.size() == 3);

// The dispatch: instantiating it for a kind without an executor fails.
provhil::runner::StepOutcome run_probe(const probe::Body& body, const provhil::runner::StepCall& call,
                                       provhil::runner::StepContext& ctx) {
  struct NoBlocks {
    provhil::runner::StepOutcome operator()(const provhil::scenario::RepeatStep&) const {
      return std::nullopt;
    }
  };
  return provhil::runner::execute_body(body, call, ctx, NoBlocks{});
}

int main() {
  return provhil::EnumNames<probe::colour_name>::parse("blue") == probe::Colour::blue &&
                 provhil::report::OutcomeNames::values.size() == 4
             ? 0
             : 1;
}
