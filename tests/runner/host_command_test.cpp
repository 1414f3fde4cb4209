// Host commands (exec steps, AP join, power switches) as real child processes.
#include <gtest/gtest.h>

#include <thread>

#include "runner/host_command.hpp"

namespace {

using provhil::runner::run_host_command;
using Clock = std::chrono::steady_clock;

TEST(HostCommand, CollectsOutputAndExitCodeWithTheBoardInTheEnvironment) {
  auto result = run_host_command("echo \"board=$PROVHIL_BOARD\"; echo oops >&2; exit 3",
                                 {{"PROVHIL_BOARD", "sim-1"}}, Clock::now() + std::chrono::seconds(20));
  EXPECT_TRUE(result.started);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.output.find("board=sim-1"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("oops"), std::string::npos) << result.output;
}

TEST(HostCommand, TheDeadlineKillsTheWholeProcessGroup) {
  auto started = Clock::now();
  // The shell's background child holds the output pipe open: only killing the group ends it.
  auto result = run_host_command("sleep 30 & sleep 30", {}, Clock::now() + std::chrono::milliseconds(300));
  auto took = Clock::now() - started;
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, 128 + 9);
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(HostCommand, KeepsOnlyTheTailOfHugeOutput) {
  auto result = run_host_command("head -c 300000 /dev/zero | tr '\\0' x; echo END", {},
                                 Clock::now() + std::chrono::seconds(20));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_LE(result.output.size(), 64u * 1024u + 8192u);
  EXPECT_NE(result.output.find("END"), std::string::npos);
}

}  // namespace

namespace {

TEST(HostCommand, AnInterruptKillsTheCommandWithoutWaitingForItsDeadline) {
  std::atomic<bool> interrupted{false};
  std::thread interrupter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    interrupted = true;
  });
  auto started = Clock::now();
  auto result = run_host_command("sleep 60", {}, Clock::now() + std::chrono::minutes(5), &interrupted);
  interrupter.join();
  EXPECT_TRUE(result.timed_out);
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
