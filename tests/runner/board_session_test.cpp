// A replay board as the runner holds it: every case starts from the log's first line, whatever the
// console's reader read before (issue 12: "port vanished (end of replay)" in 1 of 8 runs).
#include <gtest/gtest.h>

#include <thread>

#include "runner/board_session.hpp"
#include "support/temp_dir.hpp"

namespace provhil::runner {
namespace {

using namespace std::chrono_literals;
using provhil::test::TempDir;

scenario::Board replay_board(const std::filesystem::path& log) {
  scenario::Board board;
  board.name = "replay-1";
  board.port = "replay:" + log.string();
  board.reset = serial::parse_reset_strategy("none");
  return board;
}

// The gate: the reader has read the whole log (it reports its end) before the case starts, which is
// what a fast replay did on a loaded machine. Without start_case() rewinding, the first expect sees
// nothing and the log is over.
TEST(ReplayBoardSession, ACaseStartingAfterTheReaderReadEverythingStillSeesTheFirstLine) {
  TempDir dir;
  auto log = provhil::test::write_file(
      dir / "board.log", "[639] INIT => WAIT_CONFIG\n[39237] CONNECTING_NET => CONNECTING_CLOUD\n");
  SecretMasker masker;
  BoardSession session(replay_board(log), SimLaunch{}, masker);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!session.console().ended() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(session.console().ended()) << "the reader never reached the end of the log";
  for (int scenario = 1; scenario <= 2; ++scenario) {  // two scenarios on one board both see all of it
    session.start_case();
    auto first = session.console().expect(console::Pattern::literal("INIT => WAIT_CONFIG"), 10s);
    EXPECT_TRUE(first.ok()) << "scenario " << scenario << ": " << first.describe();
    auto second = session.console().expect(console::Pattern::literal("=> CONNECTING_CLOUD"), 10s);
    EXPECT_TRUE(second.ok()) << "scenario " << scenario << ": " << second.describe();
  }
}

TEST(ReplayBoardSession, HardResetRewindsTheLog) {
  TempDir dir;
  auto log = provhil::test::write_file(dir / "board.log", "[1] boot\n[2] INIT => WAIT_CONFIG\n");
  SecretMasker masker;
  BoardSession session(replay_board(log), SimLaunch{}, masker);
  session.start_case();
  ASSERT_TRUE(session.console().expect(console::Pattern::literal("WAIT_CONFIG"), 10s).ok());
  EXPECT_TRUE(session.hard_reset());
  EXPECT_TRUE(session.console().expect(console::Pattern::literal("[1] boot"), 10s).ok());
  EXPECT_TRUE(session.soft_reset());
  EXPECT_TRUE(session.console().expect(console::Pattern::literal("[1] boot"), 10s).ok());
}

}  // namespace
}  // namespace provhil::runner
