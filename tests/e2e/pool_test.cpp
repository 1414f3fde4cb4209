// Board pools (issue 14), end to end: the real provhil binary hands `run_on: any` scenarios to the next
// free simulated board. Each scenario runs once and every board takes part; a board whose simulator is
// killed mid-run loses no scenario (its running case is its error, the rest go to the other boards);
// the shards of a pooled suite cover each unit of work exactly once. Every wait is gated on files the
// scenarios write (a barrier in an `exec` step), never on how long something takes.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using provhil::test::read_file;
using provhil::test::run_process;
using provhil::test::TempDir;
using provhil::test::write_file;

const fs::path source_dir = PROVHIL_SOURCE_DIR;

// Simulated boards tagged `pool` (and any extra tags per board), at time scale 0 in the runs below.
fs::path write_pool_lab(const TempDir& dir, const std::vector<std::pair<std::string, std::string>>& boards) {
  std::string text = "boards:\n";
  for (const auto& [name, tags] : boards) {
    text += "  - name: " + name +
            "\n    sim: { profile: " + (source_dir / "fixtures/sim/esp32.yaml").string() +
            " }\n    dialect: edgent-1.2\n    tags: [pool" + (tags.empty() ? "" : ", " + tags) + "]\n";
  }
  text +=
      "lab:\n  wifi: { ssid: LabNet, pass: labpass123 }\n"
      "interceptor: { listen: \"127.0.0.1:0\", advertise: 127.0.0.1, mode: mock }\n"
      "dialects: " +
      (source_dir / "fixtures/dialects").string() + "\n";
  return write_file(dir / "lab.yaml", text);
}

// A pooled scenario: the board boots into config mode, then `hold` (a shell command) runs with
// ${board.name} and the scenario's name known, then `after` (more steps) follows.
fs::path write_pooled_scenario(const fs::path& folder, const std::string& name, const std::string& hold,
                               const std::string& after = {}) {
  return write_file(folder / (name + ".yaml"), "scenario: " + name +
                                                   "\n"
                                                   "boards: { tags: [pool], run_on: any }\n"
                                                   "timeout: 110s\n"
                                                   "steps:\n"
                                                   "  - reset: hard\n"
                                                   "  - expect: { state: WAIT_CONFIG, within: 30s }\n"
                                                   "  - name: hold the board\n"
                                                   "    exec:\n"
                                                   "      command: '" +
                                                   hold +
                                                   "'\n"
                                                   "      within: 100s\n" +
                                                   after);
}

