#include <gtest/gtest.h>

#include "console/detail/line_framer.hpp"

namespace provhil::console::detail {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<bool> cuts;
};

Collected feed_all(LineFramer& framer, const std::vector<std::string>& chunks) {
  Collected out;
  for (const auto& chunk : chunks)
    framer.feed(chunk, [&](std::string_view text, bool cut) {
      out.lines.emplace_back(text);
      out.cuts.push_back(cut);
    });
  return out;
}

TEST(LineFramer, CrLfLfAndLoneCr) {
  LineFramer framer(4096, {">", "> "});
  auto out = feed_all(framer, {"a\r\nb\nc\rprogress 10%\rprogress 20%\r\n"});
  EXPECT_EQ(out.lines, (std::vector<std::string>{"a", "b", "c", "progress 10%", "progress 20%"}));
  EXPECT_TRUE(framer.partial().empty());
}

TEST(LineFramer, CrLfSplitAcrossChunksIsOneTerminator) {
  LineFramer framer(4096, {});
  auto out = feed_all(framer, {"first\r", "\nsecond\r", "", "third\n"});
  EXPECT_EQ(out.lines, (std::vector<std::string>{"first", "second", "third"}));
}

TEST(LineFramer, EmptyLinesAreKept) {
  LineFramer framer(4096, {});
  auto out = feed_all(framer, {"\n\r\n\n"});
  EXPECT_EQ(out.lines, (std::vector<std::string>{"", "", ""}));
}

TEST(LineFramer, PartialLineWaitsForItsEnd) {
  LineFramer framer(4096, {});
  auto out = feed_all(framer, {"[12] Conn", "ecting to ", "WiFi"});
  EXPECT_TRUE(out.lines.empty());
  EXPECT_EQ(framer.partial(), "[12] Connecting to WiFi");
  out = feed_all(framer, {"\n"});
  EXPECT_EQ(out.lines, (std::vector<std::string>{"[12] Connecting to WiFi"}));
  framer.feed("tail", [](std::string_view, bool) {});
  std::vector<std::string> flushed;
  framer.flush([&](std::string_view text, bool) { flushed.emplace_back(text); });
  EXPECT_EQ(flushed, (std::vector<std::string>{"tail"}));
}

TEST(LineFramer, PromptStuckToTheNextLogLineIsSplitOff) {
  LineFramer framer(4096, {">", "> "});
  auto out = feed_all(framer, {">", "[1234] Connecting to WiFi\n> [1300] Ready\n>not a log line\n"});
  EXPECT_EQ(out.lines, (std::vector<std::string>{">", "[1234] Connecting to WiFi", "> ", "[1300] Ready",
                                                 ">not a log line"}));
}

TEST(LineFramer, LongLinesAreCutAtTheCap) {
  LineFramer framer(8, {});
  auto out = feed_all(framer, {"0123456789", "abcdefghij\nshort\n"});
  EXPECT_EQ(out.lines, (std::vector<std::string>{"01234567", "89abcdef", "ghij", "short"}));
  EXPECT_EQ(out.cuts, (std::vector<bool>{true, true, false, false}));
  // A single chunk far over the cap never grows the pending line past it.
  auto big = feed_all(framer, {std::string(100, 'x')});
  EXPECT_EQ(big.lines.size(), 12U);
  EXPECT_LE(framer.partial().size(), 8U);
}

TEST(LineFramer, NulAndBinaryBytesPassThrough) {
  LineFramer framer(4096, {});
  std::string garbage("a\0b\xff\xfe", 5);
  auto out = feed_all(framer, {garbage + "\n"});
  ASSERT_EQ(out.lines.size(), 1U);
  EXPECT_EQ(out.lines[0], garbage);
}

}  // namespace
}  // namespace provhil::console::detail
