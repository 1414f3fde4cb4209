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

InterceptFaultKind to_intercept(scenario::Fault::Kind kind) {
  using K = scenario::Fault::Kind;
  using F = intercept::Fault::Kind;
  using C = intercept::ConnectionFault::Kind;
  switch (kind) {
    case K::delay:
      return F::delay;
    case K::close:
      return F::close;
    case K::reset:
      return F::reset;
    case K::malformed:
      return F::malformed;
    case K::truncated:
      return F::truncated;
    case K::tls_truncation:
      return F::tls_truncation;
    case K::tls_alert:
      return C::tls_alert;
    case K::stall_handshake:
      return C::stall_handshake;
    case K::expired_cert:
      return C::expired_cert;
    case K::wrong_name_cert:
      return C::wrong_name_cert;
  }
  throw std::invalid_argument("scenario::Fault::Kind out of range");
}

}  // namespace provhil::runner
