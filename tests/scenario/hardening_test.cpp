// Issue 16: hostile scenario, inventory and secrets files. Each test failed before its fix (an alias
// bomb validated as fine, a self-referencing alias crashed with SIGSEGV, ...).
#include <gtest/gtest.h>

#include <string>

#include "scenario/loader.hpp"

namespace provhil::scenario {
namespace {

std::string errors_of(const Loaded<Scenario>& loaded) {
  std::string text;
  for (const auto& d : loaded.diagnostics)
    if (d.severity == Diagnostic::Severity::error) text += d.to_string() + "\n";
  return text;
}

// Six levels of a `repeat` whose steps alias the previous level ten times: 10^6 steps from 700 bytes.
std::string alias_bomb(int levels) {
  std::string yaml = "scenario: bomb\nsteps:\n  - &l0 { wait: 1ms }\n";
  for (int level = 1; level <= levels; ++level) {
    std::string alias = "*l" + std::to_string(level - 1);
    std::string list;
    for (int i = 0; i < 10; ++i)
      list += (i ? "," : "") + alias;
    yaml += "  - &l" + std::to_string(level) + " { repeat: { times: 2, steps: [" + list + "] } }\n";
  }
  return yaml;
}

TEST(Hardening, AnAliasBombIsRefusedWithItsPlace) {
  auto loaded = parse_scenario(alias_bomb(6), "bomb.yaml");
  EXPECT_FALSE(loaded.ok());
  auto errors = errors_of(loaded);
  EXPECT_NE(errors.find("bomb.yaml:"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("bomb.yaml:0:0"), std::string::npos) << errors;
  EXPECT_NE(errors.find("more than"), std::string::npos) << errors;
}

TEST(Hardening, RepeatsThatMultiplyPastTheBoundAreRefused) {
  // Few nodes, no alias: 10000 x 10000 x 10000 steps to run.
  auto loaded = parse_scenario(
      "scenario: long\nsteps:\n  - repeat:\n      times: 10000\n      steps:\n        - repeat:\n"
      "            times: 10000\n            steps: [ { wait: 1ms } ]\n",
      "long.yaml");
  auto errors = errors_of(loaded);
  EXPECT_NE(errors.find("long.yaml:3:5: error: this 'repeat' runs more than 1000000 steps"),
            std::string::npos)
      << errors;
}

TEST(Hardening, StepsNestedTooDeepAreRefused) {
  std::string yaml = "scenario: deep\nsteps:\n";
  std::string indent = "  ";
  for (int level = 0; level < 10; ++level) {
    yaml += indent + "- repeat:\n" + indent + "    times: 1\n" + indent + "    steps:\n";
    indent += "      ";
  }
  yaml += indent + "- wait: 1ms\n";
  auto errors = errors_of(parse_scenario(yaml, "deep.yaml"));
  EXPECT_NE(errors.find("nested more than 8 deep"), std::string::npos) << errors;
}

TEST(Hardening, ASelfReferencingAliasIsAnErrorNotACrash) {
  for (const auto* yaml : {
           "scenario: self\nsteps: &s [ { repeat: { times: 2, steps: *s } } ]\n",
           "scenario: self\nsteps: &s [ { retry: { attempts: 2, steps: *s } } ]\n",
           "scenario: self\nsetup: &s [ { repeat: { times: 2, steps: *s } } ]\nsteps: [ { wait: 1ms } ]\n",
           "scenario: self\nsteps:\n  - expect_provision:\n      respond: { status: 200, body: &b { a: *b } "
           "}\n",
       }) {
    auto loaded = parse_scenario(yaml, "self.yaml");
    auto errors = errors_of(loaded);
    EXPECT_NE(errors.find("refers to a node that contains it"), std::string::npos) << yaml << "\n" << errors;
    EXPECT_EQ(errors.find("self.yaml:0:0"), std::string::npos) << errors;
  }
  auto errors = errors_of(
      parse_scenario("scenario: self\nsteps: &s [ { repeat: { times: 2, steps: *s } } ]\n", "self.yaml"));
  EXPECT_NE(errors.find("self.yaml:2:35:"), std::string::npos) << errors;
}

TEST(Hardening, ANulInAValueIsNotEchoedRaw) {
  auto errors = errors_of(parse_scenario("scenario: nul\nsteps:\n  - reset: \"ha\\0rd\"\n", "nul.yaml"));
  EXPECT_NE(errors.find("nul.yaml:3:"), std::string::npos) << errors;
  EXPECT_EQ(errors.find('\0'), std::string::npos);
  EXPECT_NE(errors.find("\\x00"), std::string::npos) << errors;
}

}  // namespace
}  // namespace provhil::scenario
