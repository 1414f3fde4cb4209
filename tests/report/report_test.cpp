#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <pugixml.hpp>

#include "common/text.hpp"
#include "report/writer.hpp"
#include "sample.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace provhil::report;
namespace fs = std::filesystem;
using provhil::test::read_file;
using provhil::test::TempDir;

// The schemas live in the repo, so these checks run in any clone (xmllint: Debian libxml2-utils).
const fs::path schema_dir = fs::path(PROVHIL_SOURCE_DIR) / "harness" / "report" / "schema";
const fs::path schema = schema_dir / "junit.xsd";
const fs::path strict_schema = schema_dir / "junit-strict.xsd";
const fs::path golden_dir = fs::path(PROVHIL_SOURCE_DIR) / "tests" / "report" / "golden";

provhil::test::ProcessResult validate(const fs::path& xml, const fs::path& against) {
  return provhil::test::run_process({"xmllint", "--noout", "--schema", against.string(), xml.string()});
}

void expect_valid_against_schema(const fs::path& xml, const fs::path& against = schema) {
  auto result = validate(xml, against);
  EXPECT_EQ(result.exit_code, 0) << against << ": " << result.err;
}

pugi::xml_document load_xml(const fs::path& path) {
  pugi::xml_document doc;
  auto parsed = doc.load_file(path.c_str());
  EXPECT_TRUE(parsed) << path << ": " << parsed.description() << " at offset " << parsed.offset;
  return doc;
}

