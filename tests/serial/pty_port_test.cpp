#include <fcntl.h>
#include <signal.h>

#include <cerrno>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "read_helpers.hpp"
#include "serial/port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace provhil::serial {
namespace {

using namespace std::chrono_literals;
using test::read_until;

std::unique_ptr<Port> spawn_sh(const std::string& script, SpawnOptions options = {}) {
  options.argv = {"sh", "-c", script};
  return spawn_pty(options);
}

TEST(PtyPort, ReadsAndWritesInRawMode) {
  auto port = spawn_sh("printf 'hello\\n'; read x; printf 'got:%s\\n' \"$x\"");
  EXPECT_EQ(port->kind(), PortKind::pty);
  EXPECT_TRUE(port->capabilities().signal);
  EXPECT_FALSE(port->capabilities().modem_lines);
  ASSERT_TRUE(port->child_pid().has_value());
  EXPECT_NE(read_until(*port, "hello\n").find("hello\n"), std::string::npos);
  port->write("abc\n");
  auto reply = read_until(*port, "got:abc");
  // Raw mode: no echo of what we sent, no "\r\n" translation of the child's "\n".
  EXPECT_EQ(reply, "got:abc\n");
  EXPECT_NE(port->describe().find("/dev/pts/"), std::string::npos) << port->describe();
}

TEST(PtyPort, ChildLeadsASessionWithThePtyAsItsControllingTerminal) {
  // /dev/tty opens only for a process with a controlling terminal; field 6 of /proc/PID/stat is
  // the session id.
  auto port = spawn_sh(
      "if (: < /dev/tty) 2>/dev/null; then echo ctty=yes; else echo ctty=no; fi; "
      "echo \"leader=$(($(cut -d' ' -f6 /proc/$$/stat) == $$))\"; echo \"tty=$(tty)\"; echo done");
  auto text = read_until(*port, "done");
  EXPECT_NE(text.find("ctty=yes"), std::string::npos) << text;
  EXPECT_NE(text.find("leader=1"), std::string::npos) << text;
  EXPECT_NE(text.find("tty=/dev/pts/"), std::string::npos) << text;
}

TEST(PtyPort, SignalsTheParentBlockedOrIgnoredAreRestoredForTheChild) {
  // The runner ignores SIGPIPE and blocks signals it handles on a thread; the board must not inherit that.
  auto previous = ::signal(SIGPIPE, SIG_IGN);
  sigset_t blocked, old;
  ::sigemptyset(&blocked);
  ::sigaddset(&blocked, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &blocked, &old);
  auto port = spawn_sh("grep -E '^(SigBlk|SigIgn):' /proc/$$/status; echo done");
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::signal(SIGPIPE, previous);
  auto text = read_until(*port, "done");
  EXPECT_NE(text.find("SigBlk:\t0000000000000000"), std::string::npos) << text;
  // SIGPIPE is signal 13: bit 12 (0x1000) of the ignored mask.
  auto ignored = text.find("SigIgn:\t");
  ASSERT_NE(ignored, std::string::npos) << text;
  auto mask = std::stoull(text.substr(ignored + 8, 16), nullptr, 16);
  EXPECT_EQ(mask & 0x1000ULL, 0ULL) << text;
}

TEST(PtyPort, ChildInheritsNoDescriptorBeyondItsTerminal) {
  // A descriptor without close-on-exec, as Asio opens its sockets; numbered high, away from the one
  // the shell opens to list its own.
  int inheritable = provhil::test::open_inheritable_descriptor();
  ASSERT_GE(inheritable, 200);
  auto port = spawn_sh("for f in /proc/$$/fd/*; do echo \"fd=${f##*/}\"; done; echo done");
  auto text = read_until(*port, "done");
  ::close(inheritable);
  EXPECT_NE(text.find("fd=2\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("fd=" + std::to_string(inheritable) + "\n"), std::string::npos) << text;
}

TEST(PtyPort, EnvironmentAndWorkingDirectory) {
  provhil::test::TempDir dir;
  SpawnOptions options;
  options.env = {{"PROVHIL_TEST_VALUE", "forty-two"}};
  options.working_dir = dir.path();
  auto port = spawn_sh("echo \"v=$PROVHIL_TEST_VALUE\"; echo \"d=$(pwd)\"; echo done", options);
  auto text = read_until(*port, "done");
  EXPECT_NE(text.find("v=forty-two"), std::string::npos) << text;
  EXPECT_NE(text.find("d=" + dir.path().string()), std::string::npos) << text;
}

TEST(PtyPort, MissingCommandIsAClearError) {
  try {
    SpawnOptions options;
    options.argv = {"/nonexistent/provhil-no-such-program"};
    spawn_pty(options);
    FAIL() << "spawned";
  } catch (const PortError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("cannot run"), std::string::npos) << what;
    EXPECT_NE(what.find("No such file"), std::string::npos) << what;
  }
}

TEST(PtyPort, ReadTimesOutAtItsDeadline) {
  auto port = spawn_sh("exec sleep 30");
  char buffer[64];
  auto start = Clock::now();
  auto result = port->read(buffer, start + 80ms);
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(result.status, ReadStatus::timeout);
  EXPECT_GE(elapsed, 80ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(PtyPort, ExitStatusIsTheVanishReason) {
  auto port = spawn_sh("echo bye; exit 3");
  ReadResult last;
  auto text = read_until(*port, "never", 10s, &last);
  EXPECT_NE(text.find("bye"), std::string::npos);  // output before the exit is not lost
  ASSERT_EQ(last.status, ReadStatus::vanished);
  EXPECT_NE(last.reason.find("exited with status 3"), std::string::npos) << last.reason;
  // Reported again on later calls, at once.
  char buffer[16];
  auto start = Clock::now();
  EXPECT_EQ(port->read(buffer, Clock::now() + 5s).status, ReadStatus::vanished);
  EXPECT_LT(Clock::now() - start, 1s);
  try {
    port->write("x");
    FAIL() << "write after vanish";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("vanished"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("pty:sh"), std::string::npos) << error.what();
  }
}

TEST(PtyPort, KilledChildVanishesWithin100ms) {
  auto port = spawn_sh("echo up; exec sleep 30");
  read_until(*port, "up");
  auto reader = std::async(std::launch::async, [&] {
    char buffer[64];
    auto result = port->read(buffer, Clock::now() + 20s);
    return std::pair{result, Clock::now()};
  });
  std::this_thread::sleep_for(50ms);
  auto killed_at = Clock::now();
  port->send_signal(SIGKILL);
  auto [result, returned_at] = reader.get();
  EXPECT_EQ(result.status, ReadStatus::vanished);
  EXPECT_NE(result.reason.find("killed by signal 9"), std::string::npos) << result.reason;
  EXPECT_LT(returned_at - killed_at, 100ms);
}

TEST(PtyPort, InterruptWakesABlockedRead) {
  auto port = spawn_sh("exec sleep 30");
  auto reader = std::async(std::launch::async, [&] {
    char buffer[64];
    return port->read(buffer, Clock::now() + 20s).status;
  });
  std::this_thread::sleep_for(50ms);
  port->interrupt();
  ASSERT_EQ(reader.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(reader.get(), ReadStatus::timeout);
}

TEST(PtyPort, CloseTerminatesAndReapsAChildThatIgnoresHangup) {
  SpawnOptions options;
  options.terminate_grace = 3s;
  auto port = spawn_sh("trap '' HUP; echo ready; while :; do sleep 0.05; done", options);
  read_until(*port, "ready");
  int pid = *port->child_pid();
  auto start = Clock::now();
  port->close();
  EXPECT_LT(Clock::now() - start, 3s);
  // Reaped: the pid no longer exists (not even as a zombie).
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_THROW(port->send_signal(SIGUSR1), PortError);
}

TEST(PtyPort, SignalReachesTheChild) {
  auto port = spawn_sh("trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done");
  read_until(*port, "ready");
  port->send_signal(SIGUSR1);
  EXPECT_NE(read_until(*port, "got-usr1").find("got-usr1"), std::string::npos);
}

TEST(PtyPort, ModemLinesAreRefused) {
  auto port = spawn_sh("exec sleep 30");
  try {
    port->set_dtr(true);
    FAIL() << "DTR on a pty";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("no modem lines"), std::string::npos) << error.what();
  }
  EXPECT_THROW(port->set_rts(true), PortError);
}

}  // namespace
}  // namespace provhil::serial
