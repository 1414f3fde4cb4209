#include <gtest/gtest.h>

#include "common/suggest.hpp"

namespace provhil {
namespace {

TEST(DidYouMean, CloseWordsIgnoringCase) {
  std::vector<std::string> kinds = {"expect", "send", "expect_provision", "reset"};
  EXPECT_EQ(did_you_mean("expcet", kinds), "expect");
  EXPECT_EQ(did_you_mean("EXPECT", kinds), "expect");
  EXPECT_EQ(did_you_mean("expect_provison", kinds), "expect_provision");
  EXPECT_EQ(did_you_mean("frobnicate", kinds), "");
  EXPECT_EQ(did_you_mean("", kinds), "");
  EXPECT_EQ(did_you_mean("reset", {}), "");
}

TEST(DidYouMean, AnUnambiguousStartCountsAsOneEdit) {
  std::vector<std::string> flags = {"--inventory", "--reports", "--retries", "--color"};
  EXPECT_EQ(did_you_mean("--inv", flags), "--inventory");
  EXPECT_EQ(did_you_mean("--inventroy", flags), "--inventory");
  EXPECT_EQ(did_you_mean("--col", flags), "--color");
  // Too short to be a start of anything in particular, and too far by edits.
  EXPECT_EQ(did_you_mean("--x", {"--inventory"}), "");
}

TEST(DidYouMean, ThePrefixRuleIsCliWide) {
  // The same function serves scenario keys: a long enough start finds its key.
  EXPECT_EQ(did_you_mean("expect_prov", {"expect", "expect_provision"}), "expect_provision");
}

}  // namespace
}  // namespace provhil
