#include <gtest/gtest.h>

#include "common/regex_names.hpp"

namespace provhil {
namespace {

using Names = std::vector<std::string>;

TEST(RegexGroupNames, ReadsBothSpellingsInOrder) {
  EXPECT_EQ(regex_group_names(R"((?<a>x)(?'c'z))"), (Names{"a", "c"}));
  EXPECT_EQ(regex_group_names(R"((?P<b>y))"), Names{});  // Python's spelling: Boost.Regex refuses it
}

TEST(RegexGroupNames, SkipsWhatIsNotANamedGroup) {
  EXPECT_EQ(regex_group_names(R"(\(?<a>x\))"), Names{});
  EXPECT_EQ(regex_group_names(R"([(?<a>x)])"), Names{});
  EXPECT_EQ(regex_group_names(R"([]](?<b>x))"), Names{"b"});
  EXPECT_EQ(regex_group_names(R"([^]((?<a>]x(?<b>y))"), Names{"b"});
  EXPECT_EQ(regex_group_names(R"([[:digit:]]+(?<n>\d))"), Names{"n"});
  EXPECT_EQ(regex_group_names(R"(\Q(?<a>\E(?<b>x))"), Names{"b"});
  EXPECT_EQ(regex_group_names(R"((?#(?<a>)(?<b>x))"), Names{"b"});  // the comment ends at the first ')'
  EXPECT_EQ(regex_group_names(R"((?<=x)(?<!y)(?:z)(?i)(?<1a>q))"), Names{});
  EXPECT_EQ(regex_group_names(R"(\\(?<a>x))"), Names{"a"});
}

TEST(RegexGroupNames, NestedAndRepeatedNames) {
  EXPECT_EQ(regex_group_names(R"((?<outer>a(?<inner>b)c)(?<outer>d))"), (Names{"outer", "inner"}));
}

TEST(RegexGroupNames, UnterminatedTextEndsTheScan) {
  EXPECT_EQ(regex_group_names(R"((?<a)"), Names{});
  EXPECT_EQ(regex_group_names(R"([(?<a>x))"), Names{});
  EXPECT_EQ(regex_group_names(R"(\Q(?<a>x))"), Names{});
  EXPECT_EQ(regex_group_names("\\"), Names{});
}

}  // namespace
}  // namespace provhil
