// The colour decision: --color, FORCE_COLOR, NO_COLOR, a terminal, TERM=dumb.
#include <gtest/gtest.h>

#include "common/color.hpp"

namespace {

using provhil::ColorEnvironment;
using provhil::ColorMode;
using provhil::use_color;

ColorEnvironment tty(const char* term = "xterm-256color") {
  return {nullptr, nullptr, term, true};
}
ColorEnvironment pipe_env() {
  return {nullptr, nullptr, "xterm-256color", false};
}

TEST(Color, AutoColoursATerminalButNotAPipe) {
  EXPECT_TRUE(use_color(ColorMode::automatic, tty()));
  EXPECT_FALSE(use_color(ColorMode::automatic, pipe_env()));
}

TEST(Color, DumbTerminalGetsNoColourAndNoRedraw) {
  EXPECT_FALSE(use_color(ColorMode::automatic, tty("dumb")));
  EXPECT_FALSE(provhil::can_redraw(tty("dumb")));
  EXPECT_TRUE(provhil::can_redraw(tty()));
}

TEST(Color, NoColorTurnsItOffUnlessEmpty) {
  auto env = tty();
  env.no_color = "1";
  EXPECT_FALSE(use_color(ColorMode::automatic, env));
  env.no_color = "";
  EXPECT_TRUE(use_color(ColorMode::automatic, env));
}

TEST(Color, ForceColorTurnsItOnEvenIntoAPipeAndZeroTurnsItOff) {
  auto env = pipe_env();
  env.force_color = "1";
  EXPECT_TRUE(use_color(ColorMode::automatic, env));
  env.no_color = "1";
  EXPECT_TRUE(use_color(ColorMode::automatic, env)) << "FORCE_COLOR is the more specific wish";
  auto off = tty();
  off.force_color = "0";
  EXPECT_FALSE(use_color(ColorMode::automatic, off));
}

TEST(Color, TheFlagWinsOverEverything) {
  auto env = tty();
  env.force_color = "1";
  EXPECT_FALSE(use_color(ColorMode::never, env));
  auto dumb = pipe_env();
  dumb.no_color = "1";
  dumb.term = "dumb";
  EXPECT_TRUE(use_color(ColorMode::always, dumb));
}

TEST(Color, ParsesTheThreeModes) {
  EXPECT_EQ(provhil::parse_color_mode("auto"), ColorMode::automatic);
  EXPECT_EQ(provhil::parse_color_mode("always"), ColorMode::always);
  EXPECT_EQ(provhil::parse_color_mode("never"), ColorMode::never);
  EXPECT_FALSE(provhil::parse_color_mode("yes"));
}

}  // namespace