provhil::test::ProcessResult run_provhil(const TempDir& dir, std::vector<std::string> args,
                                         std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv{PROVHIL_BINARY,     "run", "--reports", (dir / "reports").string(),
                                "--sim-time-scale", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  provhil::test::ProcessOptions options;
  options.timeout = std::chrono::minutes(3);
  options.env = std::move(env);
  return run_process(argv, options);
}

boost::json::object results_json(const fs::path& reports) {
  return boost::json::parse(read_file(reports / "results.json")).as_object();
}

std::string str(const boost::json::value& v) {
  return std::string(v.as_string());
}

std::set<std::string> files_in(const fs::path& folder) {
  std::set<std::string> names;
  if (!fs::exists(folder)) return names;
  for (const auto& entry : fs::directory_iterator(folder))
    names.insert(entry.path().filename().string());
  return names;
}

TEST(BoardPool, EachScenarioRunsOnceAndEveryBoardOfThePoolIsUsed) {
  TempDir dir;
  const std::vector<std::string> boards{"p-a", "p-b", "p-c"};
  auto lab = write_pool_lab(dir, {{"p-a", ""}, {"p-b", ""}, {"p-c", ""}});
  auto gate = dir / "gate";
  fs::create_directories(gate);
  // A barrier: no scenario gets past its hold until three are held at once, which takes three boards
  // (a board runs one scenario at a time). With fewer boards in use the holds run out and fail.
  std::set<std::string> scenarios;
  for (int i = 1; i <= 6; ++i) {
    std::string name = "pool-s" + std::to_string(i);
    scenarios.insert(name);
    write_pooled_scenario(
        dir / "scenarios", name,
        "touch \"$PROVHIL_POOL_GATE/${board.name}." + name +
            "\"; until [ $(ls \"$PROVHIL_POOL_GATE\" | wc -l) -ge 3 ]; do sleep 0.05; done");
  }
  auto result = run_provhil(dir, {"--lab", lab.string(), (dir / "scenarios").string()},
                            {{"PROVHIL_POOL_GATE", gate.string()}});
  ASSERT_EQ(result.exit_code, 0) << describe(result);

  auto results = results_json(dir / "reports");
  std::map<std::string, int> runs;
  std::set<std::string> used;
  std::set<std::string> held;  // the gate's files: "<board>.<scenario>", written by the case itself
  for (const auto& value : results.at("cases").as_array()) {
    const auto& c = value.as_object();
    auto scenario = str(c.at("scenario"));
    auto board = str(c.at("board"));
    ++runs[scenario];
    used.insert(board);
    held.insert(board + "." + scenario);
    EXPECT_EQ(str(c.at("outcome")), "passed") << boost::json::serialize(c);
    // The reports name the board that ran it: the case's name, its evidence folder.
    EXPECT_EQ(str(c.at("name")), scenario + " [" + board + "]");
    auto text_log = str(c.at("attachments").at("text_log"));
    EXPECT_NE(text_log.find(board + "/" + scenario + "/"), std::string::npos) << text_log;
    EXPECT_TRUE(fs::exists(dir / "reports" / board / scenario)) << board << "/" << scenario;
  }
  for (const auto& name : scenarios)
    EXPECT_EQ(runs[name], 1) << name << " runs once";
  EXPECT_EQ(runs.size(), scenarios.size());
  EXPECT_EQ(used, std::set<std::string>(boards.begin(), boards.end())) << "every board takes part";
  EXPECT_EQ(files_in(gate), held) << "the board each case names is the one whose ${board.name} it saw";

  // The plan: one unit per scenario, naming its pool.
  const auto& plan = results.at("plan").as_array();
  ASSERT_EQ(plan.size(), scenarios.size());
  for (const auto& entry : plan) {
    EXPECT_EQ(str(entry.at("board")), "");
    std::vector<std::string> pool;
    for (const auto& b : entry.at("pool").as_array())
      pool.push_back(str(b));
    EXPECT_EQ(pool, boards);
  }
  auto junit = read_file(dir / "reports" / "junit.xml");
  EXPECT_NE(junit.find("tests=\"6\""), std::string::npos) << junit.substr(0, 600);
  auto xmllint = run_process({"xmllint", "--noout", "--schema",
                              (source_dir / "harness/report/schema/junit.xsd").string(),
                              (dir / "reports" / "junit.xml").string()});
  EXPECT_EQ(xmllint.exit_code, 0) << xmllint.err;
}

// The pid of the simulator provhil started for `board` (its --state file is named after the board).
std::optional<pid_t> simulator_of(const std::string& board) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (std::size_t at = 0; at < cmdline.size();) {
      auto end = cmdline.find('\0', at);
      if (end == std::string::npos) end = cmdline.size();
      args.push_back(cmdline.substr(at, end - at));
      at = end + 1;
    }
    if (args.size() < 2 || args[1] != "sim") continue;
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--state" && fs::path(args[i + 1]).filename() == board + ".state")
        return static_cast<pid_t>(std::stoi(name));
  }
  return std::nullopt;
}

TEST(BoardPool, ABoardThatVanishesMidRunLosesNoScenario) {
  TempDir dir;
  auto lab = write_pool_lab(dir, {{"p-a", ""}, {"p-b", ""}, {"doomed", ""}});
  auto gate = dir / "gate";
  fs::create_directories(gate);
  auto go = dir / "go";
  // Every scenario holds its board until the test lets go; then the board reboots and must come back.
  std::set<std::string> scenarios;
  for (int i = 1; i <= 6; ++i) {
    std::string name = "vanish-s" + std::to_string(i);
    scenarios.insert(name);
    write_pooled_scenario(dir / "scenarios", name,
                          "touch \"$PROVHIL_POOL_GATE/${board.name}." + name +
                              "\"; until [ -e \"$PROVHIL_POOL_GO\" ]; do sleep 0.05; done",
                          "  - reset: soft\n"
                          "  - expect: { state: WAIT_CONFIG, within: 30s }\n");
  }
  auto run = std::async(std::launch::async, [&] {
    return run_provhil(dir, {"--lab", lab.string(), (dir / "scenarios").string()},
                       {{"PROVHIL_POOL_GATE", gate.string()}, {"PROVHIL_POOL_GO", go.string()}});
  });
  // Two boards can hold two scenarios only: the doomed board gets one of the six.
  std::string doomed_case;
  auto deadline = Clock::now() + std::chrono::seconds(90);
  while (doomed_case.empty() && Clock::now() < deadline &&
         run.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    for (const auto& file : files_in(gate))
      if (file.rfind("doomed.", 0) == 0) doomed_case = file.substr(7);
  }
  std::optional<pid_t> sim = doomed_case.empty() ? std::nullopt : simulator_of("doomed");
  if (sim) ::kill(*sim, SIGKILL);
  write_file(go, "go\n");  // let go even when the test failed, so that the run ends
  auto result = run.get();
  ASSERT_FALSE(doomed_case.empty()) << "the doomed board never held a scenario\n" << describe(result);
  ASSERT_TRUE(sim) << "no simulator process for the doomed board";

  EXPECT_EQ(result.exit_code, 3) << "the vanished port is the lab's trouble\n" << describe(result);
  auto results = results_json(dir / "reports");
  std::map<std::string, int> runs;
  for (const auto& value : results.at("cases").as_array()) {
    const auto& c = value.as_object();
    auto scenario = str(c.at("scenario"));
    auto board = str(c.at("board"));
    ++runs[scenario];
    if (scenario == doomed_case) {
      // The case the board was running when it vanished: its error, on that board, not run again.
      EXPECT_EQ(board, "doomed");
      EXPECT_EQ(str(c.at("outcome")), "error") << boost::json::serialize(c);
      EXPECT_EQ(str(c.at("reason_code")), "port") << boost::json::serialize(c);
    } else {
      EXPECT_NE(board, "doomed") << "the vanished board took more work: " << boost::json::serialize(c);
      EXPECT_EQ(str(c.at("outcome")), "passed") << boost::json::serialize(c);
    }
  }
  for (const auto& name : scenarios)
    EXPECT_EQ(runs[name], 1) << name << ": every scenario has one result";
  EXPECT_EQ(runs.size(), scenarios.size());
}