// Approval test: compares with the golden file; PROVHIL_UPDATE_GOLDEN=1 rewrites it instead.
void expect_matches_golden(const fs::path& actual, const std::string& golden_name) {
  auto golden = golden_dir / golden_name;
  std::string text = read_file(actual);
  if (std::getenv("PROVHIL_UPDATE_GOLDEN") != nullptr) {
    sample::write_bytes(golden, text);
    std::printf("updated %s\n", golden.c_str());
    return;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " missing: run with PROVHIL_UPDATE_GOLDEN=1 and review it";
  EXPECT_EQ(text, read_file(golden)) << "differs from " << golden
                                     << " (PROVHIL_UPDATE_GOLDEN=1 rewrites it; review the diff)";
}

std::size_t count_testcases(const pugi::xml_document& doc) {
  return doc.select_nodes("/testsuites/testsuite/testcase").size();
}

class ReportTest : public ::testing::Test {
 protected:
  TempDir tmp;
  provhil::SecretMasker masker;

  ReportTest() {
    masker.add(sample::token, "token");
    masker.add(sample::wifi_pass, "wifi");
  }

  ReportOptions options() const {
    ReportOptions opts;
    opts.output_dir = tmp / "reports";
    opts.attachment_base = tmp.path();
    return opts;
  }

  // A fixed run: every outcome, retries both ways, two suites with two boards.
  void write_fixed_run() {
    ReportWriter writer(options(), sample::run_info(), masker);
    auto logs = tmp / "logs";
    writer.add_case(sample::failed_case(logs));
    writer.add_case(sample::passed_case("provision-happy-path", "devkit-a", logs));
    writer.add_case(sample::flaky_case(logs));
    writer.add_case(sample::error_case());
    writer.add_case(sample::skipped_case());
    writer.add_case(sample::rerun_failed_case(logs));
    writer.finish();
  }
};

TEST_F(ReportTest, JunitMatchesGoldenFile) {
  write_fixed_run();
  expect_matches_golden(tmp / "reports" / "junit.xml", "junit.xml");
}

TEST_F(ReportTest, ResultsJsonMatchesGoldenFile) {
  write_fixed_run();
  expect_matches_golden(tmp / "reports" / "results.json", "results.json");
  auto results = boost::json::parse(read_file(tmp / "reports" / "results.json")).as_object();
  EXPECT_EQ(results.at("schema_version").as_int64(), 1);
  EXPECT_EQ(results.at("complete").as_bool(), true);
  EXPECT_EQ(results.at("cases").as_array().size(), 6u);
  EXPECT_EQ(results.at("summary").at("failed").as_int64(), 2);
}

TEST_F(ReportTest, JunitValidatesAgainstSchema) {
  write_fixed_run();
  expect_valid_against_schema(tmp / "reports" / "junit.xml");
}

TEST_F(ReportTest, StrictJunitValidatesAgainstTheStrictSchemaAndTheDefaultDoesNot) {
  write_fixed_run();
  // The default carries file/line on test cases: valid for junit.xsd, refused by the strict schema.
  auto lenient = validate(tmp / "reports" / "junit.xml", strict_schema);
  EXPECT_NE(lenient.exit_code, 0) << "the strict schema must refuse file/line on testcase";
  EXPECT_NE(lenient.err.find("'file'"), std::string::npos) << lenient.err;
  auto opts = options();
  opts.junit_strict = true;
  {
    ReportWriter writer(opts, sample::run_info(), masker);
    writer.add_case(sample::failed_case(tmp / "logs"));
    writer.add_case(sample::error_case());
    writer.finish();
  }
  expect_valid_against_schema(tmp / "reports" / "junit.xml", strict_schema);
  EXPECT_EQ(read_file(tmp / "reports" / "junit.xml").find(" file=\"scenarios/bad-token.yaml\" line="),
            std::string::npos);
}

TEST_F(ReportTest, CasesCarryFileAndTheFailingLine) {
  write_fixed_run();
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  auto failed = doc.select_node("//testcase[failure]").node();
  EXPECT_STREQ(failed.attribute("file").value(), "scenarios/bad-token.yaml");
  EXPECT_STREQ(failed.attribute("line").value(), "14");
  auto passed = doc.select_node("//testcase[@name='provision-happy-path [devkit-a]']").node();
  EXPECT_STREQ(passed.attribute("file").value(), "scenarios/happy.yaml");
  EXPECT_TRUE(passed.attribute("line").empty());
}

TEST_F(ReportTest, ErrorAndSkippedCarryTheirReasonAsText) {
  write_fixed_run();
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  std::string error = doc.select_node("//testcase/error").node().text().get();
  EXPECT_NE(error.find("port /dev/ttyUSB1 vanished"), std::string::npos) << error;
  std::string skipped = doc.select_node("//testcase/skipped").node().text().get();
  EXPECT_NE(skipped.find("no eligible board"), std::string::npos) << skipped;
}

TEST_F(ReportTest, TheTextLogIsTheFirstAttachment) {
  write_fixed_run();
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  std::string out =
      doc.select_node("//testcase[@name='provision-happy-path [devkit-a]']/system-out").node().text().get();
  auto first = out.find("[[ATTACHMENT|");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_EQ(out.substr(first, 45), "[[ATTACHMENT|logs/devkit-a/provision-happy-pa") << out;
  EXPECT_EQ(out.substr(first).find(".txt]]"), out.substr(first).find("]]") - 4) << out;
}

TEST_F(ReportTest, FlakyPassesAreCountedAndTheirEarlierLogsLinked) {
  write_fixed_run();
  auto results = boost::json::parse(read_file(tmp / "reports" / "results.json")).as_object();
  EXPECT_EQ(results.at("summary").at("flaky").as_int64(), 1);
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  EXPECT_TRUE(doc.select_node("//testsuite/properties/property[@name='flaky' and @value='1']"));
  std::string out = doc.select_node("//testcase[flakyFailure]/system-out").node().text().get();
  EXPECT_NE(out.find("attempt-1"), std::string::npos) << out;
}

TEST_F(ReportTest, IndexHtmlHoldsEveryCaseAndNoDataCanEndItsScript) {
  {
    ReportWriter writer(options(), sample::run_info(), masker);
    auto c = sample::failed_case(tmp / "logs");
    c.message = "board printed </script><script>alert(1)</script>";
    writer.add_case(c);
    writer.add_case(sample::passed_case("provision-happy-path", "devkit-a", tmp / "logs"));
    writer.finish();
  }
  auto html = read_file(tmp / "reports" / "index.html");
  std::size_t scripts = 0;
  for (auto at = html.find("</script>"); at != std::string::npos; at = html.find("</script>", at + 1))
    ++scripts;
  EXPECT_EQ(scripts, 3u) << "run data, case data, the page's script: data never closes a script";
  EXPECT_NE(html.find("\\u003c/script><script>alert(1)\\u003c/script>"), std::string::npos);
  EXPECT_NE(html.find("\"loc\":\"scenarios/bad-token.yaml:14:5\""), std::string::npos);
  for (const char* fetch : {"src=", "<link", "@import", "url(", "fetch(", "XMLHttpRequest"})
    EXPECT_EQ(html.find(fetch), std::string::npos) << "no network: the page loads nothing (" << fetch << ")";
  EXPECT_EQ(html.find(sample::token), std::string::npos);
}

TEST_F(ReportTest, JunitHasOneFlatSuitePerFileAndUniqueNamesPerBoard) {
  write_fixed_run();
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  auto root = doc.child("testsuites");
  EXPECT_STREQ(root.attribute("tests").value(), "6");
  EXPECT_STREQ(root.attribute("failures").value(), "2");
  EXPECT_STREQ(root.attribute("errors").value(), "1");
  std::set<std::string> files;
  std::set<std::pair<std::string, std::string>> names;
  for (auto suite : root.children("testsuite")) {
    EXPECT_TRUE(files.insert(suite.attribute("file").value()).second) << "two suites for one file";
    EXPECT_FALSE(suite.child("testsuite")) << "nested suite";
    for (auto testcase : suite.children("testcase")) {
      EXPECT_EQ(fs::path(suite.attribute("file").value()).stem().string(),
                testcase.attribute("classname").value());
      EXPECT_TRUE(
          names.emplace(testcase.attribute("classname").value(), testcase.attribute("name").value()).second);
    }
  }
  EXPECT_EQ(files, (std::set<std::string>{"scenarios/bad-token.yaml", "scenarios/happy.yaml",
                                          "scenarios/ncp.yaml"}));
  auto happy = root.find_child_by_attribute("testsuite", "file", "scenarios/happy.yaml");
  EXPECT_STREQ(happy.attribute("tests").value(), "3");
  EXPECT_TRUE(happy.find_child_by_attribute("testcase", "name", "provision-happy-path [devkit-a]"));
  EXPECT_TRUE(happy.find_child_by_attribute("testcase", "name", "provision-happy-path [sim-1]"));
  // Board identity reaches the suite properties; run identity too.
  EXPECT_TRUE(happy.child("properties").find_child_by_attribute("property", "name", "devkit-a.mac"));
  EXPECT_TRUE(happy.child("properties").find_child_by_attribute("property", "name", "run_id"));
}

TEST_F(ReportTest, FailureErrorSkippedAndRetriesAreWhereCiLooksForThem) {
  write_fixed_run();
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  auto failed = doc.select_node("//testcase[@name='provision-bad-token [devkit-a]']").node();
  ASSERT_TRUE(failed);
  std::string message = failed.child("failure").attribute("message").value();
  EXPECT_NE(message.find("no request within 60s"), std::string::npos);
  EXPECT_NE(message.find("scenarios/bad-token.yaml:14:5"), std::string::npos);
  EXPECT_NE(std::string(failed.child("failure").text().get()).find("received: nothing"), std::string::npos);
  EXPECT_STREQ(failed.child("failure").attribute("type").value(), "expect_provision");
  EXPECT_STREQ(failed.attribute("time").value(), "61.700");
  std::string out = failed.child("system-out").text().get();
  EXPECT_NE(out.find("Ready (ping: 42ms)."), std::string::npos);
  EXPECT_NE(out.find("[[ATTACHMENT|logs/devkit-a/provision-bad-token.raw]]"), std::string::npos);
  EXPECT_NE(out.find("[[ATTACHMENT|logs/devkit-a/provision-bad-token.txt]]"), std::string::npos);

  auto error = doc.select_node("//testcase[@name='provision-happy-path [devkit-b]']").node();
  EXPECT_STREQ(error.child("error").attribute("message").value(), "port /dev/ttyUSB1 vanished");
  auto skipped = doc.select_node("//testcase[@name='provision-ncp [any]']").node();
  EXPECT_STREQ(skipped.child("skipped").attribute("message").value(), "no eligible board: needs tags [ncp]");
  auto flaky = doc.select_node("//testcase[@name='provision-happy-path [sim-1]']").node();
  EXPECT_FALSE(flaky.child("failure"));
  EXPECT_STREQ(flaky.child("flakyFailure").attribute("message").value(),
               "expect state RUNNING: timed out after 30s");
  auto rerun = doc.select_node("//testcase[@name='provision-bad-token [devkit-c]']").node();
  EXPECT_TRUE(rerun.child("failure"));
  EXPECT_TRUE(rerun.child("rerunError"));
}

TEST_F(ReportTest, GarbageNulAndAnsiLeaveWellFormedValidXml) {
  std::string garbage = std::string("ets Jun  8 2016 00:22:57\r\n\xFF\xFE\x00\x01\x80\xC3(", 31) +
                        "\x1B[0;32mI (29) boot: ESP-IDF\x1B[0m\r\n" +
                        std::string("\x00\x00\x07\x08\x0B\x0C\x1F", 7) + "\xE2\x82\n";
  auto log = tmp / "logs" / "garbage.txt";
  sample::write_bytes(log, garbage);
  CaseResult c = sample::failed_case({});
  c.scenario = std::string("bad\x1B[31mname", 12);
  c.board = std::string("b\0ard", 5);
  c.message = "got \x1B[31mERROR\x1B[0m and \xC0\xAF";
  c.detail = garbage;
  c.properties.push_back({"mac", std::string("\x00\xFF", 2)});
  c.attachments.text_log = log;
  c.exchanges.push_back(boost::json::string(garbage));
  {
    ReportWriter writer(options(), sample::run_info(), masker);
    writer.add_case(c);
    writer.finish();
  }
  for (const char* name : {"junit.xml", "results.json"}) {
    std::string text = read_file(tmp / "reports" / name);
    EXPECT_TRUE(provhil::is_valid_utf8(text)) << name;
    for (char ch : text) {
      auto u = static_cast<unsigned char>(ch);
      ASSERT_FALSE(u < 0x20 && ch != '\n' && ch != '\t' && ch != '\r')
          << name << " holds control byte " << int(u);
    }
    EXPECT_EQ(text.find("&#27;"), std::string::npos) << name;  // no XML-illegal character references
  }
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  std::string out = doc.select_node("//testcase/system-out").node().text().get();
  EXPECT_NE(out.find("\\x1B[0;32mI (29) boot: ESP-IDF\\x1B[0m"), std::string::npos) << out;
  EXPECT_NE(out.find("\\xFF\\xFE\\x00\\x01"), std::string::npos) << out;
  EXPECT_NE(
      std::string(doc.select_node("//testcase").node().attribute("name").value()).find("bad\\x1B[31mname"),
      std::string::npos);
  EXPECT_NO_THROW((void)boost::json::parse(read_file(tmp / "reports" / "results.json")));
  EXPECT_EQ(read_file(log), garbage) << "the raw attachment is left as it was";
  expect_valid_against_schema(tmp / "reports" / "junit.xml");
}

// Every file the writer puts under the report folder, searched for the run's secrets in every form.
TEST_F(ReportTest, SecretsAreMaskedInEveryReportFile) {
  std::string token = sample::token;
  std::string pass = sample::wifi_pass;
  auto logs = tmp / "logs";  // the runner's own attachments stay outside: their masking is the console's job
  sample::write_bytes(logs / "secret.txt", "[1] token " + token + "\n[2] pass=c0rrect+horse%26battery\n");
  CaseResult c = sample::failed_case(logs);
  c.message = "token " + token + " rejected";
  c.detail = "sent pass \"" + pass + "\" with token " + token;
  c.attachments.text_log = logs / "secret.txt";
  c.properties.push_back({"token", token});
  c.steps.push_back({"send " + pass, "send", {}, Outcome::failed, "echo " + token, sample::at(1), {}});
  c.earlier_attempts.push_back(
      {Outcome::failed, "first: " + token, pass, sample::at(0), {}, logs / "secret.txt", {}});
  c.exchanges.push_back(boost::json::parse(R"({"target":"/provision?token=)" + token + R"(","body":{")" +
                                           token + R"(":"c0rrect horse\u0026battery"}})"));
  RunInfo run = sample::run_info();
  run.properties.push_back({"note", "pass " + pass});
  run.boards.push_back({"devkit-z", {{"token", token}}});
  {
    ReportWriter writer(options(), run, masker);
    writer.add_case(c);
    writer.finish();
  }
  std::size_t scanned = 0;
  for (const auto& entry : fs::recursive_directory_iterator(tmp / "reports")) {
    if (!entry.is_regular_file()) continue;
    ++scanned;
    std::string text = read_file(entry.path());
    for (const auto& secret : masker.secrets()) {
      for (const std::string& form :
           {secret, provhil::percent_encode(secret, true), provhil::percent_encode(secret, false)}) {
        EXPECT_EQ(text.find(form), std::string::npos) << entry.path() << " leaks " << form;
      }
    }
  }
  EXPECT_GE(scanned, 3u);  // junit.xml, results.json, the journal (and the fragment store)
  EXPECT_NE(read_file(tmp / "reports" / "junit.xml").find("[MASKED:token]"), std::string::npos);
}

