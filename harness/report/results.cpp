#include "report/results.hpp"

namespace provhil::report {

std::string_view to_string(Outcome outcome) {
  return outcome_name(outcome);
}

std::string SourceLocation::to_string() const {
  std::string text = file.string();
  if (line > 0) {
    text += ':' + std::to_string(line);
    if (column > 0) text += ':' + std::to_string(column);
  }
  return text;
}

}  // namespace provhil::report
