// The one way a host process starts (common/process.hpp): real children, real pipes, real signals.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "common/process.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace provhil {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

ProcessOptions command(std::vector<std::string> argv) {
  ProcessOptions options;
  options.argv = std::move(argv);
  return options;
}

ProcessOptions sh(const std::string& script) {
  return command({"/bin/sh", "-c", script});
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

TEST(RunProcess, CapturesStdoutAndStderrAndTheExitCode) {
  auto result = run_process(sh("echo out; echo err >&2; exit 3"), Clock::now() + 20s);
  EXPECT_TRUE(result.started);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.status.code, 3);
  EXPECT_EQ(result.status.signal, 0);
  EXPECT_EQ(result.status.shell_code(), 3);
  EXPECT_EQ(result.output, "out\nerr\n");
}

TEST(RunProcess, ReportsTheSignalThatKilledIt) {
  auto result = run_process(sh("kill -TERM $$"), Clock::now() + 20s);
  EXPECT_EQ(result.status.signal, SIGTERM);
  EXPECT_EQ(result.status.shell_code(), 128 + SIGTERM);
  EXPECT_NE(result.status.describe().find("killed by signal 15"), std::string::npos)
      << result.status.describe();
}

TEST(RunProcess, TheDeadlineKillsTheWholeGroupHelpersIncluded) {
  test::TempDir dir;
  auto pid_file = dir / "helper.pid";
  auto started = Clock::now();
  // The helper leaves the pipe (so only the group kill can end it) and records its pid.
  auto result = run_process(sh("sleep 60 >/dev/null 2>&1 & echo $! > " + pid_file.string() + "; sleep 60"),
                            Clock::now() + 300ms);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.status.signal, SIGKILL);
  EXPECT_LT(Clock::now() - started, 10s);
  auto helper = std::stoi(test::read_file(pid_file));
  // Killed with its group; it is reparented (to init or a subreaper) and reaped there, so wait for it
  // to leave the process table.
  auto until = Clock::now() + 20s;
  while (alive(helper) && Clock::now() < until)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(alive(helper)) << "helper pid " << helper << " survived the deadline";
}

TEST(RunProcess, TheDeadlineHoldsWhenTheChildClosesItsOutputAndKeepsRunning) {
  // Reading to the end of the output is not enough: a child that closed it is still waited for,
  // up to the deadline (not for its whole sleep).
  auto started = Clock::now();
  auto result = run_process(sh("exec >&- 2>&-; sleep 60"), Clock::now() + 300ms);
  EXPECT_TRUE(result.timed_out);
  EXPECT_LT(Clock::now() - started, 10s);
}

TEST(RunProcess, ABackgroundHelperHoldingThePipeIsKilledAtTheDeadline) {
  auto started = Clock::now();
  auto result = run_process(sh("echo first; sleep 60 &"), Clock::now() + 300ms);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.output, "first\n");
  EXPECT_LT(Clock::now() - started, 10s);
}

TEST(RunProcess, AnInterruptKillsTheGroupWithoutWaitingForTheDeadline) {
  std::atomic<bool> interrupted{false};
  std::thread interrupter([&] {
    std::this_thread::sleep_for(200ms);
    interrupted = true;
  });
  auto started = Clock::now();
  auto result = run_process(sh("sleep 60"), Clock::now() + 5min, &interrupted);
  interrupter.join();
  EXPECT_TRUE(result.interrupted);
  EXPECT_FALSE(result.timed_out);
  EXPECT_LT(Clock::now() - started, 10s);
}

TEST(RunProcess, KeepsTheTailOfLargeOutput) {
  auto result =
      run_process(sh("head -c 300000 /dev/zero | tr '\\0' x; echo END"), Clock::now() + 20s, nullptr, 1000);
  EXPECT_EQ(result.status.code, 0);
  EXPECT_EQ(result.output.size(), 1000u);
  EXPECT_TRUE(result.output.ends_with("xxEND\n"));
}

TEST(RunProcess, InheritsNoDescriptorBeyondItsStdio) {
  // Without close-on-exec, as Asio opens its sockets; numbered high, away from the one the shell
  // opens to list its own.
  int inheritable = test::open_inheritable_descriptor();
  ASSERT_GE(inheritable, 200);
  auto result = run_process(sh("for f in /proc/$$/fd/*; do echo \"fd=${f##*/}\"; done"), Clock::now() + 20s);
  ::close(inheritable);
  EXPECT_NE(result.output.find("fd=0\n"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("fd=2\n"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("fd=" + std::to_string(inheritable) + "\n"), std::string::npos)
      << result.output;
}

TEST(RunProcess, StdinIsNullAndTheChildLeadsItsOwnGroupWithAnEnvironmentAndDirectory) {
  test::TempDir dir;
  ProcessOptions options =
      sh("read line; echo \"read=$? pgid=$(ps -o pgid= $$ | tr -d ' ') pid=$$ v=$V d=$(pwd)\"");
  options.env = {{"V", "forty-two"}};
  options.working_dir = dir.path();
  auto result = run_process(options, Clock::now() + 20s);
  EXPECT_NE(result.output.find("read=1 "), std::string::npos) << result.output;  // EOF at once
  auto pid_at = result.output.find(" pid=");
  ASSERT_NE(pid_at, std::string::npos) << result.output;
  auto pid = result.output.substr(pid_at + 5, result.output.find(' ', pid_at + 1) - pid_at - 5);
  EXPECT_NE(result.output.find("pgid=" + pid + " "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("v=forty-two"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("d=" + dir.path().string()), std::string::npos) << result.output;
}

TEST(RunProcess, AProgramThatCannotStartSaysWhy) {
  auto result = run_process(command({"/nonexistent/program"}), Clock::now() + 20s);
  EXPECT_FALSE(result.started);
  EXPECT_NE(result.output.find("cannot run \"/nonexistent/program\""), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("No such file"), std::string::npos) << result.output;
}

TEST(Child, TerminateEndsTheGroupAndReportsTheSignal) {
  Child child(sh("sleep 60"));
  EXPECT_FALSE(child.try_wait());
  auto status = child.terminate(5s);
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_FALSE(alive(child.pid()));
}

TEST(Child, TerminateFallsBackToSigkillAfterTheGrace) {
  Child child(sh("trap '' TERM; echo ready; sleep 60 & wait"));
  char buffer[16];
  ASSERT_GT(::read(child.output_fd(), buffer, sizeof buffer), 0);  // the trap is set
  auto started = Clock::now();
  auto status = child.terminate(200ms);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_GE(Clock::now() - started, 200ms);
}

TEST(Child, WaitForReturnsWhenTheChildEnds) {
  Child child(sh("exit 7"));
  auto status = child.wait_for(20s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 7);
}

}  // namespace
}  // namespace provhil
