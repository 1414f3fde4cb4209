#pragma once
// The scenario's enums as the interceptor knows them. One exhaustive switch per enum (no
// `default:`): a kind added on either side without its mapping does not build.

#include <variant>

#include "intercept/provision.hpp"
#include "scenario/model.hpp"

namespace provhil::runner {

intercept::ValueCheck::Kind to_intercept(scenario::ValueCheck::Kind kind);
intercept::CountRule to_intercept(const scenario::CountRule& rule);
// Fault kinds need no mapping: a scenario's Fault::Kind is the interceptor's own (scenario/model.hpp).

}  // namespace provhil::runner
