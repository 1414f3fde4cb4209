// The scenario's fault kinds are the interceptor's own, under the names the journal writes, and
// handshake faults are connection faults.
#include "runner/to_intercept.hpp"

#include <gtest/gtest.h>

#include <string>

namespace provhil::runner {
namespace {

std::string intercept_name(const scenario::Fault::Kind& kind) {
  return std::visit([](auto k) { return std::string(intercept::to_string(k)); }, kind);
}

TEST(ToIntercept, EveryScenarioFaultKindKeepsItsName) {
  const auto& names = scenario::fault_kind_names();
  ASSERT_EQ(names.size(), 10u);
  for (const auto& name : names) {
    auto kind = scenario::parse_fault_kind(name);
    ASSERT_TRUE(kind) << name;
    EXPECT_EQ(scenario::to_string(*kind), name);
    EXPECT_EQ(intercept_name(*kind), name);
    bool handshake = intercept::ConnectionFaultNames::parse(name).has_value();
    scenario::Fault fault;
    fault.kind = *kind;
    EXPECT_EQ(handshake, fault.connection_fault()) << name;
  }
  EXPECT_FALSE(scenario::parse_fault_kind("tls_truncation "));
  EXPECT_FALSE(scenario::parse_fault_kind(""));
}

TEST(ToIntercept, AnsweredByNamesAreTheJournalsStrings) {
  using intercept::AnsweredBy;
  EXPECT_EQ(to_string(AnsweredBy{intercept::Responder::mock}), "mock");
  EXPECT_EQ(to_string(AnsweredBy{intercept::Responder::proxy_error}), "proxy_error");
  EXPECT_EQ(to_string(AnsweredBy{intercept::Fault::Kind::tls_truncation}), "fault:tls_truncation");
  EXPECT_EQ(to_string(AnsweredBy{intercept::ConnectionFault::Kind::stall_handshake}),
            "fault:stall_handshake");
  EXPECT_EQ(to_string(AnsweredBy{}), "");
}

TEST(ToIntercept, CountRules) {
  auto rule = to_intercept(scenario::CountRule{scenario::CountRule::Kind::at_least, 3});
  EXPECT_EQ(rule.kind, intercept::CountRule::Kind::at_least);
  EXPECT_EQ(rule.n, 3);
  EXPECT_EQ(to_intercept(scenario::CountRule{scenario::CountRule::Kind::none, 0}).kind,
            intercept::CountRule::Kind::none);
}

}  // namespace
}  // namespace provhil::runner
