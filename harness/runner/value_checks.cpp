#include "runner/detail/value_checks.hpp"

#include <boost/json.hpp>

#include "runner/to_intercept.hpp"

namespace provhil::runner {

intercept::ValueCheck value_check(const scenario::NamedCheck& named, const StepContext& ctx, int origin) {
  intercept::ValueCheck check;
  check.name = named.name;
  check.origin = origin;
  check.kind = to_intercept(named.check.kind);
  check.value = named.check.kind == scenario::ValueCheck::Kind::matches
                    ? ctx.resolve(named.check.value, scenario::Escape::regex)
                    : ctx.resolve(named.check.value);
  for (const auto& v : named.check.values)
    check.values.push_back(ctx.resolve(v));
  return check;
}

std::string json_scalar_text(const boost::json::value& value) {
  if (value.is_string()) return std::string(value.as_string());
  return boost::json::serialize(value);
}

}  // namespace provhil::runner
