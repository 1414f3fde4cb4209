// `provhil ca` and `provhil intercept` as real child processes.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using provhil::test::run_process;
using provhil::test::TempDir;
using namespace std::chrono_literals;

const std::string kToken = "Rps15JICmtRVbFyS_95houlLbm6xIQ2L";
const std::string kOtherToken = "Zq81JICmtRVbFyS_95houlLbm6xIQ2Lx";

TEST(CaCli, InitThenShowPrintsTheSameFingerprint) {
  TempDir tmp;
  auto dir = (tmp / "ca").string();
  auto init = run_process({PROVHIL_BINARY, "ca", "init", "--dir", dir});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  std::smatch fp;
  ASSERT_TRUE(std::regex_search(init.out, fp, std::regex("SHA-256: +([0-9A-F:]{95})"))) << init.out;
  auto show = run_process({PROVHIL_BINARY, "ca", "show", "--dir", dir});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find(fp[1].str()), std::string::npos) << show.out;
  EXPECT_NE(show.out.find(dir + "/ca.der"), std::string::npos) << show.out;
  struct stat st {};
  ASSERT_EQ(stat((tmp / "ca" / "ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto again = run_process({PROVHIL_BINARY, "ca", "init", "--dir", dir});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(run_process({PROVHIL_BINARY, "ca", "init", "--dir", dir, "--force"}).exit_code, 0);
}

TEST(CaCli, DefaultFolderIsUnderTheUsersStateDirectory) {
  TempDir tmp;
  provhil::test::ProcessOptions options;
  options.env["XDG_STATE_HOME"] = (tmp / "state").string();
  auto init = run_process({PROVHIL_BINARY, "ca", "init"}, options);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_TRUE(std::filesystem::exists(tmp / "state" / "provhil" / "ca" / "ca.pem"));
}

TEST(CaCli, ShowWithoutACaIsAUsageErrorThatSaysWhatToDo) {
  TempDir tmp;
  auto show = run_process({PROVHIL_BINARY, "ca", "show", "--dir", (tmp / "none").string()});
  EXPECT_EQ(show.exit_code, 2);
  EXPECT_NE(show.err.find("provhil ca init"), std::string::npos) << show.err;
}

// A provhil child whose stdout is read line by line under a deadline.
class Child {
 public:
  struct Options {
    bool merge_stderr = false;               // stderr goes to the same pipe as stdout
    rlim_t file_size_limit = RLIM_INFINITY;  // RLIMIT_FSIZE, with SIGXFSZ ignored: writes past it fail
  };
  explicit Child(std::vector<std::string> argv) : Child(std::move(argv), Options{}) {}
  Child(std::vector<std::string> argv, Options options) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      if (options.merge_stderr) dup2(fds[1], 2);
      if (options.file_size_limit != RLIM_INFINITY) {
        // A full disk, simulated: a write past the limit fails with EFBIG (the ignored signal is
        // inherited across exec; the default action would kill the child instead).
        signal(SIGXFSZ, SIG_IGN);
        rlimit limit{options.file_size_limit, options.file_size_limit};
        setrlimit(RLIMIT_FSIZE, &limit);
      }
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
  }
  // Reads until `pattern` matches the output so far or the deadline passes.
  bool read_until(const std::regex& pattern, std::smatch& match, std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
      if (std::regex_search(text_, match, pattern)) return true;
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buffer[4096];
      auto n = read(out_, buffer, sizeof buffer);
      if (n <= 0) return std::regex_search(text_, match, pattern);
      text_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  // Waits for the exit; -1 when it did not exit in time.
  int wait(std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        char buffer[4096];
        ssize_t n;
        while ((n = read(out_, buffer, sizeof buffer)) > 0)
          text_.append(buffer, static_cast<std::size_t>(n));
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pollfd p{out_, POLLIN, 0};
      poll(&p, 1, 20);  // wake on output or every 20 ms to reap the child
      char buffer[4096];
      if (p.revents & POLLIN) {
        auto n = read(out_, buffer, sizeof buffer);
        if (n > 0) text_.append(buffer, static_cast<std::size_t>(n));
      }
    }
    return -1;
  }
  void send_signal(int number) { kill(pid_, number); }
  const std::string& text() const { return text_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string text_;
};

TEST(InterceptCli, ServesPrintsEachExchangeMaskedAndWritesTheJournal) {
  TempDir tmp;
  Child child({PROVHIL_BINARY, "intercept", "--listen", "127.0.0.1:0", "--ca-dir", (tmp / "ca").string(),
               "--journal", (tmp / "j.jsonl").string(), "--token", kToken, "--max-exchanges", "2",
               "--duration", "60"});
  std::smatch m;
  ASSERT_TRUE(child.read_until(std::regex("listening on https://127.0.0.1:(\\d+)"), m, 20s)) << child.text();
  std::string port = m[1];
  auto curl = [&](const std::string& token) {
    return run_process({"curl", "-sS", "--max-time", "20", "--cacert", (tmp / "ca" / "ca.pem").string(),
                        "--resolve", "fra1.blynk.cloud:" + port + ":127.0.0.1", "-w", "\n%{http_code}",
                        "https://fra1.blynk.cloud:" + port + "/external/api/provision?token=" + token +
                            "&templateId=TMPL8sRFwcfqL"});
  };
  EXPECT_EQ(curl(kToken).out, "{}\n200");
  EXPECT_EQ(curl(kOtherToken).out, "{\"error\":{\"message\":\"Invalid token.\"}}\n400");
  EXPECT_EQ(child.wait(20s), 0) << child.text();
  EXPECT_EQ(child.text().find(kToken), std::string::npos) << child.text();
  EXPECT_EQ(child.text().find(kOtherToken), std::string::npos) << child.text();
  EXPECT_NE(child.text().find("sni=fra1.blynk.cloud"), std::string::npos) << child.text();
  EXPECT_NE(child.text().find("-> 400 mock"), std::string::npos) << child.text();
  EXPECT_NE(child.text().find("UNEXPECTED"), std::string::npos) << child.text();
  std::string journal = provhil::test::read_file(tmp / "j.jsonl");
  EXPECT_EQ(std::count(journal.begin(), journal.end(), '\n'), 2);
  EXPECT_EQ(journal.find(kToken), std::string::npos);
}

TEST(InterceptCli, SigtermEndsItWith130) {
  TempDir tmp;
  Child child({PROVHIL_BINARY, "intercept", "--listen", "127.0.0.1:0", "--ca-dir", (tmp / "ca").string()});
  std::smatch m;
  ASSERT_TRUE(child.read_until(std::regex("listening on"), m, 20s)) << child.text();
  child.send_signal(SIGTERM);
  EXPECT_EQ(child.wait(20s), 130);
}

TEST(InterceptCli, APortInUseIsAnInfrastructureError) {
  TempDir tmp;
  Child first({PROVHIL_BINARY, "intercept", "--listen", "127.0.0.1:0", "--ca-dir", (tmp / "ca").string()});
  std::smatch m;
  ASSERT_TRUE(first.read_until(std::regex("listening on https://127.0.0.1:(\\d+)"), m, 20s)) << first.text();
  auto second = run_process({PROVHIL_BINARY, "intercept", "--listen", "127.0.0.1:" + m[1].str(), "--ca-dir",
                             (tmp / "ca").string()});
  EXPECT_EQ(second.exit_code, 3);
  EXPECT_NE(second.err.find("cannot listen"), std::string::npos) << second.err;
}

TEST(InterceptCli, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run_process({PROVHIL_BINARY, "intercept", "--listen", "nonsense"}).exit_code, 2);
  EXPECT_EQ(run_process({PROVHIL_BINARY, "intercept", "--mode", "teleport"}).exit_code, 2);
  auto bad_address = run_process({PROVHIL_BINARY, "intercept", "--listen", "999.1.1.1:0", "--duration", "1"});
  EXPECT_EQ(bad_address.exit_code, 2) << bad_address.err;
  EXPECT_NE(bad_address.err.find("999.1.1.1"), std::string::npos) << bad_address.err;
}

// Issue 16 #4: every file the interceptor cannot open ends it with exit 3 and the reason.
TEST(InterceptCli, AFileItCannotOpenIsAnInfrastructureErrorThatSaysWhich) {
  TempDir tmp;
  provhil::test::write_file(tmp / "f", "a file, not a folder\n");
  auto ca = (tmp / "ca").string();
  struct Case {
    std::vector<std::string> options;
    std::string names;
  };
  const Case cases[] = {
      {{"--ca-dir", ca, "--journal", (tmp / "f" / "j.jsonl").string()}, (tmp / "f").string()},
      {{"--ca-dir", (tmp / "f" / "ca").string()}, (tmp / "f").string()},
      {{"--ca-dir", ca, "--mode", "proxy", "--upstream-ca", (tmp / "f").string()}, (tmp / "f").string()},
      {{"--cert", (tmp / "f").string(), "--key", (tmp / "f").string()}, (tmp / "f").string()},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {PROVHIL_BINARY, "intercept",  "--listen",
                                     "127.0.0.1:0",  "--duration", "5"};
    argv.insert(argv.end(), c.options.begin(), c.options.end());
    auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 3) << c.names << ": " << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
  }
}