// `--shard K/N` over a suite with pooled and per-board scenarios: the units (a pooled scenario is one)
// of all shards together are the plan's, each exactly once, listed and run.
TEST(BoardPool, ShardsCoverEveryUnitOfWorkExactlyOnce) {
  TempDir dir;
  auto lab = write_pool_lab(dir, {{"p-a", ""}, {"p-b", ""}});
  for (int i = 1; i <= 4; ++i) {
    std::string name = "shard-any-" + std::to_string(i);
    write_pooled_scenario(dir / "scenarios", name, "true");
  }
  // One scenario on each board of the pool: two units.
  write_file(dir / "scenarios" / "shard-each.yaml",
             "scenario: shard-each\nboards: { tags: [pool] }\nsteps:\n  - reset: hard\n"
             "  - expect: { state: WAIT_CONFIG, within: 30s }\n");
  auto list = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--lab", lab.string(), "--list", (dir / "scenarios").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto listed = run_provhil(dir, args);
    EXPECT_EQ(listed.exit_code, 0) << describe(listed);
    std::multiset<std::string> lines;
    std::size_t at = 0;
    while (at < listed.out.size()) {
      auto end = listed.out.find('\n', at);
      if (end == std::string::npos) end = listed.out.size();
      if (end > at) lines.insert(listed.out.substr(at, end - at));
      at = end + 1;
    }
    return lines;
  };
  auto whole = list({});
  ASSERT_EQ(whole.size(), 6u) << "4 pooled units and shard-each on 2 boards";
  EXPECT_EQ(
      std::count_if(whole.begin(), whole.end(),
                    [](const std::string& l) { return l.find("[any of p-a, p-b]") != std::string::npos; }),
      4);
  for (int count : {2, 3, 4}) {
    std::multiset<std::string> together;
    for (int index = 1; index <= count; ++index) {
      auto shard = list({"--shard", std::to_string(index) + "/" + std::to_string(count)});
      together.insert(shard.begin(), shard.end());
    }
    EXPECT_EQ(together, whole) << "shards " << count;
  }

  // Run for real in two shards: each pooled scenario once in all, shard-each once per board.
  std::map<std::string, int> runs;
  for (int index = 1; index <= 2; ++index) {
    TempDir shard_dir;
    auto result = run_provhil(shard_dir, {"--lab", lab.string(), "--shard", std::to_string(index) + "/2",
                                          (dir / "scenarios").string()});
    ASSERT_EQ(result.exit_code, 0) << describe(result);
    auto results = results_json(shard_dir / "reports");
    for (const auto& value : results.at("cases").as_array()) {
      const auto& c = value.as_object();
      EXPECT_EQ(str(c.at("outcome")), "passed") << boost::json::serialize(c);
      auto scenario = str(c.at("scenario"));
      ++runs[scenario == "shard-each" ? scenario + " [" + str(c.at("board")) + "]" : scenario];
    }
  }
  EXPECT_EQ(runs, (std::map<std::string, int>{{"shard-any-1", 1},
                                              {"shard-any-2", 1},
                                              {"shard-any-3", 1},
                                              {"shard-any-4", 1},
                                              {"shard-each [p-a]", 1},
                                              {"shard-each [p-b]", 1}}));
}

}  // namespace
