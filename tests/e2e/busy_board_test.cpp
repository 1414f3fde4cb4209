// Two `provhil run` processes on one board (issue 14): the test owns a pty pair and plays the board on
// its master side; both runs name the slave as a real serial port (libserialport, flock + TIOCEXCL), or
// reach it through Debian's ser2net over RFC 2217 (one client at a time: the second is turned away).
// The second run waits for the first (--wait-for-boards, or the default when $CI is set), fails at once
// with --wait-for-boards 0, and ends with 130 and valid reports when interrupted while waiting. Every
// wait here is gated on an event (a line on the master, a line in a run's output), not on time.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "support/process.hpp"
#include "support/ser2net.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using provhil::test::read_file;
using provhil::test::TempDir;
using provhil::test::write_file;

const fs::path source_dir = PROVHIL_SOURCE_DIR;
constexpr auto generous = std::chrono::seconds(60);  // ctest stops a test at 120 s

// The board: the master side of a pty pair. The test keeps the slave open too, so that the master
// reads no EIO between one run's close and the next run's open.
class PtyBoard {
 public:
  PtyBoard() {
    if (::openpty(&master_, &slave_, nullptr, nullptr, nullptr) != 0) throw std::runtime_error("openpty");
    // The runs must not inherit the test's side of the pair: they would hold the board's device too.
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave_, F_SETFD, FD_CLOEXEC);
    termios raw{};
    ::tcgetattr(slave_, &raw);
    ::cfmakeraw(&raw);
    ::tcsetattr(slave_, TCSANOW, &raw);
    path_ = ::ttyname(slave_);
  }
  ~PtyBoard() {
    ::close(master_);
    ::close(slave_);
  }
  PtyBoard(const PtyBoard&) = delete;
  PtyBoard& operator=(const PtyBoard&) = delete;

  const std::string& path() const { return path_; }

  // Reads until `needle` has been seen `count` times in everything the runs sent, or `within` passed, or
  // `gone()` says the run that should send it has ended.
  bool wait_for(const std::string& needle, int count, std::chrono::milliseconds within,
                const std::function<bool()>& gone) {
    auto deadline = Clock::now() + within;
    while (occurrences(needle) < count && Clock::now() < deadline && !gone()) {
      pollfd pfd{master_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) == 1) {
        char buffer[256];
        auto n = ::read(master_, buffer, sizeof buffer);
        if (n > 0) seen_.append(buffer, static_cast<std::size_t>(n));
      }
    }
    return occurrences(needle) >= count;
  }

  void say(const std::string& line) {
    std::string text = line + "\r\n";
    ASSERT_EQ(::write(master_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }

 private:
  int occurrences(const std::string& needle) const {
    int n = 0;
    for (auto at = seen_.find(needle); at != std::string::npos; at = seen_.find(needle, at + 1))
      ++n;
    return n;
  }

  int master_ = -1;
  int slave_ = -1;
  std::string path_;
  std::string seen_;
};

// A `provhil run` in the background, its output in files; killed if the test ends before it does.
class BackgroundRun {
 public:
  BackgroundRun(const fs::path& dir, const std::string& name, std::vector<std::string> args,
                const std::map<std::string, std::string>& env = {})
      : out_(dir / (name + ".out")), err_(dir / (name + ".err")), reports_(dir / (name + "-reports")) {
    std::vector<std::string> argv{PROVHIL_BINARY, "run", "--reports", reports_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      if (!env.contains(entry.substr(0, entry.find('=')))) environment.push_back(entry);
    }
    for (const auto& [key, value] : env)
      environment.push_back(key + "=" + value);
    // Built before fork: the child only calls async-signal-safe functions.
    std::vector<char*> c_argv;
    for (auto& a : argv)
      c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    std::vector<char*> c_env;
    for (auto& e : environment)
      c_env.push_back(e.data());
    c_env.push_back(nullptr);
    std::string out_path = out_.string();
    std::string err_path = err_.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
      ::execve(c_argv[0], c_argv.data(), c_env.data());
      ::_exit(127);
    }
  }
  ~BackgroundRun() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const { return fs::exists(out_) ? read_file(out_) : ""; }
  std::string describe() const {
    return "--- stdout\n" + out() + "\n--- stderr\n" + (fs::exists(err_) ? read_file(err_) : "");
  }
  const fs::path& reports() const { return reports_; }

  // True once the run printed `needle`, false if it ended or `within` passed first.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds within) {
    auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      if (out().find(needle) != std::string::npos) return true;
      if (finished()) return out().find(needle) != std::string::npos;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  bool finished() {
    if (status_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_.has_value();
  }
  std::function<bool()> ended() {
    return [this] { return finished(); };
  }

  // The exit code (128 + signal when killed); -1 when it did not end within `within`.
  int wait(std::chrono::milliseconds within) {
    auto deadline = Clock::now() + within;
    while (!finished() && Clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    if (!status_) return -1;
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }

 private:
  fs::path out_;
  fs::path err_;
  fs::path reports_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct Lab {
  TempDir dir;
  PtyBoard board;
  fs::path inventory;
  fs::path scenario;

  Lab() {
    inventory = write_file(dir / "lab.yaml",
                           "boards:\n"
                           "  - name: bench-1\n"
                           "    port: " +
                               board.path() +
                               "\n"
                               "    dialect: edgent-1.2\n"
                               "lab:\n"
                               "  wifi: { ssid: LabNet, pass: labpass123 }\n"
                               "interceptor: { listen: \"127.0.0.1:0\", advertise: 127.0.0.1, "
                               "mode: mock, upstream: https://blynk.cloud }\n"
                               "dialects: " +
                               (source_dir / "fixtures" / "dialects").string() + "\n");
    // The board is held from the first step until the test answers `go-ahead`.
    scenario = write_file(dir / "hold.yaml",
                          "scenario: hold-the-board\n"
                          "boards: all\n"
                          "timeout: 5m\n"
                          "steps:\n"
                          "  - send: hello-from-a-run\n"
                          "  - expect: { literal: go-ahead, within: 4m }\n");
  }

  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> all{"--lab", inventory.string(), "--ca-dir", (dir / "ca").string(),
                                 scenario.string()};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }
};

boost::json::object results_json(const fs::path& reports) {
  return boost::json::parse(read_file(reports / "results.json")).as_object();
}

const std::string waiting_line = "[bench-1] waiting: its port is held by";

TEST(BusyBoard, TheSecondRunWaitsForTheFirstThenRunsAndPasses) {
  Lab lab;
  BackgroundRun first(lab.dir.path(), "first", lab.args({"--wait-for-boards", "0"}));
  ASSERT_TRUE(lab.board.wait_for("hello-from-a-run", 1, generous, first.ended())) << first.describe();

  // No flag: $CI gives the default wait.
  BackgroundRun second(lab.dir.path(), "second", lab.args(), {{"CI", "true"}});
  ASSERT_TRUE(second.wait_for_output(waiting_line, generous)) << second.describe();
  auto out = second.out();
  auto line = out.substr(out.find(waiting_line));
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(line.find("pid " + std::to_string(first.pid()) + " (provhil)"), std::string::npos) << line;
  EXPECT_EQ(line.find("pid " + std::to_string(second.pid()) + " "), std::string::npos) << line;

  lab.board.say("go-ahead");
  EXPECT_EQ(first.wait(generous), 0) << first.describe();
  ASSERT_TRUE(lab.board.wait_for("hello-from-a-run", 2, generous, second.ended())) << second.describe();
  lab.board.say("go-ahead");
  ASSERT_EQ(second.wait(generous), 0) << second.describe();
  auto cases = results_json(second.reports()).at("cases").as_array();
  ASSERT_EQ(cases.size(), 1U);
  EXPECT_EQ(cases[0].at("outcome").as_string(), "passed") << boost::json::serialize(cases[0]);
  // One line per change of holder, not one per look.
  auto count = 0;
  for (auto at = out.find(waiting_line); at != std::string::npos; at = out.find(waiting_line, at + 1))
    ++count;
  EXPECT_EQ(count, 1) << out;
}

TEST(BusyBoard, WithoutWaitingABusyBoardFailsAtOnceNamingTheOtherRunOnly) {
  Lab lab;
  BackgroundRun first(lab.dir.path(), "first", lab.args({"--wait-for-boards", "0"}));
  ASSERT_TRUE(lab.board.wait_for("hello-from-a-run", 1, generous, first.ended())) << first.describe();

  BackgroundRun second(lab.dir.path(), "second", lab.args({"--wait-for-boards", "0"}), {{"CI", "true"}});
  EXPECT_EQ(second.wait(generous), 3) << second.describe();
  auto cases = results_json(second.reports()).at("cases").as_array();
  ASSERT_EQ(cases.size(), 1U);
  EXPECT_EQ(cases[0].at("outcome").as_string(), "error");
  std::string message(cases[0].at("message").as_string());
  EXPECT_NE(message.find("busy: held by"), std::string::npos) << message;
  EXPECT_NE(message.find("pid " + std::to_string(first.pid()) + " (provhil)"), std::string::npos) << message;
  // Issue 14: the failing run listed itself among the holders.
  EXPECT_EQ(message.find("pid " + std::to_string(second.pid()) + " "), std::string::npos) << message;
  EXPECT_EQ(second.out().find(waiting_line), std::string::npos) << second.describe();

  lab.board.say("go-ahead");
  EXPECT_EQ(first.wait(generous), 0) << first.describe();
}

TEST(BusyBoard, AnInterruptWhileWaitingEndsWith130AndValidReports) {
  Lab lab;
  BackgroundRun first(lab.dir.path(), "first", lab.args({"--wait-for-boards", "0"}));
  ASSERT_TRUE(lab.board.wait_for("hello-from-a-run", 1, generous, first.ended())) << first.describe();

  BackgroundRun second(lab.dir.path(), "second", lab.args({"--wait-for-boards", "5m"}));
  ASSERT_TRUE(second.wait_for_output(waiting_line, generous)) << second.describe();
  ::kill(second.pid(), SIGINT);
  EXPECT_EQ(second.wait(generous), 130) << second.describe();
  auto cases = results_json(second.reports()).at("cases").as_array();
  ASSERT_EQ(cases.size(), 1U);
  EXPECT_EQ(cases[0].at("outcome").as_string(), "skipped");
  EXPECT_NE(std::string(cases[0].at("message").as_string()).find("interrupted"), std::string::npos);
  auto xmllint =
      provhil::test::run_process({"xmllint", "--noout", (second.reports() / "junit.xml").string()});
  EXPECT_EQ(xmllint.exit_code, 0) << xmllint.err;

  lab.board.say("go-ahead");
  EXPECT_EQ(first.wait(generous), 0) << first.describe();
}

TEST(BusyBoard, WaitForBoardsRejectsAValueWithoutAUnit) {
  Lab lab;
  auto args = lab.args({"--wait-for-boards", "90"});
  args.insert(args.begin(), {PROVHIL_BINARY, "run", "--reports", (lab.dir / "r").string()});
  auto result = provhil::test::run_process(args);
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("--wait-for-boards '90'"), std::string::npos) << result.err;
}

// ---- board pools (issue 14): two boards, one pooled scenario ----

struct PoolLab {
  TempDir dir;
  PtyBoard first_board;
  PtyBoard second_board;
  fs::path inventory;
  fs::path hold_first;  // holds bench-1 until go-ahead
  fs::path hold_each;   // holds each board until go-ahead
  fs::path pooled;      // runs once on any free board, until go-ahead

  PoolLab() {
    auto board = [](const std::string& name, const PtyBoard& pty) {
      return "  - name: " + name + "\n    port: " + pty.path() + "\n    dialect: edgent-1.2\n";
    };
    inventory = write_file(dir / "lab.yaml",
                           "boards:\n" + board("bench-1", first_board) + board("bench-2", second_board) +
                               "lab:\n"
                               "  wifi: { ssid: LabNet, pass: labpass123 }\n"
                               "interceptor: { listen: \"127.0.0.1:0\", advertise: 127.0.0.1, "
                               "mode: mock, upstream: https://blynk.cloud }\n"
                               "dialects: " +
                               (source_dir / "fixtures" / "dialects").string() + "\n");
    const std::string steps =
        "timeout: 5m\n"
        "steps:\n"
        "  - send: hello-from-a-run\n"
        "  - expect: { literal: go-ahead, within: 4m }\n";
    hold_first =
        write_file(dir / "hold-first.yaml", "scenario: hold-first\nboards: { names: [bench-1] }\n" + steps);
    hold_each = write_file(dir / "hold-each.yaml", "scenario: hold-each\nboards: all\n" + steps);
    pooled = write_file(dir / "pooled.yaml", "scenario: pooled\nboards: any\n" + steps);
  }

  std::vector<std::string> args(const fs::path& scenario, std::vector<std::string> extra) const {
    std::vector<std::string> all{"--lab", inventory.string(), "--ca-dir", (dir / "ca").string(),
                                 scenario.string()};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }
};

std::string board_of_only_case(const fs::path& reports) {
  auto cases = results_json(reports).at("cases").as_array();
  EXPECT_EQ(cases.size(), 1U);
  if (cases.empty()) return "";
  EXPECT_EQ(cases[0].at("outcome").as_string(), "passed") << boost::json::serialize(cases[0]);
  return std::string(cases[0].at("board").as_string());
}

TEST(BusyBoard, APooledScenarioRunsOnTheFreeBoardOfItsPoolWithoutWaitingForTheHeldOne) {
  PoolLab lab;
  BackgroundRun first(lab.dir.path(), "first", lab.args(lab.hold_first, {"--wait-for-boards", "0"}));
  ASSERT_TRUE(lab.first_board.wait_for("hello-from-a-run", 1, generous, first.ended())) << first.describe();

  // It would wait five minutes for bench-1, but bench-2 is free and takes the pool's only scenario.
  BackgroundRun second(lab.dir.path(), "second", lab.args(lab.pooled, {"--wait-for-boards", "5m"}));
  ASSERT_TRUE(lab.second_board.wait_for("hello-from-a-run", 1, generous, second.ended()))
      << second.describe();
  lab.second_board.say("go-ahead");
  ASSERT_EQ(second.wait(generous), 0) << second.describe();
  EXPECT_EQ(board_of_only_case(second.reports()), "bench-2");
  EXPECT_FALSE(first.finished()) << "the second run did not wait for the first";

  lab.first_board.say("go-ahead");
  EXPECT_EQ(first.wait(generous), 0) << first.describe();
}

TEST(BusyBoard, APooledScenarioWhoseBoardsAreAllHeldWaitsThenRuns) {
  PoolLab lab;
  BackgroundRun first(lab.dir.path(), "first", lab.args(lab.hold_each, {"--wait-for-boards", "0"}));
  ASSERT_TRUE(lab.first_board.wait_for("hello-from-a-run", 1, generous, first.ended())) << first.describe();
  ASSERT_TRUE(lab.second_board.wait_for("hello-from-a-run", 1, generous, first.ended())) << first.describe();

  BackgroundRun second(lab.dir.path(), "second", lab.args(lab.pooled, {"--wait-for-boards", "5m"}));
  ASSERT_TRUE(second.wait_for_output("waiting: its port is held by", generous)) << second.describe();
  auto out = second.out();
  EXPECT_NE(out.find("pid " + std::to_string(first.pid()) + " (provhil)"), std::string::npos) << out;
  EXPECT_EQ(out.find("pid " + std::to_string(second.pid()) + " "), std::string::npos) << out;
  lab.first_board.say("go-ahead");
  lab.second_board.say("go-ahead");
  EXPECT_EQ(first.wait(generous), 0) << first.describe();

  // Now one of the two boards, whichever is free first, runs the pooled scenario.
  PtyBoard* ran = nullptr;
  auto deadline = Clock::now() + generous;
  while (ran == nullptr && Clock::now() < deadline && !second.finished()) {
    if (lab.first_board.wait_for("hello-from-a-run", 2, 100ms, second.ended()))
      ran = &lab.first_board;
    else if (lab.second_board.wait_for("hello-from-a-run", 2, 100ms, second.ended()))
      ran = &lab.second_board;
  }
  ASSERT_NE(ran, nullptr) << second.describe();
  ran->say("go-ahead");
  ASSERT_EQ(second.wait(generous), 0) << second.describe();
  EXPECT_EQ(board_of_only_case(second.reports()), ran == &lab.first_board ? "bench-1" : "bench-2");
}

// The same through ser2net (docs/remote-boards.md's configuration, one connection): the second run's
// client is turned away with "Port already in use", and it waits, naming the first run, then runs.
TEST(BusyBoard, ASecondRunWaitsForARemotePortTheFirstHoldsThroughSer2net) {
  ASSERT_FALSE(provhil::test::find_ser2net().empty())
      << "ser2net is not installed: apt-get install ser2net (scripts/setup.sh does)";
  Lab lab;
  auto port = provhil::test::free_loopback_port();
  provhil::test::Ser2net ser2net(lab.dir.path(), provhil::test::ser2net_config(lab.board.path(), port));
  ASSERT_TRUE(provhil::test::wait_until_listening(port, generous));
  auto inventory = read_file(lab.inventory);
  inventory.replace(inventory.find(lab.board.path()), lab.board.path().size(),
                    "rfc2217://127.0.0.1:" + std::to_string(port));
  write_file(lab.inventory, inventory);

  BackgroundRun first(lab.dir.path(), "first", lab.args({"--wait-for-boards", "0"}));
  ASSERT_TRUE(lab.board.wait_for("hello-from-a-run", 1, generous, first.ended())) << first.describe();

  BackgroundRun second(lab.dir.path(), "second", lab.args({"--wait-for-boards", "5m"}));
  ASSERT_TRUE(second.wait_for_output(waiting_line, generous)) << second.describe();
  auto out = second.out();
  auto line = out.substr(out.find(waiting_line));
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(line.find("pid " + std::to_string(first.pid()) + " (provhil)"), std::string::npos) << line;
  EXPECT_EQ(line.find("pid " + std::to_string(second.pid()) + " "), std::string::npos) << line;

  lab.board.say("go-ahead");
  EXPECT_EQ(first.wait(generous), 0) << first.describe();
  ASSERT_TRUE(lab.board.wait_for("hello-from-a-run", 2, generous, second.ended())) << second.describe();
  lab.board.say("go-ahead");
  ASSERT_EQ(second.wait(generous), 0) << second.describe();
  auto cases = results_json(second.reports()).at("cases").as_array();
  ASSERT_EQ(cases.size(), 1U);
  EXPECT_EQ(cases[0].at("outcome").as_string(), "passed") << boost::json::serialize(cases[0]);
}

}  // namespace
