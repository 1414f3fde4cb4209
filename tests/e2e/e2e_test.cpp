// provhil run on the simulated boards, end to end: the shipped suite passes, scenarios written to fail
// fail with the right message and evidence, secrets stay out of every report file, an interrupt still
// leaves a report.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <boost/json.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using provhil::test::read_file;
using provhil::test::run_process;
using provhil::test::TempDir;

const fs::path source_dir = PROVHIL_SOURCE_DIR;

provhil::test::ProcessResult run_provhil(const std::vector<std::string>& args, const TempDir& dir,
                                         std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv{PROVHIL_BINARY, "run", "--reports", (dir / "reports").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  provhil::test::ProcessOptions options;
  options.working_dir = source_dir.string();
  options.timeout = std::chrono::minutes(5);
  options.env = std::move(env);
  return run_process(argv, options);
}

boost::json::object results_json(const TempDir& dir) {
  return boost::json::parse(read_file(dir / "reports" / "results.json")).as_object();
}

// Every file under `root`, read whole (reports are small in these tests).
std::vector<std::pair<fs::path, std::string>> all_files(const fs::path& root) {
  std::vector<std::pair<fs::path, std::string>> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files.emplace_back(entry.path(), read_file(entry.path()));
  }
  return files;
}

const fs::path schema_dir = source_dir / "harness" / "report" / "schema";

