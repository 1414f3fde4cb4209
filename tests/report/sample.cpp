#include "sample.hpp"

#include <fstream>
#include <stdexcept>

#include <boost/json/parse.hpp>

namespace provhil::report::sample {

using namespace std::chrono_literals;

WallTime at(double seconds) {
  // 2024-05-01T12:00:00Z
  auto base = WallTime(std::chrono::seconds(1714564800));
  return base + std::chrono::duration_cast<WallTime::duration>(std::chrono::duration<double>(seconds));
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

RunInfo run_info() {
  RunInfo run;
  run.run_id = "run-20240501-1200";
  run.harness_version = "0.1.0 (test)";
  run.shard = "1/2";
  run.started = at(0);
  run.hostname = "lab-runner-1";
  run.properties = {{"ci_job", "4711"}};
  run.boards = {BoardInfo{"devkit-a", {{"port", "/dev/ttyUSB0"}, {"usb_serial", "0001"}}},
                BoardInfo{"sim-1", {{"port", "/dev/pts/7"}, {"dialect", "edgent-1.2"}}}};
  run.plan = {PlannedCase{"provision-happy-path", "scenarios/happy.yaml", "devkit-a", {}},
              PlannedCase{"provision-happy-path", "scenarios/happy.yaml", "sim-1", {}}};
  return run;
}

namespace {

std::vector<Property> identity(const std::string& board) {
  return {{"board", board},
          {"port", board == "sim-1" ? "/dev/pts/7" : "/dev/ttyUSB0"},
          {"usb_serial", board == "sim-1" ? "" : "0001"},
          {"mac", "24:6F:28:AA:BB:CC"},
          {"firmware_version", "1.2.3"},
          {"dialect", "edgent-1.2"}};
}

std::filesystem::path text_log(const std::filesystem::path& log_dir, const std::string& name,
                               const std::string& text) {
  if (log_dir.empty()) return {};
  auto path = log_dir / (name + ".txt");
  write_bytes(path, text);
  return path;
}

}  // namespace

CaseResult passed_case(const std::string& scenario, const std::string& board,
                       const std::filesystem::path& log_dir) {
  CaseResult c;
  c.scenario = scenario;
  c.scenario_file = "scenarios/happy.yaml";
  c.board = board;
  c.outcome = Outcome::passed;
  c.started = at(1);
  c.duration = 12345ms;
  c.properties = identity(board);
  c.figures = {{"ping_ms", 42, "ms"}, {"provision_latency", 1.5, "s"}};
  c.steps = {
      {"reset hard", "reset", {"scenarios/happy.yaml", 8, 5}, Outcome::passed, "", at(1), 200ms},
      {"expect state WAIT_CONFIG",
       "expect",
       {"scenarios/happy.yaml", 10, 5},
       Outcome::passed,
       "",
       at(1.2),
       1500ms},
  };
  auto dir = log_dir.empty() ? log_dir : log_dir / board;
  c.attachments.text_log =
      text_log(dir, scenario,
               "00:00.000 [0] Blynk v1.2.3\n00:00.120 INIT => WAIT_CONFIG\n"
               "00:01.500 WAIT_CONFIG => CONNECTING_NET\n00:02.000 Ready (ping: 42ms).\n");
  if (!log_dir.empty()) c.attachments.raw_serial_log = dir / (scenario + ".raw");
  c.exchanges.push_back(boost::json::parse(
      R"({"kind":"http","method":"GET","target":"/provision?token=[MASKED:token]","status":200,"ms":12})"));
  return c;
}

CaseResult failed_case(const std::filesystem::path& log_dir) {
  CaseResult c = passed_case("provision-bad-token", "devkit-a", log_dir);
  c.scenario_file = "scenarios/bad-token.yaml";
  c.outcome = Outcome::failed;
  c.message = "expect_provision: no request within 60s";
  c.detail =
      "expected: GET /provision with query token\nreceived: nothing\nlast serial lines:\n"
      "  00:59.000 CONNECTING_CLOUD\n  00:59.500 Connecting to blynk.cloud:443";
  c.failure_location = {"scenarios/bad-token.yaml", 14, 5};
  c.steps.push_back({"expect_provision",
                     "expect_provision",
                     {"scenarios/bad-token.yaml", 14, 5},
                     Outcome::failed,
                     "no request within 60s",
                     at(3),
                     60000ms});
  c.duration = 61700ms;
  return c;
}

CaseResult error_case() {
  CaseResult c;
  c.scenario = "provision-happy-path";
  c.scenario_file = "scenarios/happy.yaml";
  c.board = "devkit-b";
  c.outcome = Outcome::error;
  c.message = "port /dev/ttyUSB1 vanished";
  c.detail = "read: EIO after 3.2 s";
  c.started = at(2);
  c.duration = 3200ms;
  c.properties = {{"port", "/dev/ttyUSB1"}};
  return c;
}

CaseResult skipped_case() {
  CaseResult c;
  c.scenario = "provision-ncp";
  c.scenario_file = "scenarios/ncp.yaml";
  c.board = "any";
  c.outcome = Outcome::skipped;
  c.skip_reason = "no eligible board: needs tags [ncp]";
  return c;
}

CaseResult flaky_case(const std::filesystem::path& log_dir) {
  CaseResult c = passed_case("provision-happy-path", "sim-1", log_dir);
  c.earlier_attempts.push_back({Outcome::failed,
                                "expect state RUNNING: timed out after 30s",
                                "last line: CONNECTING_CLOUD",
                                at(0.5),
                                30000ms,
                                {},
                                {}});
  if (!log_dir.empty()) {
    // The earlier attempt's evidence, kept by the runner under names of its own.
    auto kept = text_log(log_dir / "sim-1" / "attempt-1", "provision-happy-path",
                         "00:00.000 [0] Blynk v1.2.3\n00:30.000 still CONNECTING_CLOUD\n");
    c.earlier_attempts.back().text_log = kept;
    c.earlier_attempts.back().files = {kept};
  }
  return c;
}

CaseResult rerun_failed_case(const std::filesystem::path& log_dir) {
  CaseResult c = failed_case(log_dir);
  c.board = "devkit-c";
  c.earlier_attempts.push_back({Outcome::error, "port vanished", "read: EIO", at(0.1), 100ms, {}, {}});
  return c;
}

}  // namespace provhil::report::sample