TEST_F(ReportTest, ShowSecretsLeavesThemInTheReport) {
  masker.set_enabled(false);
  CaseResult c = sample::failed_case({});
  c.message = std::string("token ") + sample::token;
  {
    ReportWriter writer(options(), sample::run_info(), masker);
    writer.add_case(c);
    writer.finish();
  }
  EXPECT_NE(read_file(tmp / "reports" / "junit.xml").find(sample::token), std::string::npos);
}

TEST_F(ReportTest, SystemOutIsABoundedTailOfTheTextLog) {
  std::string log;
  for (int i = 0; i < 50000; ++i)
    log += "line " + std::to_string(i) + " WAIT_CONFIG heartbeat\n";
  sample::write_bytes(tmp / "logs" / "big.txt", log);
  CaseResult c = sample::failed_case({});
  c.attachments.text_log = tmp / "logs" / "big.txt";
  c.detail = std::string(100000, 'd');
  ReportOptions opts = options();
  opts.excerpt_bytes = 1000;
  opts.detail_bytes = 2000;
  {
    ReportWriter writer(opts, sample::run_info(), masker);
    writer.add_case(c);
    writer.finish();
  }
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  std::string out = doc.select_node("//testcase/system-out").node().text().get();
  EXPECT_NE(out.find("line 49999 WAIT_CONFIG heartbeat\n"), std::string::npos);
  EXPECT_EQ(out.find("line 0 "), std::string::npos);
  EXPECT_LT(out.size(), 1000u + 400u);
  EXPECT_NE(out.find(fmt::format("of {} bytes", log.size())), std::string::npos) << out;
  // The excerpt starts at a line start.
  auto body = out.substr(out.find("---\n") + 4);
  EXPECT_EQ(body.rfind("line ", 0), 0u) << body.substr(0, 80);
  std::string failure = doc.select_node("//testcase/failure").node().text().get();
  EXPECT_LT(failure.size(), 2000u + 200u);
  EXPECT_NE(failure.find("bytes cut"), std::string::npos);
}

