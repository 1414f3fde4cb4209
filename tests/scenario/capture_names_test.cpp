// `validate` and the run read a capture's variables from one scanner (common/regex_names.hpp): the
// names the loader gives a capture step are exactly those the console fills in when the line matches.
#include <gtest/gtest.h>

#include <boost/regex.hpp>

#include "common/regex_names.hpp"
#include "console/console.hpp"
#include "scenario/loader.hpp"
#include "test_paths.hpp"

namespace provhil::scenario {
namespace {

struct Case {
  const char* regex;
  const char* line;  // a line on which every real group takes part
};

// Each of these was read differently before: by the loader (which `validate` checks variables
// against) or by the console (which fills them in), or by both against Boost.Regex.
const Case cases[] = {
    {R"(x[(?<fake>)]+ (?<mac>\S+))", "x(( AA:BB"},         // a class holding parentheses
    {R"([]()?<inclass>]+(?<real>\d+))", "(?<12"},          // a class opening with ']'
    {R"([[:alpha:](?<cls>]+(?<num>\d+))", "ab(?<7"},       // a POSIX class inside a class
    {R"(\Q(?<quoted>x)\E(?<after>\d))", "(?<quoted>x)5"},  // quoted text
    {R"((?#(?<commented>x)(?<kept>\d))", "8"},  // a comment (it ends at the first closing parenthesis)
    {R"(\\(?<afterslash>\d))", "\\4"},          // an escaped backslash, then a group
    {R"(\(?<notagroup>\d+\)(?<real>\w))", "(?<notagroup>12)z"},  // escaped parentheses
    {R"((?'quote'\d+)-(?<perl>\d+))", "2-3"},                    // both spellings
    {R"((?<=id:)(?<id>\d+)(?<!x))", "id:42"},                    // look-behinds are not names
    {R"((?:(?<outer>a(?<inner>b)))+)", "ab"},                    // nested and non-capturing groups
};

std::vector<std::string> names_the_loader_gives(const std::string& regex) {
  std::string yaml =
      "scenario: names\nsteps:\n  - capture: { line: '" + test::replace_all(regex, "'", "''") + "' }\n";
  auto loaded = parse_scenario(yaml, "names.yaml");
  for (const auto& d : loaded.diagnostics)
    ADD_FAILURE() << regex << ": " << d.to_string();
  if (!loaded.ok()) return {};
  return std::get<CaptureStep>(loaded.value->steps.at(0).body).names;
}

std::vector<std::string> names_the_run_fills(const std::string& regex, const std::string& line) {
  std::map<std::string, std::string> captures;
  EXPECT_TRUE(console::Pattern::regex(regex).search(line, &captures)) << regex << " on " << line;
  std::vector<std::string> names;
  for (const auto& [name, value] : captures)
    names.push_back(name);
  return names;
}

TEST(CaptureNames, ValidateAndTheRunAgreeOnEveryPattern) {
  for (const auto& c : cases) {
    auto declared = names_the_loader_gives(c.regex);
    auto filled = names_the_run_fills(c.regex, c.line);
    std::sort(declared.begin(), declared.end());
    EXPECT_EQ(declared, filled) << c.regex;
  }
}

TEST(CaptureNames, EveryNameIsAGroupBoostKnowsAndNoneIsMissed) {
  for (const auto& c : cases) {
    boost::regex re(c.regex, boost::regex::perl);
    auto names = regex_group_names(c.regex);
    boost::smatch match;
    std::string line = c.line;
    ASSERT_TRUE(boost::regex_search(line, match, re)) << c.regex;
    for (const auto& name : names)
      EXPECT_GE(match.named_subexpression_index(name.data(), name.data() + name.size()), 0)
          << c.regex << ": " << name;
    // Every group in these patterns is named, except the explicit non-capturing ones.
    EXPECT_EQ(names.size(), re.mark_count()) << c.regex;
  }
}

TEST(CaptureNames, RepeatedNamesCountOnce) {
  EXPECT_EQ(regex_group_names(R"((?<id>\d+)|(?<id>[a-z]+))"), std::vector<std::string>{"id"});
}

}  // namespace
}  // namespace provhil::scenario