// Issue 16 #10: a journal write that fails (a full disk) leaves whole lines only and ends the
// command with exit 3, naming the journal and the reason.
TEST(InterceptCli, AJournalWriteThatFailsLeavesWholeLinesAndExits3) {
  TempDir tmp;
  auto ca = (tmp / "ca").string();
  ASSERT_EQ(run_process({PROVHIL_BINARY, "ca", "init", "--dir", ca}).exit_code, 0);  // before the limit
  auto journal = tmp / "j.jsonl";
  const std::string earlier = "{\"id\":1,\"kind\":\"provision\",\"note\":\"an earlier run\"}\n";
  provhil::test::write_file(journal, earlier);
  // Room for a part of the next line only: that write is torn unless it is undone.
  Child child({PROVHIL_BINARY, "intercept", "--listen", "127.0.0.1:0", "--ca-dir", ca, "--journal",
               journal.string(), "--token", kToken, "--duration", "60"},
              {.merge_stderr = true, .file_size_limit = earlier.size() + 40});
  std::smatch m;
  ASSERT_TRUE(child.read_until(std::regex("listening on https://127.0.0.1:(\\d+)"), m, 20s)) << child.text();
  std::string port = m[1];
  run_process({"curl", "-sS", "--max-time", "20", "--cacert", (tmp / "ca" / "ca.pem").string(), "--resolve",
               "fra1.blynk.cloud:" + port + ":127.0.0.1",
               "https://fra1.blynk.cloud:" + port + "/external/api/provision?token=" + kToken});
  EXPECT_EQ(child.wait(20s), 3) << child.text();
  EXPECT_NE(child.text().find(journal.string() + ": cannot write the journal: File too large"),
            std::string::npos)
      << child.text();
  EXPECT_EQ(provhil::test::read_file(journal), earlier);
}

