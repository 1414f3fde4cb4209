#pragma once
// The scenario's enums as the interceptor knows them. One exhaustive switch per enum (no
// `default:`): a kind added on either side without its mapping does not build.

#include <variant>

#include "intercept/provision.hpp"
#include "scenario/model.hpp"

namespace provhil::runner {

intercept::ValueCheck::Kind to_intercept(scenario::ValueCheck::Kind kind);
intercept::CountRule to_intercept(const scenario::CountRule& rule);
// A scenario fault acts after a request arrived (a Fault on the answer) or during the TLS
// handshake (a ConnectionFault armed for the next connection).
using InterceptFaultKind = std::variant<intercept::Fault::Kind, intercept::ConnectionFault::Kind>;
InterceptFaultKind to_intercept(scenario::Fault::Kind kind);

}  // namespace provhil::runner
