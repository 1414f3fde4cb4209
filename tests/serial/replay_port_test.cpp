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
  EXPECT_EQ(last.status, ReadStatus::ended);  // the log is over: not a fault of the port
  EXPECT_NE(last.reason.find("end of replay"), std::string::npos) << last.reason;
}

TEST(ReplayPort, RewindPlaysTheLogAgainFromTheFirstLine) {
  provhil::test::TempDir dir;
  auto path = provhil::test::write_file(dir / "board.log", "[10] first\n[20] second\n");
  auto port = open_replay(path);
  EXPECT_TRUE(port->capabilities().rewind);
  ReadResult last;
  EXPECT_EQ(test::read_until(*port, "never", 10s, &last), "[10] first\n[20] second\n");
  EXPECT_EQ(last.status, ReadStatus::ended);
  ASSERT_TRUE(port->rewind());
  EXPECT_EQ(test::read_until(*port, "never", 10s, &last), "[10] first\n[20] second\n");
  EXPECT_EQ(last.status, ReadStatus::ended);
}

TEST(ReplayPort, LivePortsDoNotRewind) {
  SpawnOptions spawn;
  spawn.argv = {"/bin/cat"};
  auto port = spawn_pty(spawn);
  EXPECT_FALSE(port->capabilities().rewind);
  EXPECT_FALSE(port->rewind());
}

TEST(ReplayPort, StripsMonitorPrefixesOnRequest) {
  provhil::test::TempDir dir;
  auto path = provhil::test::write_file(
      dir / "monitor.log",
      "# a note at the head of a posted log\n"
      "16:45:09.120 -> [639] INIT => WAIT_CONFIG\r\n"
      "16:45:10.001 > [1749] AP SSID: Blynk TempSensB04-8E17E\n"
      "2023-01-02 16:45:11.250 \x1b[0;32mI (771) edgent.c: State: IDLE => CONNECTING_NET\x1b[0m\n"
      "2023-01-02 16:45:12 plain\n"
      "12:00 -> not a stamp\n");
  auto port = open_port(
      parse_port_spec("replay:" + path.string() + "?strip=arduino-ide,platformio,idf-monitor,ansi,comments"));
  EXPECT_EQ(test::read_until(*port, "never"),
            "[639] INIT => WAIT_CONFIG\r\n"
            "[1749] AP SSID: Blynk TempSensB04-8E17E\n"
            "I (771) edgent.c: State: IDLE => CONNECTING_NET\n"
            "plain\n"
            "12:00 -> not a stamp\n");
  // Without the option the bytes are played as they are.
  auto plain = open_replay(path);
  EXPECT_NE(test::read_until(*plain, "never").find("16:45:09.120 -> [639]"), std::string::npos);
}

TEST(ReplayPort, BadOptionsSayWhatIsAccepted) {
  for (const char* text :
       {"replay:/x.log?strip=arduino", "replay:/x.log?speed=fast", "replay:/x.log?pacing=slow"}) {
    try {
      parse_port_spec(text);
      ADD_FAILURE() << text << " parsed";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }
  auto spec = parse_port_spec("replay:/logs/a?b.log?pacing=original&strip=arduino-ide");
  EXPECT_EQ(spec.path, "/logs/a?b.log");
  EXPECT_EQ(spec.pacing, ReplayPacing::original);
  ASSERT_EQ(spec.strip.size(), 1U);
  EXPECT_EQ(spec.strip[0], ReplayStrip::arduino_ide);
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

TEST(ReplayPort, OriginalPacingFollowsTheRunWideMillisecondStamps) {
  provhil::test::TempDir dir;
  // Our text log on the run's time base: "[t+<ms since the run started>ms] ".
  auto path = provhil::test::write_file(dir / "text.log",
                                        "[t+   5000ms] [100] first\n"
                                        "[t+   5100ms] ::: sent \"config erase\"\n"
                                        "[t+   5300ms] [400] second\n");
  auto port = open_replay(path, ReplayPacing::original);
  auto start = Clock::now();
  EXPECT_EQ(test::read_until(*port, "first\n"), "[100] first\n");
  EXPECT_EQ(test::read_until(*port, "second\n"), "[400] second\n");
  auto second_at = Clock::now() - start;
  EXPECT_GE(second_at, 280ms);
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