TEST_F(ReportTest, ManyCasesStayWithinTheJunitBudget) {
  std::string log(64 * 1024, 'x');
  for (std::size_t i = 80; i < log.size(); i += 81)
    log[i] = '\n';
  sample::write_bytes(tmp / "logs" / "case.txt", log);
  constexpr int cases = 400;
  RunInfo run = sample::run_info();
  run.plan.clear();
  for (int i = 0; i < cases; ++i)
    run.plan.push_back({"s" + std::to_string(i), "scenarios/big.yaml", "sim-1", {}});
  ReportOptions opts = options();
  opts.junit_budget_bytes = 800 * 1024;
  {
    ReportWriter writer(opts, run, masker);
    for (int i = 0; i < cases; ++i) {
      CaseResult c = sample::failed_case({});
      c.scenario = "s" + std::to_string(i);
      c.scenario_file = "scenarios/big.yaml";
      c.detail = std::string(20000, 'd');
      c.attachments.text_log = tmp / "logs" / "case.txt";
      writer.add_case(c);
    }
    writer.finish();
  }
  auto size = fs::file_size(tmp / "reports" / "junit.xml");
  EXPECT_LT(size, 800u * 1024u + 64u * 1024u);  // the budget plus suite headers
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  EXPECT_EQ(count_testcases(doc), static_cast<std::size_t>(cases));
  // The last case still got an excerpt: the budget is shared, not used up by the first cases.
  std::string last = doc.select_node("//testcase[@name='s399 [devkit-a]']/system-out").node().text().get();
  EXPECT_NE(last.find("xxxx"), std::string::npos) << last;
}

