// Never lose a result: a writer killed with SIGKILL leaves a junit.xml that parses and a journal that
// holds every case add_case() returned for; rebuild_from_journal() turns it into full reports.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <boost/json/parse.hpp>
#include <pugixml.hpp>

#include "report/writer.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace provhil::report;
namespace fs = std::filesystem;
using provhil::test::read_file;
using provhil::test::TempDir;

// The crash child, running with its stdout on a pipe we read line by line.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> args;
      for (const auto& arg : argv)
        args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) kill9();
    ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads lines until `done(line)` holds; false when the deadline passes or the child closes stdout.
  template <typename Predicate>
  bool read_until(Predicate done, std::chrono::seconds timeout, std::string& last_line) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto newline = buffer_.find('\n'); newline != std::string::npos; newline = buffer_.find('\n')) {
        last_line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        if (done(last_line)) return true;
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{out_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t got = ::read(out_, chunk, sizeof chunk);
      if (got <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  // SIGKILL, then reap; returns the signal that ended the child.
  int kill9() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

std::size_t junit_cases(const fs::path& path) {
  pugi::xml_document doc;
  auto parsed = doc.load_file(path.c_str());
  EXPECT_TRUE(parsed) << path << ": " << parsed.description();
  EXPECT_TRUE(doc.child("testsuites")) << "root must be testsuites";
  return doc.select_nodes("/testsuites/testsuite/testcase").size();
}

TEST(ReportCrash, KillAfterFlushLeavesAValidReportWithTheFinishedCases) {
  TempDir tmp;
  Child child({REPORT_CRASH_CHILD, tmp.path().string(), "flush", "5"});
  std::string line;
  ASSERT_TRUE(
      child.read_until([](const std::string& l) { return l == "flushed 5"; }, std::chrono::seconds(30), line))
      << "last line: " << line;
  EXPECT_EQ(child.kill9(), SIGKILL);

  auto reports = tmp / "reports";
  EXPECT_EQ(junit_cases(reports / "junit.xml"), 5u);
  EXPECT_FALSE(fs::exists(reports / "results.json"));
  auto schema = fs::path(PROVHIL_SOURCE_DIR) / "harness" / "report" / "schema" / "junit.xsd";
  auto lint = provhil::test::run_process(
      {"xmllint", "--noout", "--schema", schema.string(), (reports / "junit.xml").string()});
  EXPECT_EQ(lint.exit_code, 0) << lint.err;

  ReportOptions options;
  options.output_dir = reports;
  options.attachment_base = tmp.path();
  EXPECT_EQ(rebuild_from_journal(options), 5u);
  auto results = boost::json::parse(read_file(reports / "results.json")).as_object();
  EXPECT_FALSE(results.at("complete").as_bool());
  EXPECT_EQ(results.at("cases").as_array().size(), 5u);
  EXPECT_EQ(results.at("run").at("run_id").as_string(), "run-20240501-1200");
  EXPECT_EQ(junit_cases(reports / "junit.xml"), 5u);
}

TEST(ReportCrash, KillMidStreamLeavesAParsableReportAndLosesNothingFromTheJournal) {
  TempDir tmp;
  Child child({REPORT_CRASH_CHILD, tmp.path().string(), "stream"});
  std::string line;
  long added = 0;
  ASSERT_TRUE(child.read_until(
      [&](const std::string& l) {
        if (l.rfind("added ", 0) == 0) added = std::stol(l.substr(6));
        return added >= 150;
      },
      std::chrono::seconds(60), line))
      << "last line: " << line;
  EXPECT_EQ(child.kill9(), SIGKILL);  // while it keeps adding and rewriting

  auto reports = tmp / "reports";
  std::size_t in_junit = junit_cases(reports / "junit.xml");  // whole: rewrites are atomic
  ReportOptions options;
  options.output_dir = reports;
  options.attachment_base = tmp.path();
  std::size_t recovered = rebuild_from_journal(options);
  EXPECT_GE(recovered, static_cast<std::size_t>(added)) << "a case add_case() returned for is missing";
  EXPECT_LE(in_junit, recovered);
  EXPECT_EQ(junit_cases(reports / "junit.xml"), recovered);
  auto results = boost::json::parse(read_file(reports / "results.json")).as_object();
  EXPECT_EQ(results.at("cases").as_array().size(), recovered);
}

TEST(ReportCrash, RebuildWithoutAJournalSaysWhere) {
  TempDir tmp;
  ReportOptions options;
  options.output_dir = tmp / "reports";
  try {
    rebuild_from_journal(options);
    FAIL() << "expected ReportError";
  } catch (const ReportError& e) {
    EXPECT_NE(std::string(e.what()).find("journal.jsonl"), std::string::npos) << e.what();
  }
}

// Issue 16, defect 10: a write that fails (a full disk, here a file size limit) stops the journal at
// its last whole line: later cases are refused, and rebuild reads every case that was added.
TEST(ReportCrash, AFailedJournalWriteKeepsTheJournalWholeAndRefusesMore) {
  TempDir tmp;
  auto result = provhil::test::run_process({REPORT_CRASH_CHILD, tmp.path().string(), "full", "20000"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  auto failed = result.out.find("failed: ");
  ASSERT_NE(failed, std::string::npos) << result.out;
  EXPECT_NE(result.out.find("journal.jsonl: cannot write: File too large", failed), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("refused: "), std::string::npos) << result.out;
  long added = 0;
  for (std::size_t at = 0; (at = result.out.find("added ", at)) != std::string::npos; at += 6)
    added = std::max(added, std::atol(result.out.c_str() + at + 6));
  ASSERT_GT(added, 0) << result.out;
  auto journal = read_file(tmp / "reports" / "journal.jsonl");
  ASSERT_FALSE(journal.empty());
  EXPECT_EQ(journal.back(), '\n') << "the journal ends in a torn line";
  ReportOptions options;
  options.output_dir = tmp / "reports";
  options.attachment_base = tmp.path();
  std::size_t skipped = 99;
  EXPECT_EQ(rebuild_from_journal(options, &skipped), static_cast<std::size_t>(added));
  EXPECT_EQ(skipped, 0u);
}

}  // namespace
