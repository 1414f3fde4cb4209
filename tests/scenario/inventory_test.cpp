#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "scenario/loader.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace provhil::scenario {
namespace {

std::string all_of(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics)
    text += d.to_string() + "\n";
  return text;
}

TEST(ScenarioInventory, LoadsBoardsLabAndInterceptor) {
  test::TempDir dir;
  test::write_file(dir / "sim/esp32.yaml", "# profile\n");
  auto file = test::write_file(dir / "lab.yaml", R"(
boards:
  - name: devkit-a
    port: usb:10c4:ea60:0001
    baud: 921600
    flow_control: rtscts
    reset: { strategy: esp32-dtr-rts, pulse: 50ms }
    dialect: edgent-1.1
    tags: [esp32, lab-1]
    join: nmcli dev wifi connect "${board.ap_ssid}"
    token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
    vars: { ap_ssid: Blynk X }
  - name: sim-1
    sim: { profile: esp32 }
    tags: sim
lab:
  wifi: { ssid: LabNet, pass: { env: PROVHIL_TEST_UNSET_VAR_1, default: labpass123 } }
  vars: { region: fra1 }
interceptor: { listen: "0.0.0.0:8443", advertise: 192.168.50.1, mode: proxy, upstream: "https://blynk.cloud" }
dialects: ../dialects
)");
  ::unsetenv("PROVHIL_TEST_UNSET_VAR_1");
  auto loaded = load_inventory(file);
  ASSERT_TRUE(loaded.ok()) << all_of(loaded.diagnostics);
  const Inventory& inv = *loaded.value;
  ASSERT_EQ(inv.boards.size(), 2u);
  const Board& a = inv.boards[0];
  EXPECT_EQ(a.port, "usb:10c4:ea60:0001");
  EXPECT_EQ(a.baud, 921600);
  EXPECT_EQ(a.flow_control, Board::FlowControl::rtscts);
  EXPECT_EQ(a.reset.kind, serial::ResetKind::esp32_dtr_rts);
  EXPECT_EQ(a.reset.pulse, Duration(50));  // `pulse: 50ms` is pulse_ms 50
  EXPECT_EQ(a.dialect, "edgent-1.1");
  EXPECT_EQ(a.join, "nmcli dev wifi connect \"${board.ap_ssid}\"");
  ASSERT_TRUE(a.token && a.token->value);
  EXPECT_EQ(*a.token->value, std::string(32, 'A'));
  EXPECT_FALSE(a.simulated());
  const Board& sim = inv.boards[1];
  ASSERT_TRUE(sim.simulated());
  EXPECT_EQ(*sim.sim_profile, (dir / "sim/esp32.yaml").lexically_normal());
  EXPECT_EQ(sim.reset.kind, serial::ResetKind::signal);  // default for a simulated board: its EN pin
  EXPECT_EQ(sim.reset.signal_number, SIGUSR1);
  EXPECT_EQ(sim.dialect, "edgent-1.2");  // the default dialect
  EXPECT_EQ(sim.tags, std::vector<std::string>{"sim"});
  EXPECT_FALSE(sim.token);
  EXPECT_EQ(*inv.lab.wifi_pass.value, "labpass123");  // env unset: the default
  EXPECT_EQ(*inv.lab.values.at("region").value, "fra1");
  EXPECT_EQ(inv.interceptor.mode, InterceptorSettings::Mode::proxy);
  EXPECT_EQ(inv.interceptor.advertise, "192.168.50.1");
  EXPECT_EQ(inv.dialects_dir, (dir.path() / "../dialects").lexically_normal());

  ::setenv("PROVHIL_TEST_UNSET_VAR_1", "from-env", 1);
  auto again = load_inventory(file);
  ::unsetenv("PROVHIL_TEST_UNSET_VAR_1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again.value->lab.wifi_pass.value, "from-env");
}

TEST(ScenarioInventory, SecretsComeFromTheSecretsFileAndMissingOnesAreReported) {
  test::TempDir dir;
  auto secrets = test::write_file(dir / "secrets.yaml",
                                  "wifi_pass: s3cret-pass\ntoken_a: BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n");
  auto file = test::write_file(dir / "lab.yaml", R"(boards:
  - name: a
    port: /dev/ttyUSB0
    token: { secret: token_a }
  - name: b
    port: /dev/ttyUSB1
    token: { secret: token_b }
lab:
  wifi: { ssid: LabNet, pass: { secret: wifi_pass } }
  secrets_file: secrets.yaml
  vars: { key: { env: PROVHIL_TEST_UNSET_VAR_2 } }
)");
  ::unsetenv("PROVHIL_TEST_UNSET_VAR_2");
  auto loaded = load_inventory(file);
  ASSERT_TRUE(loaded.value);
  EXPECT_EQ(*loaded.value->lab.wifi_pass.value, "s3cret-pass");
  EXPECT_EQ(*loaded.value->boards[0].token->value, std::string(32, 'B'));
  EXPECT_FALSE(loaded.value->boards[1].token->value);
  // For `validate` missing secrets are warnings; the runner asks for errors.
  EXPECT_TRUE(loaded.ok()) << all_of(loaded.diagnostics);
  auto text = all_of(loaded.diagnostics);
  EXPECT_NE(
      text.find("lab.yaml:7:12: warning: secret 'token_b' is not in the secrets file " + secrets.string()),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("lab.yaml:11:16: warning: environment variable PROVHIL_TEST_UNSET_VAR_2 is not set and no "
                "'default' is given"),
      std::string::npos)
      << text;
  auto strict = load_inventory(file, InventoryOptions{true, std::nullopt});
  EXPECT_FALSE(strict.ok());
  EXPECT_EQ(std::count_if(strict.diagnostics.begin(), strict.diagnostics.end(),
                          [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::error; }),
            2);
  // No secret value ever appears in a diagnostic.
  EXPECT_EQ(text.find("s3cret-pass"), std::string::npos);
}

TEST(ScenarioInventory, BadInventoryReportsEveryProblemWithItsPlace) {
  test::TempDir dir;
  auto file = test::write_file(dir / "lab.yaml", R"(boards:
  - name: a
    port: /dev/ttyUSB0
    reset: esp32-dtr-rst
    flow_control: hardware
  - name: a
    sim: { profile: missing.yaml }
    port: /dev/ttyUSB1
  - name: "bad name"
    baud: fast
    token: short
    dialect: edgent-1.3
  - nmae: x
lab:
  wifi: { ssid: LabNet }
interceptor: { listen: "8443", mode: mitm, upstream: blynk.cloud }
)");
  auto loaded = load_inventory(file);
  ASSERT_TRUE(loaded.value);
  auto text = test::replace_all(all_of(loaded.diagnostics), dir.path().string(), "<dir>");
  EXPECT_EQ(
      text,
      "<dir>/lab.yaml:4:12: error: reset \"esp32-dtr-rst\": unknown strategy (accepted: esp32-dtr-rts, "
      "dtr-pulse, console[:COMMAND], command:PROGRAM [ARGS] ({board} is the board name), signal[:NAME], "
      "none); did you mean 'esp32-dtr-rts'?\n"
      "<dir>/lab.yaml:5:19: error: bad 'flow_control' 'hardware' (expected one of: none, rtscts, xonxoff)\n"
      "<dir>/lab.yaml:6:11: error: board name 'a' is used twice: names must be unique\n"
      "<dir>/lab.yaml:7:10: error: a board has either 'port' (a real board) or 'sim' (a simulated one), "
      "found "
      "both\n"
      "<dir>/lab.yaml:7:21: error: simulator profile not found: <dir>/missing.yaml\n"
      "<dir>/lab.yaml:9:5: error: board 'bad name' needs 'port' (e.g. usb:10c4:ea60, /dev/ttyUSB0, "
      "tcp://host:port) or 'sim: { profile: FILE }'\n"
      "<dir>/lab.yaml:9:11: error: bad board name 'bad name': expected letters, digits, - _ and . (it names "
      "report folders)\n"
      "<dir>/lab.yaml:10:11: error: 'baud' must be a whole number, found 'fast'\n"
      "<dir>/lab.yaml:11:12: error: a token has exactly 32 characters, found 5\n"
      "<dir>/lab.yaml:13:5: error: unknown key 'nmae' in a board; did you mean 'name'? (expected one of: "
      "name, "
      "port, sim, baud, flow_control, reset, dialect, tags, join, token, vars)\n"
      "<dir>/lab.yaml:13:5: error: a board needs 'name'\n"
      "<dir>/lab.yaml:13:5: error: board '' needs 'port' (e.g. usb:10c4:ea60, /dev/ttyUSB0, tcp://host:port) "
      "or 'sim: { profile: FILE }'\n"
      "<dir>/lab.yaml:15:9: error: 'lab.wifi' needs 'pass' (a value, { env: NAME } or { secret: KEY })\n"
      "<dir>/lab.yaml:16:24: error: bad 'interceptor.listen' '8443': expected host:port, e.g. 0.0.0.0:8443\n"
      "<dir>/lab.yaml:16:38: error: bad interceptor mode 'mitm' (expected one of: mock, proxy)\n"
      "<dir>/lab.yaml:16:54: error: bad 'upstream' 'blynk.cloud': expected a URL such as "
      "https://blynk.cloud\n");
  // The unknown dialect needs the dialect set.
  auto dialects = load_dialects(test::source_dir() / "fixtures/dialects");
  auto checks = check_inventory(*loaded.value, *dialects.value);
  ASSERT_EQ(checks.size(), 1u);  // the other boards have the default dialect, edgent-1.2
  EXPECT_NE(checks[0].message.find("uses unknown dialect 'edgent-1.3'; did you mean 'edgent-1.1'?"),
            std::string::npos)
      << checks[0].message;
}

TEST(ScenarioInventory, ResetSpellingsLoadThroughTheSerialParser) {
  test::TempDir dir;
  auto file = test::write_file(dir / "lab.yaml", R"(boards:
  - name: uart-esp32
    port: /dev/ttyUSB0
    reset: esp32-dtr-rts
  - name: uart-console
    port: /dev/ttyUSB1
    reset: console:restart
  - name: hub
    port: tcp://127.0.0.1:4000
    reset: command:hubctl -p 3 -a cycle
  - name: pty-signal
    port: pty:provhil sim --profile x.yaml
    reset: signal
  - name: arduino
    port: usb:2341:0043
    reset: dtr-pulse
  - name: plain
    port: /dev/ttyACM0
    reset: none
  - name: default-real
    port: rfc2217://lab-pi.local:3001
  - name: flash-mode
    port: /dev/ttyUSB2
    reset: { strategy: esp32-dtr-rts, pulse_ms: 250, bootloader: true, bootloader_hold_ms: 80 }
  - name: console-map
    port: tcp://127.0.0.1:4002
    reset: { strategy: console, command: restart now, line_ending: lf }
  - name: relay
    port: replay:board.log
    reset: { strategy: command, command: "usbrelay 'relay 1=0'", timeout_ms: 5000 }
  - name: pty-usr2
    port: pty:provhil sim
    reset: { strategy: signal, signal: SIGUSR2 }
  - name: pulse-duration
    port: /dev/ttyUSB3
    reset: { strategy: dtr-pulse, pulse: 1.5s }
lab:
  wifi: { ssid: LabNet, pass: labpass123 }
)");
  auto loaded = load_inventory(file);
  ASSERT_TRUE(loaded.ok()) << all_of(loaded.diagnostics);
  const auto& b = loaded.value->boards;
  ASSERT_EQ(b.size(), 12u);
  EXPECT_EQ(b[0].reset.kind, serial::ResetKind::esp32_dtr_rts);
  EXPECT_EQ(b[0].reset.pulse, Duration(100));
  EXPECT_FALSE(b[0].reset.bootloader);
  EXPECT_EQ(b[1].reset.kind, serial::ResetKind::console);
  EXPECT_EQ(b[1].reset.console_command, "restart");
  EXPECT_EQ(b[1].reset.line_ending, "\r\n");
  EXPECT_EQ(b[2].reset.kind, serial::ResetKind::command);
  EXPECT_EQ(b[2].reset.command, (std::vector<std::string>{"hubctl", "-p", "3", "-a", "cycle"}));
  EXPECT_EQ(b[3].reset.kind, serial::ResetKind::signal);
  EXPECT_EQ(b[3].reset.signal_number, SIGUSR1);
  EXPECT_EQ(b[4].reset.kind, serial::ResetKind::dtr_pulse);
  EXPECT_EQ(b[5].reset.kind, serial::ResetKind::none);
  EXPECT_EQ(b[6].reset.kind, serial::ResetKind::none);  // a real board's default
  EXPECT_EQ(b[7].reset.kind, serial::ResetKind::esp32_dtr_rts);
  EXPECT_EQ(b[7].reset.pulse, Duration(250));
  EXPECT_TRUE(b[7].reset.bootloader);
  EXPECT_EQ(b[7].reset.bootloader_hold, Duration(80));
  EXPECT_EQ(b[8].reset.kind, serial::ResetKind::console);
  EXPECT_EQ(b[8].reset.console_command, "restart now");
  EXPECT_EQ(b[8].reset.line_ending, "\n");
  EXPECT_EQ(b[9].reset.kind, serial::ResetKind::command);
  EXPECT_EQ(b[9].reset.command, (std::vector<std::string>{"usbrelay", "relay 1=0"}));
  EXPECT_EQ(b[9].reset.command_timeout, Duration(5000));
  EXPECT_EQ(b[10].reset.kind, serial::ResetKind::signal);
  EXPECT_EQ(b[10].reset.signal_number, SIGUSR2);
  EXPECT_EQ(b[11].reset.kind, serial::ResetKind::dtr_pulse);
  EXPECT_EQ(b[11].reset.pulse, Duration(1500));
}

TEST(ScenarioInventory, AResetThePortCannotDoIsRefusedAtLoadTimeWithItsPlace) {
  test::TempDir dir;
  test::write_file(dir / "sim/esp32.yaml", "# profile\n");
  auto file = test::write_file(dir / "lab.yaml", R"(boards:
  - name: ser2net
    port: tcp://127.0.0.1:4000
    reset: esp32-dtr-rts
  - name: pty
    port: pty:provhil sim --profile x.yaml
    reset: { strategy: dtr-pulse, pulse: 20ms }
  - name: sim-1
    sim: { profile: esp32 }
    reset: esp32-dtr-rts
  - name: sim-2
    sim: { profile: esp32 }
    reset: console
  - name: bad-port
    port: tcp://127.0.0.1
    reset: esp32-dtr-rts
lab:
  wifi: { ssid: LabNet, pass: labpass123 }
)");
  auto loaded = load_inventory(file);
  ASSERT_TRUE(loaded.value);
  EXPECT_FALSE(loaded.ok());
  auto text = test::replace_all(all_of(loaded.diagnostics), dir.path().string(), "<dir>");
  EXPECT_EQ(
      text,
      "<dir>/lab.yaml:4:12: error: reset 'esp32-dtr-rts' cannot work on port tcp://127.0.0.1:4000: "
      "esp32-dtr-rts needs DTR/RTS lines, which a tcp port does not have (use command with a power "
      "switch or relay)\n"
      "<dir>/lab.yaml:7:24: error: reset 'dtr-pulse' cannot work on port pty:provhil sim --profile "
      "x.yaml: dtr-pulse needs DTR/RTS lines, which a pty port does not have (use signal for the "
      "simulator)\n"
      "<dir>/lab.yaml:10:12: error: reset 'esp32-dtr-rts' cannot work on a simulated board (a pty): "
      "esp32-dtr-rts needs DTR/RTS lines, which a pty port does not have (use signal for the "
      "simulator)\n"
      "<dir>/lab.yaml:15:11: error: port \"tcp://127.0.0.1\": missing :port (accepted: a device path "
      "(/dev/ttyUSB0), a /dev/serial/by-id/... link, usb:VID:PID[:SERIAL] (hex), tcp://host:port, "
      "rfc2217://host:port, pty:COMMAND [ARGS], replay:PATH[?pacing=original|fast][&strip=NAME,...])\n");
  // A simulated board may still reset through its console.
  EXPECT_EQ(loaded.value->boards[3].reset.kind, serial::ResetKind::console);
}

}  // namespace
}  // namespace provhil::scenario