TEST_F(ReportTest, BoardsFinishingInParallelAreAllRecorded) {
  constexpr int threads = 6;
  constexpr int per_thread = 40;
  {
    ReportWriter writer(options(), sample::run_info(), masker);
    std::vector<std::thread> boards;
    for (int t = 0; t < threads; ++t) {
      boards.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          CaseResult c = sample::passed_case("s" + std::to_string(i), "board-" + std::to_string(t), {});
          c.outcome = i % 3 == 0 ? Outcome::failed : Outcome::passed;
          writer.add_case(c);
        }
      });
    }
    for (auto& board : boards)
      board.join();
    writer.finish();
    EXPECT_EQ(writer.counts().tests, static_cast<std::size_t>(threads * per_thread));
  }
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  EXPECT_EQ(count_testcases(doc), static_cast<std::size_t>(threads * per_thread));
  EXPECT_EQ(doc.child("testsuites").attribute("failures").as_int(), threads * 14);
  auto results = boost::json::parse(read_file(tmp / "reports" / "results.json")).as_object();
  EXPECT_EQ(results.at("cases").as_array().size(), static_cast<std::size_t>(threads * per_thread));
}

TEST_F(ReportTest, SameScenarioTwiceOnOneBoardGetsDistinctNames) {
  {
    ReportWriter writer(options(), sample::run_info(), masker);
    writer.add_case(sample::passed_case("again", "sim-1", {}));
    writer.add_case(sample::passed_case("again", "sim-1", {}));
    writer.finish();
  }
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  EXPECT_TRUE(doc.select_node("//testcase[@name='again [sim-1]']"));
  EXPECT_TRUE(doc.select_node("//testcase[@name='again [sim-1] #2']"));
}