// Issue 16 #7: what a client sends is printed escaped: an SNI cannot forge a line or reach the
// terminal as an escape sequence.
TEST(InterceptCli, PrintsTheSniEscaped) {
  TempDir tmp;
  Child child({PROVHIL_BINARY, "intercept", "--listen", "127.0.0.1:0", "--ca-dir", (tmp / "ca").string(),
               "--max-exchanges", "1", "--duration", "60"});
  std::smatch m;
  ASSERT_TRUE(child.read_until(std::regex("listening on https://127.0.0.1:(\\d+)"), m, 20s)) << child.text();
  std::string port = m[1];
  // openssl s_client sends the SNI as given (curl would refuse the name).
  auto r = run_process(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername",
       "x\n22:41:07 forged\x1b[31m.example", "-brief"},
      [] {
        provhil::test::ProcessOptions o;
        o.stdin_text = "GET /external/api/provision?token=x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        return o;
      }());
  EXPECT_EQ(child.wait(20s), 0) << child.text() << r.err;
  EXPECT_EQ(child.text().find("\n22:41:07 forged"), std::string::npos) << child.text();
  EXPECT_EQ(child.text().find('\x1b'), std::string::npos) << child.text();
  EXPECT_NE(child.text().find("sni=x\\x0A22:41:07 forged\\x1B[31m.example"), std::string::npos)
      << child.text();
}

}  // namespace
