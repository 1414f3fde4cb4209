// Real-log conformance: every log in tests/data/real-logs/ is replayed (as `provhil run` does it for a
// `replay:` board) through the scenario of the same name in tests/conformance/, which expects the log's
// states, events and captures in order on the dialect that fits it. The shipped scenarios that model a
// real behaviour run on the log that shows it, and `dialect: auto` must pick the family that fits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <tuple>

#include <boost/json.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using provhil::test::read_file;
using provhil::test::TempDir;

const fs::path source_dir = PROVHIL_SOURCE_DIR;
const fs::path logs_dir = source_dir / "tests" / "data" / "real-logs";
const fs::path scenarios_dir = source_dir / "tests" / "conformance";

std::vector<std::string> real_logs() {
  std::vector<std::string> stems;
  for (const auto& entry : fs::directory_iterator(logs_dir))
    if (entry.path().extension() == ".log") stems.push_back(entry.path().stem().string());
  std::sort(stems.begin(), stems.end());
  return stems;
}

std::vector<std::string> dialect_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(source_dir / "fixtures" / "dialects"))
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string replay_port(const std::string& stem) {
  // The `#` header of each shared log is a note about it, not board output.
  return "replay:" + (logs_dir / (stem + ".log")).string() + "?strip=comments";
}

// One replay board of the log per dialect (named after it, tagged with the log's name: the scenario
// picks the dialect), plus extra boards given as YAML.
fs::path write_lab(const TempDir& dir, const std::string& stem, const std::string& extra_boards = "") {
  std::string boards;
  for (const auto& dialect : dialect_names())
    boards += "  - { name: " + dialect + ", port: \"" + replay_port(stem) + "\", dialect: " + dialect +
              ", tags: [" + stem + "] }\n";
  return provhil::test::write_file(dir / "lab.yaml",
                                   "boards:\n" + boards + extra_boards +
                                       "dialects: " + (source_dir / "fixtures" / "dialects").string() + "\n");
}

provhil::test::ProcessResult run_provhil(const std::vector<std::string>& args, const TempDir& dir) {
  std::vector<std::string> argv{PROVHIL_BINARY, "run", "--reports", (dir / "reports").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  provhil::test::ProcessOptions options;
  options.working_dir = source_dir.string();
  options.timeout = std::chrono::minutes(2);
  return provhil::test::run_process(argv, options);
}

boost::json::array cases(const TempDir& dir) {
  return boost::json::parse(read_file(dir / "reports" / "results.json")).as_object().at("cases").as_array();
}

std::string test_name(std::string stem) {
  for (auto& c : stem)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return "log_" + stem;
}

class RealLog : public testing::TestWithParam<std::string> {};

TEST_P(RealLog, ReplaysThroughItsScenarioOnTheDialectThatFits) {
  const auto& stem = GetParam();
  auto scenario = scenarios_dir / (stem + ".yaml");
  ASSERT_TRUE(fs::exists(scenario)) << "a real log needs its scenario: " << scenario;
  TempDir dir;
  auto lab = write_lab(dir, stem);
  auto result = run_provhil({scenario.string(), "--lab", lab.string()}, dir);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  auto all = cases(dir);
  ASSERT_EQ(all.size(), 1u) << "the scenario must select one dialect: " << boost::json::serialize(all);
  const auto& c = all.at(0).as_object();
  EXPECT_EQ(c.at("outcome").as_string(), "passed") << boost::json::serialize(c);
  std::size_t expectations = 0;
  for (const auto& step : c.at("steps").as_array())
    if (step.at("outcome").as_string() == "passed") ++expectations;
  // The conformance table (docs and the note quote it).
  std::cout << "[ TABLE    ] " << stem << ".log | " << c.at("properties").at("dialect").as_string() << " | "
            << expectations << " of " << c.at("steps").as_array().size() << " steps passed\n";
}

INSTANTIATE_TEST_SUITE_P(Conformance, RealLog, testing::ValuesIn(real_logs()),
                         [](const testing::TestParamInfo<std::string>& param) {
                           return test_name(param.param);
                         });

TEST(RealLogs, EveryConformanceScenarioHasItsLog) {
  for (const auto& entry : fs::directory_iterator(scenarios_dir)) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_TRUE(fs::exists(logs_dir / (entry.path().stem().string() + ".log"))) << entry.path();
  }
}