TEST_F(ReportTest, JunitIsValidFromTheStartAndAfterEachFlush) {
  ReportWriter writer(options(), sample::run_info(), masker);
  auto doc = load_xml(writer.junit_path());
  EXPECT_EQ(count_testcases(doc), 0u);
  EXPECT_STREQ(doc.child("testsuites").attribute("tests").value(), "0");
  for (std::size_t i = 1; i <= 3; ++i) {
    writer.add_case(sample::passed_case("s" + std::to_string(i), "sim-1", {}));
    writer.flush();
    EXPECT_EQ(count_testcases(load_xml(writer.junit_path())), i);
  }
  EXPECT_FALSE(fs::exists(writer.results_path())) << "results.json is written by finish()";
  writer.finish();
  EXPECT_TRUE(fs::exists(writer.results_path()));
  EXPECT_THROW(writer.add_case(sample::passed_case("late", "sim-1", {})), ReportError);
}

TEST_F(ReportTest, JunitPathCanBeMoved) {
  ReportOptions opts = options();
  opts.junit_path = tmp / "ci" / "out" / "provhil.xml";
  {
    ReportWriter writer(opts, sample::run_info(), masker);
    writer.add_case(sample::passed_case("s", "sim-1", {}));
    writer.finish();
  }
  EXPECT_EQ(count_testcases(load_xml(tmp / "ci" / "out" / "provhil.xml")), 1u);
  EXPECT_FALSE(fs::exists(tmp / "reports" / "junit.xml"));
  EXPECT_TRUE(fs::exists(tmp / "reports" / "results.json"));
}

