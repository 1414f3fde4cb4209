#include <gtest/gtest.h>

#include "read_helpers.hpp"
#include "serial/port.hpp"
#include "support/temp_dir.hpp"

namespace provhil::serial {
namespace {

using namespace std::chrono_literals;

TEST(ReplayPort, FastPlaysEverythingThenEnds) {
  provhil::test::TempDir dir;
  auto path = provhil::test::write_file(dir / "board.log",
                                        "[1000] Booting\n"
                                        "[2000] Connecting to WiFi\n"
                                        "no stamp here\n"
                                        "[9000] Ready (ping: 12ms).");
  auto port = open_port(parse_port_spec("replay:" + path.string()));
  EXPECT_EQ(port->kind(), PortKind::replay);
  EXPECT_FALSE(port->capabilities().write);
  port->write("ignored\r\n");  // a recording does not listen
  ReadResult last;
  auto start = Clock::now();
  auto text = test::read_until(*port, "never", 10s, &last);
  EXPECT_LT(Clock::now() - start, 2s);  // fast: the 8 s of stamps are not waited for
  EXPECT_EQ(text, "[1000] Booting\n[2000] Connecting to WiFi\nno stamp here\n[9000] Ready (ping: 12ms).");
  EXPECT_EQ(last.status, ReadStatus::vanished);
  EXPECT_NE(last.reason.find("end of replay"), std::string::npos) << last.reason;
}

TEST(ReplayPort, OriginalPacingFollowsTheStamps) {
  provhil::test::TempDir dir;
  // Our own text-log format: the stamp is ours (seconds), notes ("::: ") are not board output.
  auto path = provhil::test::write_file(dir / "text.log",
                                        "[     5.000] [100] first\n"
                                        "[     5.100] ::: sent \"config erase\"\n"
                                        "[     5.300] [400] second\n");
  auto port = open_replay(path, ReplayPacing::original);
  auto start = Clock::now();
  auto first = test::read_until(*port, "first\n");
  auto first_at = Clock::now() - start;
  auto second = test::read_until(*port, "second\n");
  auto second_at = Clock::now() - start;
  EXPECT_EQ(first, "[100] first\n");
  EXPECT_EQ(second, "[400] second\n");
  EXPECT_LT(first_at, 200ms);
  EXPECT_GE(second_at, 280ms);  // 300 ms after the first line (less a little clock rounding)
  EXPECT_LT(second_at, 3s);
}

TEST(ReplayPort, ReadBeforeTheNextLineIsDueTimesOut) {
  provhil::test::TempDir dir;
  auto path = provhil::test::write_file(dir / "slow.log", "[0] a\n[60000] b\n");
  auto port = open_replay(path, ReplayPacing::original);
  EXPECT_EQ(test::read_until(*port, "a\n"), "[0] a\n");
  char buffer[64];
  auto result = port->read(buffer, Clock::now() + 50ms);
  EXPECT_EQ(result.status, ReadStatus::timeout);
}

TEST(ReplayPort, MissingFileIsAClearError) {
  try {
    open_replay("/nonexistent/board.log");
    FAIL() << "opened";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/board.log"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace provhil::serial
