// `provhil validate` as a user runs it: a real child process, real files, exit codes.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace provhil {
namespace {

// A copy of the shipped fixtures (inventory, dialects, simulator profiles) that a test may change.
struct Lab {
  test::TempDir dir;
  std::filesystem::path inventory;
  Lab() {
    auto src = test::source_dir() / "fixtures";
    for (const auto* folder : {"dialects", "sim"})
      for (const auto& entry : std::filesystem::directory_iterator(src / folder))
        if (entry.is_regular_file())
          test::write_file(dir / folder / entry.path().filename(), test::read_file(entry.path()));
    inventory = test::write_file(dir / "boards.yaml", test::read_file(src / "boards.yaml"));
  }
};

TEST(ValidateCli, DefaultsCheckTheShippedTreeFromTheProjectFolder) {
  test::ProcessOptions options;
  options.working_dir = test::source_dir().string();
  auto result = test::run_process({PROVHIL_BINARY, "validate", "scenarios", "fixtures"}, options);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  // 11 scenarios, the inventory, 4 dialects and the simulator profiles.
  EXPECT_NE(result.out.find("(11 scenarios, inventory fixtures/boards.yaml): 0 errors, 0 warnings"),
            std::string::npos)
      << result.out;
}

TEST(ValidateCli, ABrokenSimulatorProfileOfTheInventoryIsAnError) {
  Lab lab;
  auto profile = lab.dir / "sim/esp32.yaml";
  test::write_file(profile, test::read_file(profile) + "bogus_key: 1\n");
  auto result = test::run_process({PROVHIL_BINARY, "validate", "--lab", lab.inventory.string(),
                                   (test::source_dir() / "scenarios").string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(profile.string() + ":"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("bogus_key"), std::string::npos) << result.err;
}

TEST(ValidateCli, ShippedScenariosPassWithExitZero) {
  Lab lab;
  test::ProcessOptions options;
  options.working_dir = test::source_dir().string();
  auto result = test::run_process({PROVHIL_BINARY, "validate", "--lab", lab.inventory.string()}, options);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_NE(result.out.find("(11 scenarios"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(": 0 errors, 0 warnings"), std::string::npos) << result.out;
}

TEST(ValidateCli, BrokenFilesGiveEveryErrorWithPlaceAndExitTwo) {
  Lab lab;
  test::TempDir dir;
  test::write_file(dir / "broken.yaml",
                   "scenario: broken\nsteps:\n  - expcet: { state: RUNNING }\n  - wait: 10 seconds\n"
                   "  - send: ${board.tokn}\n");
  test::write_file(dir / "ok.yaml", "scenario: fine\nsteps:\n  - expect: { state: RUNNING }\n");
  auto result =
      test::run_process({PROVHIL_BINARY, "validate", "--lab", lab.inventory.string(), dir.path().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  auto file = (dir / "broken.yaml").string();
  EXPECT_NE(result.err.find(file + ":3:5: error: unknown step kind 'expcet'; did you mean 'expect'?"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find(file + ":4:11: error: bad duration '10 seconds' for 'wait'"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find(file + ":5:11: error: undefined variable '${board.tokn}'; did you mean "
                                   "'${board.token}'?"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("ok.yaml"), std::string::npos) << result.err;
  EXPECT_NE(result.out.find("3 errors"), std::string::npos) << result.out;
}

TEST(ValidateCli, MissingPathsAndInventoryAreErrors) {
  test::TempDir dir;
  auto result = test::run_process(
      {PROVHIL_BINARY, "validate", "--lab", (dir / "none.yaml").string(), (dir / "nothing-here").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("none.yaml: error: cannot read the inventory file"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("nothing-here: error: no such file or folder"), std::string::npos) << result.err;
}

TEST(ValidateCli, ChecksAnInventoryAndDialectsGivenAsPaths) {
  Lab lab;
  test::write_file(lab.dir / "dialects/typo.yaml", "dialect: typo\nstates: [RUNNING]\n");
  auto result = test::run_process(
      {PROVHIL_BINARY, "validate", "--lab", lab.inventory.string(), (lab.dir / "dialects").string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(
      result.err.find("typo.yaml:2:10: error: state 'RUNNING' has no regex: give 'state_pattern' or write "
                      "{ RUNNING: REGEX }"),
      std::string::npos)
      << result.err;
}

TEST(ValidateCli, SecretsAreWarningsUnlessRequiredAndComeFromTheSecretsFile) {
  test::TempDir dir;
  auto inventory =
      test::write_file(dir / "lab.yaml", "dialects: " + (test::source_dir() / "fixtures/dialects").string() +
                                             "\nboards:\n  - { name: a, port: /dev/ttyUSB7 }\n"
                                             "lab:\n  wifi: { ssid: LabNet, pass: { secret: wifi_pass } }\n");
  auto scenario = test::write_file(dir / "s/one.yaml", "scenario: one\nsteps:\n  - send: ${lab.wifi.pass}\n");
  test::ProcessOptions options;
  options.env["PROVHIL_SECRETS"] = "";
  auto relaxed = test::run_process(
      {PROVHIL_BINARY, "validate", "--lab", inventory.string(), scenario.string()}, options);
  EXPECT_EQ(relaxed.exit_code, 0) << relaxed.out << relaxed.err;
  EXPECT_NE(relaxed.err.find("lab.yaml:5:31: warning: secret 'wifi_pass' needs a secrets file"),
            std::string::npos)
      << relaxed.err;
  auto strict = test::run_process(
      {PROVHIL_BINARY, "validate", "--require-secrets", "--lab", inventory.string(), scenario.string()},
      options);
  EXPECT_EQ(strict.exit_code, 2) << strict.out << strict.err;
  EXPECT_NE(strict.err.find("lab.yaml:5:31: error: secret 'wifi_pass'"), std::string::npos) << strict.err;
  auto secrets = test::write_file(dir / "secrets.yaml", "wifi_pass: hunter2-pass\n");
  auto given = test::run_process({PROVHIL_BINARY, "validate", "--require-secrets", "--secrets",
                                  secrets.string(), "--lab", inventory.string(), scenario.string()},
                                 options);
  EXPECT_EQ(given.exit_code, 0) << given.out << given.err;
  EXPECT_EQ(given.out.find("hunter2"), std::string::npos);
  EXPECT_EQ(given.err.find("hunter2"), std::string::npos);
}

// Issue 4: a reset the port's backend cannot do (DTR on raw tcp or a pty) is refused when the inventory
// is loaded: `validate` names its place, and `run` stops with exit 2 before it opens anything or writes
// a report.
TEST(ValidateCli, AResetThePortCannotDoIsRefusedBeforeAnythingRuns) {
  test::TempDir dir;
  auto inventory = test::write_file(
      dir / "lab.yaml", "dialects: " + (test::source_dir() / "fixtures/dialects").string() +
                            "\nboards:\n"
                            "  - name: ser2net\n    port: tcp://127.0.0.1:4000\n    reset: esp32-dtr-rts\n"
                            "  - name: pty\n    port: pty:provhil sim\n    reset: { strategy: dtr-pulse }\n"
                            "lab:\n  wifi: { ssid: LabNet, pass: labpass123 }\n");
  auto scenario = test::write_file(dir / "s/one.yaml", "scenario: one\nsteps:\n  - reset: hard\n");
  auto expected_tcp = inventory.string() +
                      ":5:12: error: reset 'esp32-dtr-rts' cannot work on port tcp://127.0.0.1:4000: "
                      "esp32-dtr-rts needs DTR/RTS lines, which a tcp port does not have";
  auto expected_pty = inventory.string() +
                      ":8:24: error: reset 'dtr-pulse' cannot work on port pty:provhil sim: dtr-pulse needs "
                      "DTR/RTS lines, which a pty port does not have (use signal for the simulator)";

  auto validate =
      test::run_process({PROVHIL_BINARY, "validate", "--lab", inventory.string(), scenario.string()});
  EXPECT_EQ(validate.exit_code, 2) << validate.out << validate.err;
  EXPECT_NE(validate.err.find(expected_tcp), std::string::npos) << validate.err;
  EXPECT_NE(validate.err.find(expected_pty), std::string::npos) << validate.err;

  auto reports = dir / "reports";
  auto run = test::run_process(
      {PROVHIL_BINARY, "run", "--lab", inventory.string(), "--reports", reports.string(), scenario.string()});
  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_NE(run.err.find(expected_tcp), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(expected_pty), std::string::npos) << run.err;
  EXPECT_FALSE(std::filesystem::exists(reports / "junit.xml"));
}

// ---- issue 16: hostile files -------------------------------------------------------------------

std::string lab_with_profile(const test::TempDir& dir, const std::string& profile,
                             const std::string& extra = "") {
  return test::write_file(dir / "lab.yaml",
                          "dialects: " + (test::source_dir() / "fixtures/dialects").string() +
                              "\nboards:\n  - name: s\n    sim: { profile: " + profile +
                              " }\n    dialect: edgent-1.2\n" +
                              "lab:\n  wifi: { ssid: LabNet, pass: labpass123 }\n" + extra)
      .string();
}

// Defects 1 and 2: `validate` and `run` stop with exit 2 and the place, in bounded time and memory (before:
// 1.7 GB and exit 0 for the bomb, SIGSEGV for the self reference).
TEST(ValidateCli, AliasBombsAndSelfReferencesAreExitTwoWithThePlace) {
  test::TempDir dir;
  std::string bomb = "scenario: bomb\nsteps:\n  - &l0 { wait: 1ms }\n";
  for (int level = 1; level <= 6; ++level) {
    std::string list;
    for (int i = 0; i < 10; ++i)
      list += (i ? ",*l" : "*l") + std::to_string(level - 1);
    bomb += "  - &l" + std::to_string(level) + " { repeat: { times: 2, steps: [" + list + "] } }\n";
  }
  auto bomb_file = test::write_file(dir / "s/bomb.yaml", bomb);
  auto self_file = test::write_file(dir / "t/self.yaml",
                                    "scenario: self\nsetup: &s [ { retry: { attempts: 2, steps: *s } } ]\n"
                                    "steps: [ { wait: 1ms } ]\n");
  auto lab = test::source_dir() / "fixtures/boards.yaml";
  for (const auto& file : {bomb_file, self_file}) {
    auto validate = test::run_process({PROVHIL_BINARY, "validate", "--lab", lab.string(), file.string()});
    EXPECT_EQ(validate.exit_code, 2) << validate.out << validate.err;
    EXPECT_NE(validate.err.find(file.string() + ":"), std::string::npos) << validate.err;
    EXPECT_EQ(validate.err.find(file.string() + ":0:0"), std::string::npos) << validate.err;
    auto reports = dir / "reports";
    test::ProcessOptions options;
    options.working_dir = test::source_dir().string();
    auto run = test::run_process(
        {PROVHIL_BINARY, "run", "--reports", reports.string(), "--lab", lab.string(), file.string()},
        options);
    EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
    EXPECT_NE(run.err.find(file.string() + ":"), std::string::npos) << run.err;
  }
}

// Defect 9: a profile path longer than PATH_MAX is the inventory's error with its place, exit 2, in
// `validate` and `run` (before: "unexpected error: filesystem error ... File name too long", exit 3).
TEST(ValidateCli, AProfilePathLongerThanPathMaxIsExitTwoWithThePlace) {
  test::TempDir dir;
  auto inventory = lab_with_profile(dir, "/" + std::string(5000, 'p') + ".yaml");
  auto scenario = test::write_file(dir / "s/one.yaml", "scenario: one\nsteps:\n  - wait: 1ms\n");
  auto validate = test::run_process({PROVHIL_BINARY, "validate", "--lab", inventory, scenario.string()});
  EXPECT_EQ(validate.exit_code, 2) << validate.out << validate.err;
  EXPECT_NE(
      validate.err.find(inventory + ":4:21: error: simulator profile cannot be used: File name too long"),
      std::string::npos)
      << validate.err;
  EXPECT_EQ(validate.err.find("unexpected"), std::string::npos) << validate.err;
  auto run = test::run_process({PROVHIL_BINARY, "run", "--reports", (dir / "reports").string(), "--lab",
                                inventory, scenario.string()});
  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_NE(run.err.find(inventory + ":4:21:"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("unexpected"), std::string::npos) << run.err;
}

// Defect 12: an endless or huge file named by an inventory is refused with the reason, not read until
// memory runs out. The child's address space is capped so that, before the fix, reading /dev/zero
// ended in bad_alloc (exit 3) instead of taking the machine's memory. Under ASan (which reserves its
// shadow memory up front) the cap is the 1 MiB limit alone, and ctest's timeout bounds the time.
TEST(ValidateCli, AnEndlessOrHugeSecretsFileIsRefusedWithTheReason) {
  test::TempDir dir;
  auto scenario = test::write_file(dir / "s/one.yaml", "scenario: one\nsteps:\n  - wait: 1ms\n");
  std::string big(2u << 20, '#');
  auto huge = test::write_file(dir / "huge.yaml", "k: v\n" + big + "\n");
  for (const std::string& secrets : {std::string("/dev/zero"), huge.string()}) {
    auto inventory = lab_with_profile(dir, (test::source_dir() / "fixtures/sim/esp32.yaml").string(),
                                      "  secrets_file: " + secrets + "\n");
    std::string cap = PROVHIL_SANITIZED ? "" : "ulimit -v 2000000; ";
    auto result = test::run_process({"/bin/sh", "-c", cap + "exec \"$@\"", "sh", PROVHIL_BINARY, "validate",
                                     "--require-secrets", "--lab", inventory, scenario.string()});
    EXPECT_EQ(result.exit_code, 2) << secrets << "\n" << result.out << result.err;
    EXPECT_NE(result.err.find("cannot read the secrets file " + secrets + ": larger than 1048576 bytes"),
              std::string::npos)
        << result.err;
  }
}

// Defect 13: a simulator profile whose first line is not UTF-8 gets line:col; a NUL in a value is shown
// as \x00, not written raw.
TEST(ValidateCli, ProfileMessagesGiveThePlaceAndNeverEchoRawBytes) {
  test::TempDir dir;
  auto profile = test::write_file(dir / "bad-utf8.yaml", "dialect: edgent-1.2\xff\xfe\n");
  auto inventory = lab_with_profile(dir, profile.string());
  auto scenario = test::write_file(dir / "s/one.yaml", "scenario: one\nsteps:\n  - wait: 1ms\n");
  auto result = test::run_process({PROVHIL_BINARY, "validate", "--lab", inventory, scenario.string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(profile.string() + ":1:20: error: the file is not valid UTF-8"),
            std::string::npos)
      << result.err;

  auto nul = test::write_file(dir / "nul.yaml", "dialect: \"edgent\\0-9\"\n");
  inventory = lab_with_profile(dir, nul.string());
  result = test::run_process({PROVHIL_BINARY, "validate", "--lab", inventory, scenario.string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(nul.string() + ":1:10: error: unknown dialect 'edgent\\x00-9'"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find('\0'), std::string::npos);
}

}  // namespace
}  // namespace provhil