TEST_F(ReportTest, UnwritableFolderSaysWhereAndWhy) {
  sample::write_bytes(tmp / "plainfile", "x");
  ReportOptions opts = options();
  opts.output_dir = tmp / "plainfile" / "reports";
  try {
    ReportWriter writer(opts, sample::run_info(), masker);
    FAIL() << "expected ReportError";
  } catch (const ReportError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find((tmp / "plainfile" / "reports").string()), std::string::npos) << what;
    EXPECT_NE(what.find("cannot create"), std::string::npos) << what;
  }
}

TEST_F(ReportTest, CaseDirStaysInsideTheOutputFolder) {
  ReportWriter writer(options(), sample::run_info(), masker);
  EXPECT_EQ(writer.case_dir("devkit-a", "provision-happy-path"),
            tmp / "reports" / "devkit-a" / "provision-happy-path");
  auto evil = writer.case_dir("../..", "a/b\\c");
  EXPECT_EQ(evil.parent_path().parent_path(), tmp / "reports");
  EXPECT_TRUE(fs::is_directory(evil));
  EXPECT_EQ(evil.filename().string().find('/'), std::string::npos);
}

// ---- issue 16 ----------------------------------------------------------------------------------

// Defect 3: a second run on a folder in use is refused, naming the holder (before: both ran and wrote
// one journal and one junit.xml), and so is a rebuild while the run is live.
TEST_F(ReportTest, AReportsFolderInUseIsRefusedNamingTheHolder) {
  ReportWriter first(options(), sample::run_info(), masker);
  try {
    ReportWriter second(options(), sample::run_info(), masker);
    FAIL() << "expected ReportFolderInUse";
  } catch (const ReportFolderInUse& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("in use by another provhil run (pid " + std::to_string(::getpid()) + ")"),
              std::string::npos)
        << what;
  }
  EXPECT_THROW(rebuild_from_journal(options()), ReportFolderInUse);
}

TEST_F(ReportTest, TheFolderIsFreeAgainOnceTheWriterIsGone) {
  { ReportWriter first(options(), sample::run_info(), masker); }
  EXPECT_NO_THROW(ReportWriter(options(), sample::run_info(), masker));
}

// Defect 3: a journal two runs wrote is never merged.
TEST_F(ReportTest, RebuildRefusesAJournalOfTwoRuns) {
  write_fixed_run();
  auto journal = tmp / "reports" / "journal.jsonl";
  auto text = read_file(journal);
  sample::write_bytes(journal, text + text);
  try {
    rebuild_from_journal(options());
    FAIL() << "expected ReportError";
  } catch (const ReportError& e) {
    EXPECT_NE(std::string(e.what()).find("a second run record"), std::string::npos) << e.what();
  }
}

// Defect 14: one damaged line in the middle of a journal costs that line, not the rebuild.
TEST_F(ReportTest, RebuildSkipsAndCountsADamagedLine) {
  write_fixed_run();
  auto journal = tmp / "reports" / "journal.jsonl";
  auto text = read_file(journal);
  // The first case line: cut in half, followed by a line that is JSON but no record.
  auto start = text.rfind('\n', text.find("{\"type\":\"case\"")) + 1;
  auto end = text.find('\n', start);
  text = text.substr(0, start) + text.substr(start, (end - start) / 2) + "\n[1,2]\n" + text.substr(end + 1);
  sample::write_bytes(journal, text);
  std::size_t skipped = 0;
  EXPECT_EQ(rebuild_from_journal(options(), &skipped), 5u);
  EXPECT_EQ(skipped, 2u);
  auto doc = load_xml(tmp / "reports" / "junit.xml");
  EXPECT_EQ(count_testcases(doc), 5u);
}

// Defect 14: names that differ only in what the file system cannot hold get folders of their own.
TEST_F(ReportTest, ScenariosWhoseSafeNamesCollideGetTheirOwnFolders) {
  ReportWriter writer(options(), sample::run_info(), masker);
  auto slash = writer.case_dir("b", "x/y");
  auto underscore = writer.case_dir("b", "x_y");
  EXPECT_NE(slash, underscore);
  EXPECT_EQ(underscore, tmp / "reports" / "b" / "x_y");
  EXPECT_EQ(slash.parent_path(), tmp / "reports" / "b");
}

}  // namespace
