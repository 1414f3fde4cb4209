#include <gtest/gtest.h>

#include <boost/regex.hpp>

#include "scenario/loader.hpp"
#include "scenario/variables.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace provhil::scenario {
namespace {

using namespace std::chrono_literals;

TEST(ScenarioDuration, ParsesUnitsAndRejectsTheRest) {
  EXPECT_EQ(parse_duration("250ms"), Duration(250));
  EXPECT_EQ(parse_duration("10s"), Duration(10'000));
  EXPECT_EQ(parse_duration("1.5s"), Duration(1'500));
  EXPECT_EQ(parse_duration("2m"), Duration(120'000));
  EXPECT_EQ(parse_duration("1h"), Duration(3'600'000));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
  for (const char* bad : {"10", "s", "10 s", "10sec", "1.5.2s", ".5s", "-1s", "", "10S", "9999h"})
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
}

const char* full_scenario = R"(
scenario: full
description: every step kind
tags: [a, b]
boards: { tags: [esp32], dialects: [edgent-1.2] }
timeout: 90s
vars: { template_id: TMPL8sRFwcfqL }
setup:
  - reset: hard
steps:
  - send: { text: "config erase", newline: false }
  - expect: { any_of: [{ state: WAIT_CONFIG }, "AP URL"], must_not: { event: guru_meditation }, within: 3s }
  - wait: 500ms
  - capture: { line: 'mac:(?<mac>\S+) ip:(?<ip>\S+)', name: mac and ip }
  - ap_config:
      board_info: { tmpl_id: "${template_id}", last_error: { one_of: ["0", "703"] } }
      wifi_scan: { contains: [LabNet] }
      config: { blynk: "${board.token}", ssid: LabNet }
      expect_status: error
  - expect_provision:
      count: { at_least: 2 }
      query: { ver: { matches: '^\d+$' }, build: { absent: true }, type: { one_of: [MCU, NCP] } }
      headers: { Host: { present: true } }
      checks: { token_format: off }
      respond: { status: 400, headers: { X-A: b }, body: { error: { message: "Invalid token.", n: 3, q: "7" } } }
      answers: [{ request: 1, redirect: "https://fra1.blynk.cloud/x" }]
      faults: [{ request: 2, fault: delay, delay: 1s, delay_max: 2s, seed: 7 }, { fault: tls_alert }]
  - expect_login: { info: { tmpl: TMPL8sRFwcfqL }, answer: invalid_token }
  - exec: { command: "echo ${mac}", expect_exit: 3, within: 2s }
  - repeat: { times: 2, steps: [{ send: a }, { retry: { attempts: 3, delay: 1s, steps: [{ wait: 1s }] } }] }
teardown:
  - reset: soft
)";

TEST(ScenarioLoader, LoadsEveryStepKindIntoTheModel) {
  auto loaded = parse_scenario(full_scenario, "full.yaml");
  for (const auto& d : loaded.diagnostics)
    ADD_FAILURE() << d.to_string();
  ASSERT_TRUE(loaded.ok());
  const Scenario& s = *loaded.value;
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.boards.tags, std::vector<std::string>{"esp32"});
  EXPECT_EQ(s.boards.dialects, std::vector<std::string>{"edgent-1.2"});
  EXPECT_EQ(s.timeout, 90s);
  ASSERT_EQ(s.vars.size(), 1u);
  EXPECT_EQ(s.vars[0].name, "template_id");
  ASSERT_EQ(s.setup.size(), 1u);
  ASSERT_EQ(s.teardown.size(), 1u);
  EXPECT_EQ(std::get<ResetStep>(s.teardown[0].body).mode, ResetStep::Mode::soft);
  ASSERT_EQ(s.steps.size(), 9u);

  const auto& send = std::get<SendStep>(s.steps[0].body);
  EXPECT_EQ(send.text, "config erase");
  EXPECT_FALSE(send.newline);
  EXPECT_EQ(s.steps[0].where.line, 11);
  EXPECT_EQ(s.steps[0].where.column, 5);
  EXPECT_EQ(s.steps[0].kind(), "send");

  const auto& expect = std::get<ExpectStep>(s.steps[1].body);
  ASSERT_EQ(expect.any_of.size(), 2u);
  EXPECT_EQ(expect.any_of[0].kind, Matcher::Kind::state);
  EXPECT_EQ(expect.any_of[1].kind, Matcher::Kind::literal);
  ASSERT_EQ(expect.must_not.size(), 1u);
  EXPECT_EQ(expect.must_not[0].kind, Matcher::Kind::event);
  EXPECT_EQ(s.steps[1].within, Duration(3000));

  EXPECT_EQ(std::get<WaitStep>(s.steps[2].body).duration, 500ms);
  EXPECT_EQ(default_within(s.steps[2]), 500ms);

  const auto& capture = std::get<CaptureStep>(s.steps[3].body);
  EXPECT_EQ(capture.names, (std::vector<std::string>{"mac", "ip"}));
  EXPECT_EQ(s.steps[3].name, "mac and ip");
  EXPECT_EQ(s.steps[3].label(), "mac and ip");
  EXPECT_EQ(default_within(s.steps[3]), 10s);

  const auto& ap = std::get<ApConfigStep>(s.steps[4].body);
  ASSERT_EQ(ap.board_info.size(), 2u);
  EXPECT_EQ(ap.board_info[1].check.kind, ValueCheck::Kind::one_of);
  EXPECT_TRUE(ap.wifi_scan);
  EXPECT_EQ(ap.scan_contains, std::vector<std::string>{"LabNet"});
  ASSERT_EQ(ap.config.size(), 2u);
  EXPECT_EQ(ap.config[0], (std::pair<std::string, std::string>{"blynk", "${board.token}"}));
  EXPECT_EQ(ap.expect_status, "error");
  ASSERT_EQ(s.steps[4].templates.size(), 2u);  // ${template_id} and ${board.token}

  const auto& provision = std::get<ExpectProvisionStep>(s.steps[5].body);
  EXPECT_EQ(provision.count.kind, CountRule::Kind::at_least);
  EXPECT_EQ(provision.count.count, 2);
  ASSERT_EQ(provision.query.size(), 3u);
  EXPECT_EQ(provision.query[0].check.kind, ValueCheck::Kind::matches);
  EXPECT_EQ(provision.query[1].check.kind, ValueCheck::Kind::absent);
  EXPECT_EQ(provision.query[2].check.values, (std::vector<std::string>{"MCU", "NCP"}));
  EXPECT_EQ(provision.headers[0].check.kind, ValueCheck::Kind::present);
  EXPECT_EQ(provision.builtin_checks.at(BuiltinCheck::token_format), false);
  const auto& response = std::get<Response>(provision.answer);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body, R"({"error":{"message":"Invalid token.","n":3,"q":"7"}})");
  ASSERT_EQ(provision.nth_answers.size(), 1u);
  EXPECT_EQ(provision.nth_answers[0].first, 1);
  EXPECT_EQ(std::get<Redirect>(provision.nth_answers[0].second).status, 308);
  ASSERT_EQ(provision.faults.size(), 2u);
  EXPECT_EQ(provision.faults[0].kind, Fault::Kind{intercept::Fault::Kind::delay});
  EXPECT_EQ(provision.faults[0].request, 2);
  EXPECT_EQ(provision.faults[0].delay_max, Duration(2000));
  EXPECT_EQ(provision.faults[0].seed, 7u);
  EXPECT_TRUE(provision.faults[1].connection_fault());
  EXPECT_FALSE(provision.faults[0].connection_fault());
  EXPECT_EQ(provision.token, "${board.token}");

  const auto& login = std::get<ExpectLoginStep>(s.steps[6].body);
  EXPECT_FALSE(login.accept);
  EXPECT_EQ(login.info[0].check.value, "TMPL8sRFwcfqL");

  const auto& exec = std::get<ExecStep>(s.steps[7].body);
  EXPECT_EQ(exec.command, "echo ${mac}");
  EXPECT_EQ(exec.expect_exit, 3);
  EXPECT_EQ(s.steps[7].within, Duration(2000));

  const auto& repeat = std::get<RepeatStep>(s.steps[8].body);
  EXPECT_EQ(repeat.times, 2);
  ASSERT_EQ(repeat.steps.size(), 2u);
  const auto& retry = std::get<RetryStep>(repeat.steps[1].body);
  EXPECT_EQ(retry.attempts, 3);
  EXPECT_EQ(retry.delay, 1s);
  EXPECT_EQ(retry.steps.size(), 1u);
}

// A copy of the shipped inventory and dialects in a temp folder, with stand-in simulator profiles,
// so the test checks the shipped files without depending on the simulator's own files.
struct ShippedLab {
  test::TempDir dir;
  std::filesystem::path inventory;
  ShippedLab() {
    auto src = test::source_dir() / "fixtures";
    inventory = test::write_file(dir / "boards.yaml", test::read_file(src / "boards.yaml"));
    std::filesystem::create_directories(dir / "dialects");
    for (const auto& entry : std::filesystem::directory_iterator(src / "dialects"))
      std::filesystem::copy_file(entry.path(), dir / "dialects" / entry.path().filename());
    for (const auto& entry : std::filesystem::directory_iterator(src / "sim"))
      test::write_file(dir / "sim" / entry.path().filename(), "# stand-in\n");
  }
};

TEST(ScenarioLoader, ShippedScenariosValidateAgainstTheShippedInventory) {
  ShippedLab lab;
  auto report = validate_paths({test::source_dir() / "scenarios"}, lab.inventory);
  for (const auto& d : report.diagnostics)
    ADD_FAILURE() << d.to_string();
  EXPECT_EQ(report.scenarios, 11);
  EXPECT_TRUE(report.ok());
}

TEST(ScenarioLoader, ShippedDialectsMatchTheReferenceLogLines) {
  auto loaded = load_dialects(test::source_dir() / "fixtures/dialects");
  for (const auto& d : loaded.diagnostics)
    ADD_FAILURE() << d.to_string();
  ASSERT_TRUE(loaded.ok());
  const DialectSet& set = *loaded.value;
  ASSERT_TRUE(set.find("edgent-1.1"));
  ASSERT_TRUE(set.find("edgent-1.2"));
  ASSERT_TRUE(set.find("edgent-state"));
  VariableContext context;
  // The text of `group` (or of the whole match) when the line matches.
  auto search = [&](const char* dialect, Matcher::Kind kind, const char* name, const std::string& line,
                    const char* group = nullptr) -> std::optional<std::string> {
    Matcher m{kind, name, {}};
    boost::regex re(matcher_regex(m, *set.find(dialect), context), boost::regex::perl);
    boost::smatch match;
    if (!boost::regex_search(line, match, re)) return std::nullopt;
    return group ? match[group].str() : match.str();
  };
  using K = Matcher::Kind;
  for (const char* d : {"edgent-1.1", "edgent-1.2"}) {
    EXPECT_TRUE(search(d, K::state, "WAIT_CONFIG", ">[1234] INIT => WAIT_CONFIG"));
    EXPECT_TRUE(search(d, K::state, "RUNNING", "[5678] CONNECTING_CLOUD => RUNNING\r"));
    EXPECT_FALSE(search(d, K::state, "RUNNING", "[5678] RUNNING => CONNECTING_NET"));
    EXPECT_FALSE(search(d, K::state, "CONNECTING_NET", "[10] CONNECTING_NET => CONNECTING_CLOUD"));
    EXPECT_EQ(search(d, K::event, "ready", "[9012] Ready (ping: 37ms).", "ping_ms"), "37");
    EXPECT_EQ(search(d, K::event, "cloud_target", "[100] Blynk cloud: abc @ 127.0.0.1:44321", "port"),
              "44321");
    EXPECT_TRUE(search(d, K::event, "invalid_token", "[2] Invalid auth token"));
    EXPECT_TRUE(search(d, K::event, "guru_meditation",
                       "Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled."));
    EXPECT_TRUE(search(d, K::event, "config_stored", "[3] Configuration stored to flash"));
    EXPECT_FALSE(search(d, K::event, "cloud_connecting", "[3] Connecting to WiFi: LabNet"));
  }
  EXPECT_TRUE(search("edgent-1.2", K::event, "firmware", " Firmware:  0.1.0 (build Oct  1 2023 12:00:00)"));
  EXPECT_EQ(search("edgent-1.1", K::event, "mac", "[40] MAC:      24:0A:C4:00:00:01", "mac"),
            "24:0A:C4:00:00:01");
  EXPECT_TRUE(search("edgent-state", K::state, "RUNNING", "[77] State: RUNNING"));
  EXPECT_FALSE(search("edgent-state", K::state, "RUNNING", "[77] CONNECTING_CLOUD => RUNNING"));
  // The same scenario step means the same thing on every family.
  for (const auto& [name, dialect] : set.by_name)
    for (const char* state : {"WAIT_CONFIG", "CONFIGURING", "CONNECTING_NET", "CONNECTING_CLOUD", "RUNNING"})
      EXPECT_TRUE(dialect.states.count(state)) << name << " lacks " << state;
}

// Lines real boards printed (tests/data/real-logs/), read by the dialect that fits them (issue 12).
TEST(ScenarioLoader, ShippedDialectsReadRealBoardLines) {
  auto loaded = load_dialects(test::source_dir() / "fixtures/dialects");
  ASSERT_TRUE(loaded.ok());
  const auto& set = *loaded.value;
  VariableContext context;
  auto search = [&](const char* dialect, Matcher::Kind kind, const char* name, const std::string& line,
                    const char* group = nullptr) -> std::optional<std::string> {
    Matcher m{kind, name, {}};
    boost::regex re(matcher_regex(m, *set.find(dialect), context), boost::regex::perl);
    boost::smatch match;
    if (!boost::regex_search(line, match, re)) return std::nullopt;
    return group ? match[group].str() : match.str();
  };
  using K = Matcher::Kind;
  // The ESP-IDF component's wording and the older one, in both State dialects.
  for (const char* d : {"edgent-state", "edgent-esp-idf"}) {
    EXPECT_TRUE(search(d, K::state, "CONNECTING_NET", "I (771) edgent.c: State: IDLE => CONNECTING_NET"))
        << d;
    EXPECT_TRUE(search(d, K::state, "RUNNING", "I (2981) edgent.c: State: CONNECTING_CLOUD => RUNNING")) << d;
    EXPECT_TRUE(search(d, K::state, "CONNECTING_CLOUD",
                       "I (1931) edgent.c: State transition: CONNECTING_NET => CONNECTING_CLOUD"))
        << d;
    EXPECT_FALSE(search(d, K::state, "IDLE", "I (771) edgent.c: State: IDLE => CONNECTING_NET")) << d;
  }
  EXPECT_TRUE(
      search("edgent-state", K::state, "RUNNING", "[77] State transition: CONNECTING_CLOUD => RUNNING"));
  EXPECT_FALSE(
      search("edgent-esp-idf", K::state, "RUNNING", "I (2981) example: State change event received"));
  EXPECT_EQ(search("edgent-esp-idf", K::event, "initialized",
                   "I (771) edgent.c: Blynk.Edgent initialized (device: Blynk Demo-N1A9)", "device_name"),
            "Blynk Demo-N1A9");
  // 1.2 reads a stamped device block too; 1.1 keeps the chip out of the AP name.
  EXPECT_EQ(search("edgent-1.2", K::event, "firmware", "[4007] Firmware: 0.1.0 (build Mar 5 2022 10:44:50)",
                   "firmware_version"),
            "0.1.0");
  EXPECT_EQ(search("edgent-1.1", K::event, "chip", "[408] Device:   ESP8266 @ 80MHz", "chip"),
            "ESP8266 @ 80MHz");
  EXPECT_FALSE(search("edgent-1.1", K::event, "ap_ssid", "[408] Device:   ESP8266 @ 80MHz"));
  for (const char* d : {"edgent-1.1", "edgent-1.2", "edgent-state"}) {
    EXPECT_EQ(search(d, K::event, "wifi_connecting", "[69505] Connecting to WiFi: \"hotchs\"", "ssid"),
              "hotchs")
        << d;
    EXPECT_EQ(search(d, K::event, "wifi_connecting", "+[35262] Connecting to WiFi: XXXXX", "ssid"), "XXXXX")
        << d;
    EXPECT_EQ(search(d, K::event, "last_error", "[99506] Last error code: 701", "error_code"), "701") << d;
    EXPECT_TRUE(search(d, K::state, "OTA_UPGRADE", "[6849] WAIT_CONFIG => OTA_UPGRADE") ||
                std::string(d) == "edgent-state")
        << d;
    EXPECT_EQ(search(d, K::event, "ota_url", "[6849] Firmware update URL: http://ny3.blynk.cloud/static/x",
                     "ota_url"),
              "http://ny3.blynk.cloud/static/x")
        << d;
    EXPECT_TRUE(search(d, K::event, "ota_http_error", "[13130] HTTP response should be 200")) << d;
    EXPECT_EQ(search(d, K::event, "button_hold",
                     "[37471] Hold the button for 10 seconds to reset configuration...", "hold_seconds"),
              "10")
        << d;
    EXPECT_TRUE(search(d, K::event, "elf_sha256", "ELF file SHA256: 0a1b2c3d4e5f6789")) << d;
    EXPECT_TRUE(search(d, K::event, "rebooting", "Rebooting...")) << d;
    EXPECT_EQ(search(d, K::event, "banner", "__/ v1.0.1 on ESP32", "library_version"), "1.0.1") << d;
  }
  for (const char* d : {"edgent-1.1", "edgent-1.2"}) {
    EXPECT_TRUE(search(d, K::event, "scanning_networks", "[5000] Scanning networks...")) << d;
    EXPECT_EQ(search(d, K::event, "networks_found", "[5100] Found networks: 7", "network_count"), "7") << d;
    EXPECT_EQ(search(d, K::event, "current_time", "+[39348] Current time: Mon Jan  2 15:47:06 2023",
                     "current_time"),
              "Mon Jan  2 15:47:06 2023")
        << d;
  }
  // A boot line for `reset` in every family, and a line `dialect: auto` tells it by.
  for (const auto& [name, dialect] : set.by_name) {
    EXPECT_TRUE(dialect.boot.has_value()) << name;
    EXPECT_TRUE(dialect.detect.has_value()) << name;
  }
  auto boots = [&](const char* d, const std::string& line) {
    return boost::regex_search(line, boost::regex(set.find(d)->boot->regex, boost::regex::perl));
  };
  EXPECT_TRUE(boots("edgent-esp-idf", "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"));
  EXPECT_TRUE(boots("edgent-esp-idf", "I (29) boot: ESP-IDF v5.1 2nd stage bootloader"));
  EXPECT_FALSE(boots("edgent-esp-idf", "I (2981) example: Initial connection established"));
  EXPECT_TRUE(boots("edgent-1.1", " ets Jan  8 2013,rst cause:2, boot mode:(3,6)"));
  EXPECT_TRUE(boots("edgent-1.1", "        /___/ v1.1.0 on ESP8266"));
}

TEST(ScenarioLoader, ADialectErrorNamesTheRegexAndItsPlace) {
  test::TempDir dir;
  auto file = test::write_file(dir / "broken.yaml",
                               "dialect: broken\n"
                               "state_pattern: '=> STATE'\n"
                               "states: [RUNNING, { ERROR: '(' }]\n"
                               "events:\n"
                               "  ready: 'Ready ('\n"
                               "  'bad name': x\n");
  auto loaded = load_dialect(file);
  std::string all;
  for (const auto& d : loaded.diagnostics)
    all += d.to_string() + "\n";
  EXPECT_NE(all.find("broken.yaml:2:16: error: 'state_pattern' must contain {state}"), std::string::npos)
      << all;
  EXPECT_NE(all.find("broken.yaml:3:28: error: state 'ERROR': regex does not compile"), std::string::npos)
      << all;
  EXPECT_NE(all.find("broken.yaml:5:10: error: event 'ready': regex does not compile"), std::string::npos)
      << all;
  EXPECT_NE(all.find("broken.yaml:6:3: error: bad event name 'bad name'"), std::string::npos) << all;
}

TEST(ScenarioLoader, FindsScenarioFilesRecursivelyInOrderAndTellsKinds) {
  test::TempDir dir;
  test::write_file(dir / "b/two.yaml", "scenario: two\nsteps: []\n");
  test::write_file(dir / "a.yml", "# comment\nscenario: one\nsteps: []\n");
  test::write_file(dir / "notes.txt", "not yaml");
  test::write_file(dir / "lab.yaml", "boards: []\n");
  test::write_file(dir / "d.yaml", "dialect: x\nstates: [A]\n");
  test::write_file(dir / "p.yaml", "dialect: edgent-1.2\nboard: { type: ESP32 }\n");
  std::vector<Diagnostic> diagnostics;
  auto files = find_scenario_files({dir.path(), dir / "missing.yaml"}, diagnostics);
  ASSERT_EQ(files.size(), 5u);
  EXPECT_EQ(files[0].filename(), "a.yml");
  EXPECT_EQ(files[1].filename(), "two.yaml");
  EXPECT_EQ(files[3].filename(), "lab.yaml");
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_NE(diagnostics[0].to_string().find("missing.yaml: error: no such file or folder"),
            std::string::npos);
  EXPECT_EQ(detect_file_kind(dir / "a.yml"), FileKind::scenario);
  EXPECT_EQ(detect_file_kind(dir / "lab.yaml"), FileKind::inventory);
  EXPECT_EQ(detect_file_kind(dir / "d.yaml"), FileKind::dialect);
  EXPECT_EQ(detect_file_kind(dir / "p.yaml"), FileKind::sim_profile);
  EXPECT_EQ(detect_file_kind(dir / "notes.txt"), FileKind::unknown);
}

TEST(ScenarioLoader, ValidateReportsDuplicateNamesAndUnknownFiles) {
  ShippedLab lab;
  test::TempDir dir;
  test::write_file(dir / "a.yaml", "scenario: same\nsteps: [{ reset: hard }]\n");
  test::write_file(dir / "b.yaml", "scenario: same\nsteps: [{ reset: hard }]\n");
  test::write_file(dir / "c.yaml", "hello: world\n");
  auto report = validate_paths({dir.path()}, lab.inventory);
  ASSERT_EQ(report.diagnostics.size(), 2u);
  EXPECT_NE(report.diagnostics[0].message.find("scenario name 'same' is already used by"), std::string::npos);
  EXPECT_EQ(report.diagnostics[0].where.file, (dir / "b.yaml").string());
  EXPECT_NE(report.diagnostics[1].message.find("not a scenario, inventory or dialect file"),
            std::string::npos);
  EXPECT_FALSE(report.ok());
}

// Board pools (issue 14): `run_on: any` runs a scenario once on any one free matching board.
TEST(ScenarioLoader, RunOnSaysEachOrAnyAndAWrongValueSaysWhere) {
  auto run_on = [](const std::string& boards) {
    auto loaded = parse_scenario("scenario: s\nboards: " + boards + "\nsteps:\n  - send: x\n", "s.yaml");
    std::string diagnostics;
    for (const auto& d : loaded.diagnostics)
      diagnostics += d.to_string() + "\n";
    return std::make_pair(loaded.ok() ? std::optional(loaded.value->boards) : std::nullopt, diagnostics);
  };
  auto [absent, absent_errors] = run_on("{ tags: [esp32] }");
  ASSERT_TRUE(absent) << absent_errors;
  EXPECT_EQ(absent->run_on, RunOn::each);
  auto [pooled, pooled_errors] = run_on("{ tags: [esp32], run_on: any }");
  ASSERT_TRUE(pooled) << pooled_errors;
  EXPECT_EQ(pooled->run_on, RunOn::any);
  EXPECT_EQ(pooled->tags, std::vector<std::string>{"esp32"});
  auto [each, each_errors] = run_on("{ run_on: each }");
  ASSERT_TRUE(each) << each_errors;
  EXPECT_EQ(each->run_on, RunOn::each);
  auto [any_board, any_errors] = run_on("any");
  ASSERT_TRUE(any_board) << any_errors;
  EXPECT_EQ(any_board->run_on, RunOn::any);
  EXPECT_TRUE(any_board->tags.empty() && any_board->names.empty() && any_board->dialects.empty());
  auto [all_boards, all_errors] = run_on("all");
  ASSERT_TRUE(all_boards) << all_errors;
  EXPECT_EQ(all_boards->run_on, RunOn::each);

  auto [bad, bad_errors] = run_on("{ tags: [esp32], run_on: anny }");
  EXPECT_FALSE(bad);
  EXPECT_NE(bad_errors.find("s.yaml:2:34: error:"), std::string::npos) << bad_errors;
  EXPECT_NE(bad_errors.find("did you mean 'any'"), std::string::npos) << bad_errors;
  auto [misspelt, misspelt_errors] = run_on("{ tags: [esp32], runon: any }");
  EXPECT_FALSE(misspelt);
  EXPECT_NE(misspelt_errors.find("s.yaml:2:26: error:"), std::string::npos) << misspelt_errors;
  EXPECT_NE(misspelt_errors.find("run_on"), std::string::npos) << misspelt_errors;
}

TEST(ScenarioChecks, SelectorsAndDialectsFollowTheMatchedBoards) {
  auto inventory = load_inventory(test::corpus_dir() / "lab.yaml");
  auto dialects = load_dialects(inventory.value->dialects_dir);
  ASSERT_TRUE(inventory.ok() && dialects.ok());
  const auto& boards = inventory.value->boards;  // devkit-a: esp32, edgent-1.2; devkit-b: esp8266, edgent-1.1
  BoardSelector all;
  BoardSelector esp32{{"esp32"}, {}, {}, {}, {}};
  BoardSelector both_tags{{"esp32", "esp8266"}, {}, {}, {}, {}};
  BoardSelector by_name{{}, {"devkit-b"}, {}, {}, {}};
  BoardSelector by_dialect{{}, {}, {"edgent-1.1"}, {}, {}};
  EXPECT_TRUE(matches(all, boards[0]) && matches(all, boards[1]));
  EXPECT_TRUE(matches(esp32, boards[0]));
  EXPECT_FALSE(matches(esp32, boards[1]));
  EXPECT_FALSE(matches(both_tags, boards[0]) || matches(both_tags, boards[1]));
  EXPECT_TRUE(!matches(by_name, boards[0]) && matches(by_name, boards[1]));
  EXPECT_TRUE(!matches(by_dialect, boards[0]) && matches(by_dialect, boards[1]));

  // `event: mac` exists in edgent-1.1 only: on every board it is an error for the 1.2 board alone,
  // on the 1.1 board it is fine and its group becomes a variable.
  const char* text = "scenario: s\nboards: BOARDS\nsteps:\n  - capture: { event: mac }\n  - send: ${mac}\n";
  auto check = [&](const std::string& selector) {
    std::string yaml = text;
    yaml.replace(yaml.find("BOARDS"), 6, selector);
    auto loaded = parse_scenario(yaml, "s.yaml");
    EXPECT_TRUE(loaded.ok());
    std::string out;
    for (const auto& d : check_scenario(*loaded.value, *inventory.value, *dialects.value))
      out += d.to_string() + "\n";
    return out;
  };
  auto on_all = check("all");
  EXPECT_NE(on_all.find("s.yaml:4:23: error: unknown event 'mac' in dialect edgent-1.2"), std::string::npos)
      << on_all;
  EXPECT_EQ(on_all.find("edgent-1.1"), std::string::npos) << on_all;
  EXPECT_EQ(check("{ dialects: [edgent-1.1] }"), "");
}

}  // namespace
}  // namespace provhil::scenario
