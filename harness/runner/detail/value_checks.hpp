#pragma once
// Scenario value checks turned into the interceptor's, shared by the phone-app and interceptor steps.
#include <string>

#include <boost/json/value.hpp>

#include "intercept/provision.hpp"
#include "runner/step_context.hpp"

namespace provhil::runner {

// A scenario check with its templates resolved (a `matches` regex gets its values regex-escaped);
// `origin` comes back on its verdict so that a failure can point at the check's own key.
intercept::ValueCheck value_check(const scenario::NamedCheck& named, const StepContext& ctx, int origin = -1);

// A JSON scalar as the text a check compares: strings bare, anything else serialised.
std::string json_scalar_text(const boost::json::value& value);

}  // namespace provhil::runner