void expect_valid_junit(const fs::path& junit, const fs::path& schema = schema_dir / "junit.xsd") {
  auto result = run_process({"xmllint", "--noout", "--schema", schema.string(), junit.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

// ---- the shipped suite ------------------------------------------------------------------------

const std::vector<std::string> shipped = {
    "provision-ap",    "provision-console",       "invalid-token",      "redirect-308",        "cloud-faults",
    "cloud-tls-alert", "reprovision-after-erase", "stock-edgent-login", "wrong-wifi-password", "ota-refused",
    "button-reset"};

TEST(ShippedSuite, ListsEveryScenarioFileThisTestRuns) {
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(source_dir / "scenarios"))
    files.insert(entry.path().stem().string());
  EXPECT_EQ(files, std::set<std::string>(shipped.begin(), shipped.end()))
      << "a scenario was added or removed: update `shipped` in this test";
}

class ShippedScenario : public testing::TestWithParam<std::string> {};

TEST_P(ShippedScenario, PassesOnTheSimulatedBoards) {
  TempDir dir;
  auto result = run_provhil({"scenarios/" + GetParam() + ".yaml"}, dir);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  auto results = results_json(dir);
  auto& cases = results.at("cases").as_array();
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases)
    EXPECT_EQ(c.at("outcome").as_string(), "passed") << boost::json::serialize(c);
  expect_valid_junit(dir / "reports" / "junit.xml");
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ShippedScenario, testing::ValuesIn(shipped),
                         [](const testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// ---- scenarios written to fail ----------------------------------------------------------------

TEST(FailingScenario, AMissingLineFailsWithTheStepItsLocationAndTheLastLines) {
  TempDir dir;
  auto result = run_provhil({"tests/e2e/failing/missing-line.yaml", "--one-board"}, dir);
  ASSERT_EQ(result.exit_code, 1) << describe(result);
  auto junit = read_file(dir / "reports" / "junit.xml");
  EXPECT_NE(junit.find("wait for a line that never comes"), std::string::npos) << junit;
  EXPECT_NE(junit.find("missing-line.yaml:9:5"), std::string::npos) << junit;
  EXPECT_NE(junit.find("This line is never printed"), std::string::npos) << junit;
  // The evidence: what the board did print, e.g. its transition into WAIT_CONFIG.
  EXPECT_NE(junit.find("=&gt; WAIT_CONFIG"), std::string::npos) << junit;
  expect_valid_junit(dir / "reports" / "junit.xml");
  EXPECT_NE(result.out.find("FAIL missing-line [sim-1]"), std::string::npos) << result.out;
  // The summary names the page to open first.
  EXPECT_NE(result.out.find((dir / "reports" / "index.html").string() + " (open it in a browser)"),
            std::string::npos)
      << result.out;
  // The last lines appear once, stamped as the console saw them at the failure: not a second time
  // unstamped under "Last serial lines".
  auto results = results_json(dir);
  const auto& c = results.at("cases").as_array().at(0).as_object();
  std::string detail(c.at("detail").as_string());
  auto first = detail.find("=> WAIT_CONFIG");
  ASSERT_NE(first, std::string::npos) << detail;
  EXPECT_EQ(detail.find("=> WAIT_CONFIG", first + 1), std::string::npos) << "printed twice:\n" << detail;
  EXPECT_EQ(detail.find("Last serial lines"), std::string::npos) << detail;
  EXPECT_NE(detail.find("[t+"), std::string::npos) << "stamped: " << detail;
}

TEST(FailingScenario, AWrongQueryParameterFailsWithTheCheckAndTheExchange) {
  TempDir dir;
  auto result = run_provhil({"tests/e2e/failing/wrong-template.yaml", "--one-board"}, dir);
  ASSERT_EQ(result.exit_code, 1) << describe(result);
  auto results = results_json(dir);
  const auto& c = results.at("cases").as_array().at(0).as_object();
  EXPECT_EQ(c.at("outcome").as_string(), "failed");
  std::string message(c.at("message").as_string());
  EXPECT_NE(message.find("templateId"), std::string::npos) << message;
  // The failure points at the key that failed (templateId, line 17), not at the step's line 15.
  EXPECT_NE(message.find("wrong-template.yaml:17:"), std::string::npos) << message;
  const auto& where = c.at("failure_location").as_object();
  EXPECT_EQ(where.at("line").as_int64(), 17) << boost::json::serialize(where);
  std::string detail(c.at("detail").as_string());
  EXPECT_NE(detail.find("TMPL8sRFwcfqL"), std::string::npos) << "the detail shows what was sent: " << detail;
  EXPECT_NE(detail.find("Last exchange"), std::string::npos) << detail;
  // A failure that is not the console's carries the last serial lines once, from the case.
  EXPECT_NE(detail.find("Last serial lines"), std::string::npos) << detail;
  auto junit = read_file(dir / "reports" / "junit.xml");
  EXPECT_NE(junit.find("line=\"17\""), std::string::npos) << junit;
}

TEST(FailingScenario, RetriesRecordEveryAttempt) {
  TempDir dir;
  auto result = run_provhil({"tests/e2e/failing/missing-line.yaml", "--one-board", "--retries", "1"}, dir);
  ASSERT_EQ(result.exit_code, 1) << describe(result);
  auto junit = read_file(dir / "reports" / "junit.xml");
  EXPECT_NE(junit.find("<rerunFailure"), std::string::npos) << junit;
  EXPECT_TRUE(fs::exists(dir / "reports" / "sim-1" / "missing-line" / "attempt-1" /
                         "missing-line.sim-1.attempt-1.serial.log"));
}

// A lab of its own: the default boards plus simulated boards with extra fault switches.
fs::path write_lab(const TempDir& dir,
                   const std::vector<std::pair<std::string, std::string>>& faulty_boards) {
  auto inventory = read_file(source_dir / "fixtures" / "boards.yaml");
  for (auto pos = inventory.find("profile: sim/"); pos != std::string::npos;
       pos = inventory.find("profile: sim/", pos + 1))
    inventory.replace(pos, 13, "profile: " + (source_dir / "fixtures" / "sim").string() + "/");
  auto profile = read_file(source_dir / "fixtures" / "sim" / "esp32.yaml");
  std::string boards;
  for (const auto& [name, faults] : faulty_boards) {
    auto path = provhil::test::write_file(dir / (name + ".yaml"), profile + faults);
    boards +=
        "  - name: " + name + "\n    sim: { profile: " + path.string() + " }\n    tags: [" + name + "]\n";
  }
  inventory.insert(inventory.find("boards:\n") + 8, boards);
  inventory += "dialects: " + (source_dir / "fixtures" / "dialects").string() + "\n";
  return provhil::test::write_file(dir / "lab.yaml", inventory);
}

TEST(FailingScenario, ACrashFailsTheWaitAtOnceWithTheGuruMeditationLine) {
  TempDir dir;
  auto lab = write_lab(dir, {{"crashy", "  crash_in_state: RUNNING\n  crash_after: 500ms\n"}});
  auto started = std::chrono::steady_clock::now();
  auto result = run_provhil({"tests/e2e/failing/crash-while-running.yaml", "--lab", lab.string()}, dir);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_LT(took, std::chrono::seconds(45)) << "the crash must end the 60 s wait";
  auto results = results_json(dir);
  const auto& c = results.at("cases").as_array().at(0).as_object();
  std::string message(c.at("message").as_string());
  EXPECT_NE(message.find("stay up for a minute"), std::string::npos) << message;
  EXPECT_NE(message.find("must-not-appear"), std::string::npos) << message;
  EXPECT_NE(message.find("Guru Meditation Error"), std::string::npos) << message;
}

// ---- JUnit as CI reads it: a third-party reader (Debian python3-junitparser) ------------------------

boost::json::object junit_facts(const fs::path& junit, const fs::path& base) {
  auto result = run_process({"/usr/bin/python3", (source_dir / "tests" / "e2e" / "junit_facts.py").string(),
                             junit.string(), base.string()});
  EXPECT_EQ(result.exit_code, 0) << "python3-junitparser (scripts/setup.sh) could not read " << junit << "\n"
                                 << result.err;
  return boost::json::parse(result.out.empty() ? "{}" : result.out).as_object();
}

const boost::json::object* find_case(const boost::json::object& facts, std::string_view name) {
  for (const auto& c : facts.at("cases").as_array())
    if (c.at("name").as_string() == name) return &c.as_object();
  return nullptr;
}

TEST(JunitForCi, AThirdPartyReaderSeesTheEvidenceErrorAndSkipTextFlakyCountAndUniqueAttachments) {
  TempDir dir;
  // Two simulated boards that run the same scenario, and one whose port cannot be opened.
  auto lab = write_lab(dir, {{"sim-2", ""}});
  auto text = read_file(lab);
  text.replace(text.find("tags: [sim-2]"), 13, "tags: [sim-2, provision-call]");
  text.insert(text.find("boards:\n") + 8,
              "  - name: unplugged\n    port: " + (dir / "no-such-tty").string() +
                  "\n    dialect: edgent-1.2\n    reset: none\n    tags: [provision-call]\n");
  provhil::test::write_file(lab, text);
  auto result = run_provhil({"tests/e2e/junit/flaky-once.yaml", "tests/e2e/junit/no-board.yaml", "--lab",
                             lab.string(), "--retries", "1", "--sim-time-scale", "0"},
                            dir, {{"PROVHIL_FLAKY_MARKER", (dir / "flaky-marker").string()}});
  EXPECT_EQ(result.exit_code, 3) << describe(result);  // the unplugged board: infrastructure
  EXPECT_NE(result.out.find("(1 flaky)"), std::string::npos) << "flaky in the summary line\n" << result.out;
  auto junit = dir / "reports" / "junit.xml";
  expect_valid_junit(junit);
  auto facts = junit_facts(junit, source_dir);
  ASSERT_TRUE(facts.contains("cases")) << read_file(junit);

  // Flaky: counted as a run property and shown as a flakyFailure on exactly one case.
  std::int64_t flaky = 0;
  for (const auto& c : facts.at("cases").as_array())
    flaky += c.at("flaky").as_int64();
  EXPECT_EQ(flaky, 1) << read_file(junit);
  for (const auto& suite : facts.at("suites").as_array())
    EXPECT_EQ(suite.at("properties").at("flaky").as_string(), "1") << boost::json::serialize(suite);
  EXPECT_EQ(results_json(dir).at("summary").at("flaky").as_int64(), 1);

  // The error and the skip carry their reason as element text (GitLab shows the text).
  const auto* unplugged = find_case(facts, "flaky-once [unplugged]");
  ASSERT_NE(unplugged, nullptr) << read_file(junit);
  ASSERT_EQ(unplugged->at("results").as_array().size(), 1u);
  const auto& error = unplugged->at("results").as_array().at(0);
  EXPECT_EQ(error.at("tag").as_string(), "error");
  EXPECT_NE(std::string(error.at("text").as_string()).find("could not open its port"), std::string::npos)
      << boost::json::serialize(error);
  const auto* skipped = find_case(facts, "no-board []");
  ASSERT_NE(skipped, nullptr) << read_file(junit);
  const auto& skip = skipped->at("results").as_array().at(0);
  EXPECT_EQ(skip.at("tag").as_string(), "skipped");
  EXPECT_NE(std::string(skip.at("text").as_string()).find("no eligible board"), std::string::npos)
      << boost::json::serialize(skip);
  EXPECT_EQ(skipped->at("file").as_string(), "tests/e2e/junit/no-board.yaml");

  // The first attachment is the readable, stamped text log; names never repeat within a classname.
  std::map<std::string, std::set<std::string>> names_by_class;
  int with_logs = 0;
  for (const auto& value : facts.at("cases").as_array()) {
    const auto& c = value.as_object();
    std::string name(c.at("name").as_string());
    for (const auto& a : c.at("attachments").as_array()) {
      auto base = fs::path(std::string(a.as_string())).filename().string();
      EXPECT_TRUE(names_by_class[std::string(c.at("classname").as_string())].insert(base).second)
          << base << " attached twice under " << c.at("classname").as_string();
    }
    if (name.rfind("flaky-once [sim-", 0) != 0) continue;
    ++with_logs;
    ASSERT_TRUE(c.at("first_attachment_text").is_string()) << boost::json::serialize(c);
    std::string first(c.at("first_attachment_text").as_string());
    std::string first_path(c.at("attachments").as_array().at(0).as_string());
    EXPECT_NE(first_path.find(".serial.log"), std::string::npos) << first_path;
    EXPECT_NE(first.find("WAIT_CONFIG"), std::string::npos) << first;
    EXPECT_EQ(first.find('\x1b'), std::string::npos) << "readable: no escape bytes";
  }
  EXPECT_EQ(with_logs, 2);
  // The flaky case links its earlier attempt's evidence too.
  bool attempt_linked = false;
  for (const auto& value : facts.at("cases").as_array()) {
    if (value.at("flaky").as_int64() == 0) continue;
    for (const auto& a : value.at("attachments").as_array())
      attempt_linked |= std::string(a.as_string()).find("attempt-1") != std::string::npos;
  }
  EXPECT_TRUE(attempt_linked) << read_file(junit);
}

TEST(JunitForCi, FailOnFlakyTurnsAFlakyPassIntoAFailedRun) {
  TempDir dir;
  auto result = run_provhil({"tests/e2e/junit/flaky-once.yaml", "--one-board", "--retries", "1",
                             "--sim-time-scale", "0", "--fail-on-flaky"},
                            dir, {{"PROVHIL_FLAKY_MARKER", (dir / "flaky-marker").string()}});
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_NE(result.err.find("--fail-on-flaky"), std::string::npos) << result.err;
  EXPECT_EQ(results_json(dir).at("summary").at("flaky").as_int64(), 1);
}

TEST(JunitForCi, StrictOutputValidatesAgainstTheStrictSchema) {
  TempDir dir;
  auto result = run_provhil(
      {"tests/e2e/failing/missing-line.yaml", "--one-board", "--sim-time-scale", "0", "--junit-strict"}, dir);
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  expect_valid_junit(dir / "reports" / "junit.xml", schema_dir / "junit-strict.xsd");
}

// ---- reports/index.html in a real browser (Debian chromium, headless) ------------------------------

struct Browser {
  provhil::test::ProcessResult result;
  std::string dom() const { return result.out; }
};

// `chromium --headless` on the page; extra arguments like --dump-dom or --screenshot=FILE. Its own
// profile folder inside `dir`; console messages go to stderr (--enable-logging=stderr --v=0).
Browser open_in_chromium(const TempDir& dir, const std::string& url, std::vector<std::string> extra) {
  std::vector<std::string> argv{"chromium",
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--no-first-run",
                                "--disable-extensions",
                                "--enable-logging=stderr",
                                "--v=0",
                                "--user-data-dir=" + (dir / "chromium-profile").string(),
                                "--window-size=1400,900"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  provhil::test::ProcessOptions options;
  options.timeout = std::chrono::minutes(2);
  return Browser{run_process(argv, options)};
}

// The page's console messages (uncaught errors included), as chromium logs them on stderr.
std::vector<std::string> console_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < err.size()) {
    auto end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    auto line = err.substr(start, end - start);
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos)
      lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

class IndexHtml : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    // A failing scenario and a passing one, so that the filter has something to hide.
    run_ = new provhil::test::ProcessResult(
        run_provhil({"tests/e2e/failing/missing-line.yaml", "scenarios/provision-console.yaml", "--one-board",
                     "--sim-time-scale", "0"},
                    *dir_));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  static fs::path index() { return *dir_ / "reports" / "index.html"; }
  static std::string url(const std::string& fragment = {}) { return "file://" + index().string() + fragment; }
  static TempDir* dir_;
  static provhil::test::ProcessResult* run_;
};
TempDir* IndexHtml::dir_ = nullptr;
provhil::test::ProcessResult* IndexHtml::run_ = nullptr;

TEST_F(IndexHtml, OpensWithoutConsoleErrorsAndShowsTheFailureOnTheTimeline) {
  ASSERT_EQ(run_->exit_code, 1) << describe(*run_);
  ASSERT_TRUE(fs::exists(index()));
  auto page = open_in_chromium(*dir_, url(), {"--dump-dom"});
  ASSERT_EQ(page.result.exit_code, 0) << page.result.err;
  auto dom = page.dom();
  EXPECT_EQ(console_lines(page.result.err), std::vector<std::string>{}) << "console messages";
  EXPECT_NE(dom.find("id=\"self-check\" data-status=\"ok\""), std::string::npos)
      << dom.substr(dom.find("self-check") == std::string::npos ? 0 : dom.find("self-check"), 300);
  // The first failure opens by itself: its timeline carries the marker with the step's file:line:col.
  auto marker = dom.find("id=\"failure-marker\"");
  ASSERT_NE(marker, std::string::npos) << dom;
  EXPECT_NE(dom.find("failed at tests/e2e/failing/missing-line.yaml:9:5", marker), std::string::npos) << dom;
  EXPECT_NE(dom.find("class=\"timeline\""), std::string::npos);
  // Expected vs actual side by side, and the log excerpt with line anchors.
  EXPECT_NE(dom.find("class=\"expected\""), std::string::npos);
  EXPECT_NE(dom.find("This line is never printed"), std::string::npos);
  EXPECT_NE(dom.find("id=\"c"), std::string::npos) << "line anchors";
  // The board's identity, from the dialect's captures of its boot log, in the case's header.
  EXPECT_NE(dom.find("firmware_version: 0.1.0"), std::string::npos);
  EXPECT_NE(dom.find("library_version: 1.2.0"), std::string::npos);
  EXPECT_NE(dom.find("chip: ESP32"), std::string::npos);
}

TEST_F(IndexHtml, BoardIdentityIsASuitePropertyInJunit) {
  auto junit = read_file(*dir_ / "reports" / "junit.xml");
  EXPECT_NE(junit.find("<property name=\"sim-1.firmware_version\" value=\"0.1.0\"/>"), std::string::npos)
      << junit;
  EXPECT_NE(junit.find("<property name=\"sim-1.library_version\" value=\"1.2.0\"/>"), std::string::npos);
  EXPECT_NE(junit.find("<property name=\"sim-1.chip\" value=\"ESP32"), std::string::npos);
}

TEST_F(IndexHtml, EveryEventIsOnTheRunsTimeBaseInTimeOrder) {
  auto results = results_json(*dir_);
  EXPECT_TRUE(results.at("run").at("started").is_string());
  for (const auto& value : results.at("cases").as_array()) {
    const auto& c = value.as_object();
    ASSERT_TRUE(c.at("t_ms").is_int64()) << boost::json::serialize(c);
    std::int64_t last = -1;
    for (const auto& step : c.at("steps").as_array()) {
      auto t = step.at("t_ms").as_int64();
      EXPECT_GE(t, last) << "steps in time order";
      last = t;
    }
    last = -1;
    for (const auto& x : c.at("exchanges").as_array()) {
      ASSERT_TRUE(x.as_object().contains("t_ms")) << boost::json::serialize(x);
      EXPECT_FALSE(x.as_object().contains("wall")) << "one time base: " << boost::json::serialize(x);
      EXPECT_GE(x.at("t_ms").as_int64(), last);
      last = x.at("t_ms").as_int64();
    }
  }
  // The text log: every line stamped with milliseconds since the run started, never going back.
  auto log =
      read_file(*dir_ / "reports" / "sim-1" / "provision-console" / "provision-console.sim-1.serial.log");
  std::int64_t last = -1;
  int lines = 0;
  for (std::size_t at = 0; at < log.size();) {
    auto end = log.find('\n', at);
    auto line = log.substr(at, end - at);
    at = end == std::string::npos ? log.size() : end + 1;
    if (line.empty()) continue;
    ASSERT_EQ(line.rfind("[t+", 0), 0u) << line;
    auto t = std::stoll(line.substr(3, line.find("ms]") - 3));
    EXPECT_GE(t, last) << line;
    last = t;
    ++lines;
  }
  EXPECT_GT(lines, 10);
  EXPECT_NE(log.find("milliseconds since the run started at " +
                     std::string(results.at("run").at("started").as_string())),
            std::string::npos);
}

TEST_F(IndexHtml, TheFilterInTheAddressHidesTheOtherOutcomes) {
  ASSERT_TRUE(fs::exists(index())) << describe(*run_);
  auto page = open_in_chromium(*dir_, url("#outcome=passed"), {"--dump-dom"});
  ASSERT_EQ(page.result.exit_code, 0) << page.result.err;
  auto dom = page.dom();
  int passed_shown = 0, failed_hidden = 0, failed_shown = 0;
  for (auto at = dom.find("<tr class=\"case"); at != std::string::npos;
       at = dom.find("<tr class=\"case", at + 1)) {
    auto tag = dom.substr(at, dom.find('>', at) - at);
    bool hidden = tag.find(" hidden") != std::string::npos;
    if (tag.find("data-outcome=\"passed\"") != std::string::npos) passed_shown += hidden ? 0 : 1;
    if (tag.find("data-outcome=\"failed\"") != std::string::npos)
      (hidden ? failed_hidden : failed_shown) += 1;
  }
  EXPECT_EQ(passed_shown, 1) << dom;
  EXPECT_EQ(failed_hidden, 1) << dom;
  EXPECT_EQ(failed_shown, 0) << dom;
  EXPECT_NE(dom.find("1 of 2 cases"), std::string::npos);
}

TEST_F(IndexHtml, AScreenshotCanBeTaken) {
  ASSERT_TRUE(fs::exists(index())) << describe(*run_);
  auto png = *dir_ / "index.png";
  auto page = open_in_chromium(*dir_, url(), {"--screenshot=" + png.string()});
  ASSERT_EQ(page.result.exit_code, 0) << page.result.err;
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 10'000u) << "a blank page would be smaller";
  EXPECT_EQ(read_file(png).substr(1, 3), "PNG");
}

TEST_F(IndexHtml, ReportRebuildWritesItAgain) {
  ASSERT_TRUE(fs::exists(index())) << describe(*run_);
  fs::remove(index());
  auto rebuilt =
      run_process({PROVHIL_BINARY, "report", "--rebuild", "--reports", (*dir_ / "reports").string()});
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  ASSERT_TRUE(fs::exists(index()));
  EXPECT_NE(read_file(index()).find("missing-line"), std::string::npos);
}

TEST(BoardTrouble, AVanishedPortIsAnErrorForThatBoardAndTheOthersCarryOn) {
  TempDir dir;
  auto lab = write_lab(dir, {{"vanishing", "  serial_vanish_after: 1500ms\n"}});
  // provision-ap runs on boards tagged provision-call: give the vanishing board that tag too.
  auto text = read_file(lab);
  text.replace(text.find("tags: [vanishing]"), 17, "tags: [vanishing, provision-call]");
  provhil::test::write_file(lab, text);
  // provision-ap is pooled (run_on: any): --run-on each puts it on every provisioning board again.
  auto result = run_provhil({"scenarios/provision-ap.yaml", "--lab", lab.string(), "--run-on", "each"}, dir);
  EXPECT_EQ(result.exit_code, 3) << describe(result);
  auto results = results_json(dir);
  std::map<std::string, std::string> outcome;
  std::map<std::string, std::string> message;
  for (const auto& c : results.at("cases").as_array()) {
    outcome[std::string(c.at("board").as_string())] = std::string(c.at("outcome").as_string());
    message[std::string(c.at("board").as_string())] = std::string(c.at("message").as_string());
  }
  EXPECT_EQ(outcome["sim-1"], "passed");
  EXPECT_EQ(outcome["vanishing"], "error");
  EXPECT_NE(message["vanishing"].find("vanished"), std::string::npos) << message["vanishing"];
  auto junit = read_file(dir / "reports" / "junit.xml");
  EXPECT_NE(junit.find("<error"), std::string::npos) << junit;
}

// ---- secrets, interrupts, usage -----------------------------------------------------------------

TEST(Secrets, NoTokenOrWifiPasswordInAnyReportFile) {
  TempDir dir;
  const std::string token = "E2eSecretTokenAbcdefghijklmnop12";
  auto inventory = read_file(source_dir / "fixtures" / "boards.yaml");
  // The same lab, with a fixed token for the first board so the test knows what to look for.
  auto at = inventory.find("    sim: { profile: sim/esp32.yaml }");
  ASSERT_NE(at, std::string::npos);
  inventory.insert(at, "    token: " + token + "\n");
  for (auto pos = inventory.find("profile: sim/"); pos != std::string::npos;
       pos = inventory.find("profile: sim/", pos + 1))
    inventory.replace(pos, 13, "profile: " + (source_dir / "fixtures" / "sim").string() + "/");
  inventory += "dialects: " + (source_dir / "fixtures" / "dialects").string() + "\n";
  auto lab = provhil::test::write_file(dir / "lab.yaml", inventory);
  // --one-board: on sim-1, the board with the known token (provision-ap runs on any free board).
  auto result = run_provhil({"scenarios/provision-ap.yaml", "--lab", lab.string(), "--one-board"}, dir);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  int files = 0;
  for (const auto& [path, content] : all_files(dir / "reports")) {
    ++files;
    EXPECT_EQ(content.find(token), std::string::npos) << "token in " << path;
    EXPECT_EQ(content.find("labpass123"), std::string::npos) << "WiFi password in " << path;
  }
  EXPECT_GE(files, 6);
  EXPECT_EQ(result.out.find(token), std::string::npos);
  // And the board did print them: masking, not absence, keeps them out.
  auto log = read_file(dir / "reports" / "sim-1" / "provision-ap" / "provision-ap.sim-1.serial.log");
  EXPECT_NE(log.find("[MASKED:token]"), std::string::npos) << log;
}

// Runs the whole shipped suite in a child process, sends it `signal` once the first case has finished
// (the journal holds its line; two minutes at most), and returns its wait status.
int interrupt_suite_run(const TempDir& dir, int signal) {
  std::string reports = (dir / "reports").string();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(source_dir.c_str()) != 0) ::_exit(126);
    ::execl(PROVHIL_BINARY, PROVHIL_BINARY, "run", "--quiet", "--reports", reports.c_str(), "scenarios",
            nullptr);
    ::_exit(127);
  }
  EXPECT_GT(pid, 0);
  auto journal = dir / "reports" / "journal.jsonl";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(journal) && read_file(journal).find("\"type\":\"case\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LT(std::chrono::steady_clock::now(), deadline) << "no case finished within two minutes";
  ::kill(pid, signal);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

TEST(Interrupt, SigintMidRunExits130AndLeavesAValidReport) {
  TempDir dir;
  int status = interrupt_suite_run(dir, SIGINT);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  expect_valid_junit(dir / "reports" / "junit.xml");
  auto results = results_json(dir);
  const auto& cases = results.at("cases").as_array();
  ASSERT_GE(cases.size(), 2u);
  // The case that finished before the interrupt passed; the one it cut short is an error, not a pass.
  bool passed = false;
  bool cut_short = false;
  for (const auto& c : cases) {
    passed |= c.at("outcome").as_string() == "passed";
    cut_short |= c.at("outcome").as_string() != "passed";
  }
  EXPECT_TRUE(passed);
  EXPECT_TRUE(cut_short);
}

TEST(Interrupt, KillNineMidRunThenReportRebuildRecoversTheFinishedCases) {
  TempDir dir;
  int status = interrupt_suite_run(dir, SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // What kill -9 left: a junit.xml that validates, and a journal with the finished case.
  expect_valid_junit(dir / "reports" / "junit.xml");
  EXPECT_FALSE(fs::exists(dir / "reports" / "results.json"));
  auto rebuilt =
      run_process({PROVHIL_BINARY, "report", "--rebuild", "--reports", (dir / "reports").string()});
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  EXPECT_NE(rebuilt.out.find("rebuilt 1 case"), std::string::npos) << rebuilt.out;
  auto results = results_json(dir);
  EXPECT_EQ(results.at("cases").as_array().size(), 1u);
  EXPECT_EQ(results.at("cases").as_array().at(0).at("outcome").as_string(), "passed");
  expect_valid_junit(dir / "reports" / "junit.xml");
}

TEST(Usage, ReportRebuildWithoutAJournalSaysWhere) {
  TempDir dir;
  auto result = run_process({PROVHIL_BINARY, "report", "--rebuild", "--reports", (dir / "nothing").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("journal"), std::string::npos) << result.err;
}

TEST(Usage, ABrokenScenarioIsExit2WithFileLineAndColumn) {
  TempDir dir;
  auto broken =
      provhil::test::write_file(dir / "broken.yaml", "scenario: broken\nsteps:\n  - expct: { line: x }\n");
  auto result = run_provhil({broken.string()}, dir);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("broken.yaml:3:5"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("expect"), std::string::npos) << "did you mean: " << result.err;
}

TEST(Usage, AFilterThatMatchesNothingIsItsOwnExitCodeAndSaysWhy) {
  TempDir dir;
  auto result = run_provhil({"--filter", "nomatch"}, dir);
  EXPECT_EQ(result.exit_code, 4) << describe(result);
  EXPECT_NE(result.err.find("nothing ran"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--filter 'nomatch' matched no name or tag"), std::string::npos) << result.err;
  // The reports still say what happened: every pair skipped, with the reason.
  auto results = results_json(dir);
  EXPECT_EQ(results.at("summary").at("tests").as_int64(), results.at("summary").at("skipped").as_int64());
  expect_valid_junit(dir / "reports" / "junit.xml");
}

TEST(Usage, ListPrintsThePlanAndRunsNothing) {
  TempDir dir;
  auto result = run_provhil({"--list", "--shard", "1/2"}, dir);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("[sim-"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(dir / "reports" / "junit.xml"));
}

// ---- a replay board (a real board's log played back) ---------------------------------------------

fs::path write_replay_lab(const TempDir& dir, const std::string& log, const std::string& dialect) {
  auto port = "replay:" + (source_dir / "tests" / "data" / "real-logs" / log).string() + "?strip=comments";
  return provhil::test::write_file(dir / "replay-lab.yaml",
                                   "boards:\n  - name: replay-1\n    port: \"" + port +
                                       "\"\n    dialect: " + dialect + "\n    tags: [replay]\n" +
                                       "dialects: " + (source_dir / "fixtures" / "dialects").string() + "\n");
}

// Two scenarios on one replay board, each from the start of the log: the second sees the whole log
// too (issue 12), and the reader having read ahead of either changes nothing.
TEST(ReplayBoard, TwoScenariosOnOneReplayBoardBothSeeTheWholeLog) {
  TempDir dir;
  auto lab = write_replay_lab(dir, "01-esp8266-esp01-provision-to-cloud-v1.1.0.log", "edgent-1.1");
  std::string steps =
      "boards: { tags: [replay] }\n"
      "steps:\n"
      "  - expect: { event: banner }\n"
      "  - expect: { state: WAIT_CONFIG }\n"
      "  - expect: { state: CONNECTING_CLOUD }\n";
  auto first = provhil::test::write_file(dir / "first.yaml", "scenario: first\n" + steps);
  auto second = provhil::test::write_file(dir / "second.yaml", "scenario: second\n" + steps);
  auto result = run_provhil({first.string(), second.string(), "--lab", lab.string()}, dir);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  auto results = results_json(dir);
  ASSERT_EQ(results.at("cases").as_array().size(), 2u);
  for (const auto& c : results.at("cases").as_array())
    EXPECT_EQ(c.at("outcome").as_string(), "passed") << boost::json::serialize(c);
}

// A line the log does not hold is a failed check (exit 1) with the log's last lines, not an
// infrastructure error (exit 3).
TEST(ReplayBoard, RunningOutOfLogIsAFailedExpectationWithEvidence) {
  TempDir dir;
  auto lab = write_replay_lab(dir, "02-esp32-provision-wifi-fail-701.log", "edgent-1.1");
  auto scenario = provhil::test::write_file(dir / "never.yaml",
                                            "scenario: never-online\n"
                                            "boards: { tags: [replay] }\n"
                                            "steps:\n"
                                            "  - expect: { state: CONNECTING_NET }\n"
                                            "  - expect: { state: RUNNING, within: 60s }\n");
  auto started = std::chrono::steady_clock::now();
  auto result = run_provhil({scenario.string(), "--lab", lab.string()}, dir);
  ASSERT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(50));  // not the 60 s deadline
  auto junit = read_file(dir / "reports" / "junit.xml");
  EXPECT_NE(junit.find("the log ended"), std::string::npos) << junit;
  EXPECT_NE(junit.find("Last error code: 701"), std::string::npos) << junit;  // the evidence
  expect_valid_junit(dir / "reports" / "junit.xml");
}

// ---- issue 16 ----------------------------------------------------------------------------------

// Defect 3: a reports folder another run holds is refused before anything is written to it.
TEST(Hardening, ASecondRunOnAReportsFolderInUseIsRefusedNamingTheHolder) {
  TempDir dir;
  fs::create_directories(dir / "reports");
  int fd = ::open((dir / "reports" / ".provhil.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::write(fd, "424242\n", 7), 7);
  auto result = run_provhil({"scenarios/provision-ap.yaml", "--sim-time-scale", "0"}, dir);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("in use by another provhil run (pid 424242)"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir / "reports" / "junit.xml"));
  EXPECT_FALSE(fs::exists(dir / "reports" / "journal.jsonl"));
  ::close(fd);
  result = run_provhil({"scenarios/provision-ap.yaml", "--sim-time-scale", "0"}, dir);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
}

// Defect 10: the reports cannot grow past a size (RLIMIT_FSIZE: what a full disk does to a write). The
// run stops starting scenarios, exits 3 with the path and the reason, still prints its summary with -q,
// leaves a valid junit.xml and a whole journal that `report --rebuild` reads.
TEST(Hardening, AFullDiskStopsNewWorkKeepsTheReportsValidAndExitsThree) {
  TempDir dir;
  std::string reports = (dir / "reports").string();
  provhil::test::ProcessOptions options;
  options.working_dir = source_dir.string();
  options.timeout = std::chrono::minutes(5);
  auto result =
      run_process({"/bin/sh", "-c", "trap '' XFSZ; exec prlimit --fsize=24000 \"$@\"", "sh", PROVHIL_BINARY,
                   "run", "-q", "--sim-time-scale", "0", "--reports", reports, "scenarios"},
                  options);
  EXPECT_EQ(result.exit_code, 3) << describe(result);
  EXPECT_NE(result.err.find("journal.jsonl: cannot write: File too large"), std::string::npos) << result.err;
  EXPECT_NE(result.out.find("passed,"), std::string::npos) << "no summary with -q\n" << describe(result);
  expect_valid_junit(dir / "reports" / "junit.xml");
  auto journal = read_file(dir / "reports" / "journal.jsonl");
  ASSERT_FALSE(journal.empty());
  EXPECT_EQ(journal.back(), '\n') << "torn journal";
  auto interceptor_journal = read_file(dir / "reports" / "interceptor.jsonl");
  if (!interceptor_journal.empty()) {
    EXPECT_EQ(interceptor_journal.back(), '\n') << "torn interceptor journal";
  }
  if (fs::exists(dir / "reports" / "results.json")) {
    std::error_code ec;
    boost::json::parse(read_file(dir / "reports" / "results.json"), ec);
    EXPECT_FALSE(ec) << "results.json is not valid JSON";
  }
  auto rebuilt = run_process({PROVHIL_BINARY, "report", "--rebuild", "--reports", reports});
  EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  EXPECT_EQ(rebuilt.err.find("damaged"), std::string::npos) << rebuilt.err;
  // Nothing measured is lost: every case the journal holds whole is in the rebuilt report (how many
  // fit before the limit depends on which finished first); fewer than the suite has: the run stopped.
  std::size_t journaled = 0;
  for (std::size_t at = journal.find("{\"type\":\"case\""); at != std::string::npos;
       at = journal.find("{\"type\":\"case\"", at + 1))
    ++journaled;
  auto cases = results_json(dir).at("cases").as_array().size();
  EXPECT_EQ(cases, journaled);
  EXPECT_LT(cases, shipped.size() + 1) << describe(result);
}

// The /tmp/provhil-run-* folder a process has open, from its descriptors.
fs::path work_dir_of(pid_t pid) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    auto target = fs::read_symlink(entry.path(), ec).string();
    auto at = target.find("/tmp/provhil-run-");
    if (ec || at != 0) continue;
    auto end = target.find('/', std::string("/tmp/provhil-run-").size());
    return target.substr(0, end);
  }
  return {};
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t child = 0; in >> child;)
      children.push_back(child);
  }
  return children;
}

// Defect 14: after kill -9 the private run folder keeps the raw serial log and the simulator's state
// (token and WiFi password) readable by the owner only; the simulators never got the secret variables;
// `report --rebuild` removes what the dead run left.
TEST(Hardening, AKilledRunLeavesNoReadableSecretsAndTheNextCommandRemovesThem) {
  TempDir dir;
  std::string reports = (dir / "reports").string();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(source_dir.c_str()) != 0) ::_exit(126);
    ::setenv("LAB_WIFI_PASS", "labpass123", 1);
    ::setenv("PROVHIL_TEST_TOKEN_VAR", "secret-in-the-environment", 1);
    // --run-on each: every simulator the test finds has work until the test kills the run (a board of
    // the pool with nothing left to take closes its simulator early).
    ::execl(PROVHIL_BINARY, PROVHIL_BINARY, "run", "--quiet", "--reports", reports.c_str(), "--run-on",
            "each", "scenarios/provision-ap.yaml", "scenarios/reprovision-after-erase.yaml", nullptr);
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  // Until a simulator has saved its state (it holds the WiFi password once provisioned): two minutes at most.
  fs::path work;
  fs::path state;
  std::vector<pid_t> sims;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (std::chrono::steady_clock::now() < deadline && state.empty()) {
    if (work.empty()) work = work_dir_of(pid);
    for (auto child : children_of(pid))
      if (std::find(sims.begin(), sims.end(), child) == sims.end()) sims.push_back(child);
    std::error_code ec;
    if (!work.empty())
      for (const auto& entry : fs::directory_iterator(work, ec))
        if (entry.path().extension() == ".state") state = entry.path();
    if (state.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(state.empty()) << "no simulator state within two minutes; work folder " << work;
  ASSERT_FALSE(sims.empty());
  for (auto sim : sims) {
    auto environ_text = read_file("/proc/" + std::to_string(sim) + "/environ");
    EXPECT_EQ(environ_text.find("LAB_WIFI_PASS"), std::string::npos) << "simulator " << sim;
    EXPECT_EQ(environ_text.find("secret-in-the-environment"), std::string::npos) << "simulator " << sim;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(fs::exists(work));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(work)) {
    auto ext = entry.path().extension();
    if (ext != ".raw" && ext != ".state") continue;
    ++files;
    auto perms = fs::status(entry.path()).permissions();
    EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << entry.path();
  }
  EXPECT_GE(files, 2);
  auto rebuilt = run_process({PROVHIL_BINARY, "report", "--rebuild", "--reports", reports});
  EXPECT_FALSE(fs::exists(work)) << "the dead run's work folder is still there: " << rebuilt.err;
}

}  // namespace