// The shipped scenarios for real behaviours the simulator now models pass on the log that shows them.
TEST(ShippedScenarioOnARealLog, OtaRefusedOnLog05) {
  TempDir dir;
  auto stem = std::string("05-esp32-ota-from-wait-config-http-error-v1.0.1");
  auto lab = write_lab(dir, stem,
                       "  - { name: real-05, port: \"" + replay_port(stem) +
                           "\", dialect: edgent-1.1, tags: [ota-refused] }\n");
  auto result = run_provhil({"scenarios/ota-refused.yaml", "--lab", lab.string()}, dir);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(cases(dir).at(0).at("outcome").as_string(), "passed");
}

TEST(ShippedScenarioOnARealLog, ButtonResetOnLog03) {
  TempDir dir;
  auto stem = std::string("03-huzzah32-button-reset-config");
  auto lab = write_lab(dir, stem,
                       "  - { name: real-03, port: \"" + replay_port(stem) +
                           "\", dialect: edgent-1.1, tags: [button-reset] }\n");
  auto result = run_provhil({"scenarios/button-reset.yaml", "--lab", lab.string()}, dir);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(cases(dir).at(0).at("outcome").as_string(), "passed");
}

// The lab a newcomer runs (docs/serial-console.md): one replay board per real log.
TEST(RealLogs, TheShippedReplayLabRunsEveryConformanceScenario) {
  TempDir dir;
  auto result = run_provhil({"--lab", "fixtures/real-logs.yaml", "tests/conformance"}, dir);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  auto all = cases(dir);
  EXPECT_EQ(all.size(), real_logs().size());
  for (const auto& c : all)
    EXPECT_EQ(c.at("outcome").as_string(), "passed") << boost::json::serialize(c);
}

// `dialect: auto` picks the family from the first line that tells it, and says so.
TEST(AutoDialect, PicksTheFamilyOfEachRealLog) {
  const std::vector<std::tuple<std::string, std::string, std::string>> expected = {
      {"01-esp8266-esp01-provision-to-cloud-v1.1.0", "edgent-1.1", "CONNECTING_CLOUD"},
      {"03-huzzah32-button-reset-config", "edgent-1.1", "WAIT_CONFIG"},
      {"05-esp32-ota-from-wait-config-http-error-v1.0.1", "edgent-1.1", "ERROR"},
      {"10-espidf-edgent-component-running", "edgent-esp-idf", "RUNNING"},
  };
  for (const auto& [stem, dialect, state] : expected) {
    TempDir dir;
    auto lab = provhil::test::write_file(
        dir / "lab.yaml",
        "boards:\n  - { name: auto-1, port: \"" + replay_port(stem) +
            "\", dialect: auto }\ndialects: " + (source_dir / "fixtures" / "dialects").string() + "\n");
    auto scenario = provhil::test::write_file(
        dir / "auto.yaml", "scenario: auto\nsteps:\n  - reset: hard\n  - expect: { state: " + state + " }\n");
    auto result = run_provhil({scenario.string(), "--lab", lab.string()}, dir);
    ASSERT_EQ(result.exit_code, 0) << stem << "\n" << describe(result);
    auto all = cases(dir);
    const auto& c = all.at(0).as_object();
    EXPECT_EQ(c.at("properties").at("dialect").as_string(), dialect + " (auto)") << stem;
    auto log = read_file(dir / "reports" / "auto-1" / "auto" / "auto.auto-1.serial.log");
    EXPECT_NE(log.find("dialect auto: picked " + dialect), std::string::npos) << log;
  }
}

}  // namespace
