#include "runner/to_intercept.hpp"

#include <stdexcept>

namespace provhil::runner {

intercept::ValueCheck::Kind to_intercept(scenario::ValueCheck::Kind kind) {
  using K = scenario::ValueCheck::Kind;
  using I = intercept::ValueCheck::Kind;
  switch (kind) {
    case K::equals:
      return I::equals;
    case K::matches:
      return I::matches;
    case K::one_of:
      return I::one_of;
    case K::present:
      return I::present;
    case K::absent:
      return I::absent;
  }
  throw std::invalid_argument("scenario::ValueCheck::Kind out of range");
}

intercept::CountRule to_intercept(const scenario::CountRule& rule) {
  using K = scenario::CountRule::Kind;
  switch (rule.kind) {
    case K::exactly:
      return intercept::CountRule::exactly_n(rule.count);
    case K::at_least:
      return intercept::CountRule::at_least_n(rule.count);
    case K::none:
      return intercept::CountRule::no_request();
  }
  throw std::invalid_argument("scenario::CountRule::Kind out of range");
}

}  // namespace provhil::runner
