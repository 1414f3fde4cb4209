// The boot log of both dialects, line for line, and every console command, over a real pty.
#include <signal.h>

#include "common/text.hpp"
#include "sim_test_support.hpp"

namespace provhil::test {
namespace {

using namespace std::chrono_literals;

const std::string kFixtures = std::string(PROVHIL_SOURCE_DIR) + "/fixtures/sim/";

std::string boot_log(PtyBoard& board, std::string& before_banner) {
  auto text = board.expect("AP URL:  blynk.setup\r\n");
  if (!text) return "(no AP URL line; got: " + board.unread() + ")";
  const auto banner = text->find("] \r\n    ___");
  if (banner == std::string::npos) return "(no banner in: " + *text + ")";
  const auto start = text->rfind('[', banner);
  before_banner = text->substr(0, start);
  static const std::regex suffix(R"(Lab Device-[0-9A-F]{5})");
  return std::regex_replace(normalize_millis(text->substr(start)), suffix, "Lab Device-XXXX");
}

const char* kBanner12 =
    "[ms] \r\n"
    "    ___  __          __\r\n"
    "   / _ )/ /_ _____  / /__\r\n"
    "  / _  / / // / _ \\/  '_/\r\n"
    " /____/_/\\_, /_//_/_/\\_\\\r\n"
    "        /___/ v1.2.0 on ESP32\r\n"
    "\r\n"
    " #StandWithUkraine    https://bit.ly/swua\r\n"
    "\r\n"
    "\r\n";

TEST_F(SimTest, Edgent12BootLogLineForLine) {
  auto& board = start_file(kFixtures + "esp32.yaml");
  std::string noise;
  const auto log = boot_log(board, noise);
  const std::string rule(52, '-');
  const std::string expected = std::string(kBanner12) + rule +
                               "\r\n"
                               " Device:    Blynk Lab Device-XXXX\r\n"
                               " Firmware:  0.1.0 (build Oct  1 2023 12:00:00)\r\n"
                               " Platform:  ESP32 @ 240MHz\r\n"
                               " Chip rev:  3\r\n"
                               " SDK:       v4.4.5\r\n"
                               " Flash:     4096K\r\n"
                               " Free mem:  236164\r\n" +
                               rule +
                               "\r\n"
                               "\r\n"
                               ">[ms] INIT => WAIT_CONFIG\r\n"
                               "[ms] AP URL:  blynk.setup\r\n";
  EXPECT_EQ(log, expected);
  // Boot ROM noise: not UTF-8, then the ROM's reset line.
  EXPECT_FALSE(is_valid_utf8(noise)) << sanitize_text(noise);
  EXPECT_NE(noise.find("rst:0x1 (POWERON_RESET)"), std::string::npos) << sanitize_text(noise);
}

TEST_F(SimTest, Edgent11BootLogLineForLine) {
  auto& board = start_file(kFixtures + "esp32-edgent-1.1.yaml");
  std::string noise;
  const auto log = boot_log(board, noise);
  std::string banner = kBanner12;
  banner.replace(banner.find("v1.2.0"), 6, "v1.1.0");
  const std::string expected = banner +
                               "[ms] --------------------------\r\n"
                               "[ms] Product:  Lab Device\r\n"
                               "[ms] Firmware: 0.0.9 (build Mar 14 2022 09:30:00)\r\n"
                               "[ms] Device:   ESP32 @ 240MHz\r\n"
                               "[ms] MAC:      24:0A:C4:5E:22:19\r\n"
                               "[ms] Flash:    4096K\r\n"
                               "[ms] ESP sdk:  v4.4.1\r\n"
                               "[ms] Chip rev: 3\r\n"
                               "[ms] Free mem: 236164\r\n"
                               "[ms] --------------------------\r\n"
                               "\r\n"
                               ">[ms] INIT => WAIT_CONFIG\r\n"
                               "[ms] AP SSID: Blynk Lab Device-XXXX\r\n"
                               "[ms] AP IP:   192.168.4.1\r\n"
                               "[ms] AP URL:  blynk.setup\r\n";
  EXPECT_EQ(log, expected);
}

TEST_F(SimTest, MillisGrowAndTimeScaleDelaysTheSteps) {
  // time scale 0.2: the AP comes up ~0.5 s after the WAIT_CONFIG line (2.6 s on a real board).
  auto& board = start_file(kFixtures + "esp32.yaml", {"--time-scale", "0.2"});
  auto first = board.expect_regex(R"(>\[(\d+)\] INIT => WAIT_CONFIG)");
  ASSERT_TRUE(first) << board.unread();
  const long t0 = std::stol((*first)[1].str());
  auto url = board.expect_regex(R"(\[(\d+)\] AP URL:  blynk.setup)");
  ASSERT_TRUE(url) << board.unread();
  const long t1 = std::stol((*url)[1].str());
  EXPECT_GE(t1 - t0, 450) << t0 << " -> " << t1;
}

class SimConsole : public SimTest {
 protected:
  void SetUp() override {
    start_with(test_profile());
    want("AP URL:  blynk.setup\r\n");
  }
  // Types `line` + CR and returns what the board printed up to its next prompt.
  std::string type(const std::string& line) {
    board_->send(line + "\r");
    auto text = board_->expect("\n>", 10s);
    return text ? *text : "(no prompt; got: " + board_->unread() + ")";
  }
};

TEST_F(SimConsole, HelpAndQuestionMarkListEveryCommand) {
  const std::string list =
      "Available commands: help, ?, reboot, config, devinfo, connect, wifi, firmware, status\r\n";
  EXPECT_EQ(type("help"), "help\r\n" + list + ">");
  EXPECT_EQ(type("?"), "?\r\n" + list + ">");
  EXPECT_EQ(type("HeLp"), "HeLp\r\n" + list + ">");  // commands are case-insensitive
}

TEST_F(SimConsole, DevinfoAnswersJson) {
  const auto answer = normalize_millis(type("devinfo"));
  EXPECT_TRUE(std::regex_match(
      answer, std::regex(R"(devinfo\r\n\{"name":"Blynk Lab Device-[0-9A-F]{5}","board":"Lab Device",)"
                         R"("tmpl_id":"TMPL8sRFwcfqL","fw_type":"TMPL8sRFwcfqL","fw_ver":"0.1.0"\}\r\n>)")))
      << answer;
}

TEST_F(SimConsole, UnknownCommandAndBlankLines) {
  EXPECT_EQ(type("frobnicate now"), "frobnicate now\r\nCommand not found.\r\n>");
  // A blank line prints nothing at all (not even a prompt).
  board_->send("\r\n  \r");
  EXPECT_EQ(board_->read_for(300ms), "  ");
}

TEST_F(SimConsole, ConnectValidatesItsArguments) {
  EXPECT_EQ(type("connect onlyone"),
            "connect onlyone\r\n"
            R"({"status":"error","msg":"invalid arguments. expected: <auth> <ssid> <pass>"})"
            "\r\n>");
  EXPECT_EQ(type("connect short LabNet"),
            "connect short LabNet\r\n"
            R"({"status":"error","msg":"invalid token size"})"
            "\r\n>");
  // \xHH escapes are decoded before the length check: 32 escaped bytes make a 32-char token.
  std::string escaped;
  for (int i = 0; i < 32; ++i)
    escaped += "\\x41";
  const auto answer = type("connect " + escaped + " Lab\\x20Net");
  EXPECT_NE(answer.find(R"({"status":"OK","msg":"trying to connect..."})"), std::string::npos) << answer;
  want("Connecting to WiFi: Lab Net\r\n");
}

TEST_F(SimConsole, WifiFirmwareStatus) {
  EXPECT_EQ(type("wifi"), "wifi\r\nmac:24:0A:C4:5E:11:08 ip:0.0.0.0 ( [00:00:00:00:00:00] 0dBm)\r\n>");
  EXPECT_EQ(type("firmware"),
            "firmware\r\n Version:   0.1.0 (build Oct  1 2023 12:00:00)\r\n Type:      TMPL8sRFwcfqL\r\n"
            " Platform:  ESP32\r\n SDK:       v4.4.5\r\n Blynk:     1.2.0\r\n>");
  const auto status = type("status");
  EXPECT_TRUE(
      std::regex_match(status, std::regex(R"(status\r\n Uptime:          0d 0h 0m \d+s\r\n)"
                                          R"( Reset reason:    POWERON_RESET\r\n)"
                                          R"( State:           WAIT_CONFIG\r\n Free mem:        \d+\r\n>)")))
      << status;
}

TEST_F(SimConsole, OverlongLineStartsOverAt256Bytes) {
  // The firmware's 256-byte buffer silently starts over: every byte is echoed, only the tail runs.
  const std::string line = std::string(256, 'x') + "help";
  const auto answer = type(line);
  EXPECT_EQ(answer, line +
                        "\r\nAvailable commands: help, ?, reboot, config, devinfo, connect, wifi, firmware, "
                        "status\r\n>");
}

TEST_F(SimConsole, ConfigCommandsChangeState) {
  // As on the board, the transition is logged inside the command, before the prompt.
  board_->send("config erase\r");
  want("config erase\r\n");
  ASSERT_TRUE(board_->expect_regex(R"(^\[\d+\] WAIT_CONFIG => RESET_CONFIG\r\n>)")) << board_->unread();
  want("Resetting configuration!\r\n");
  want("RESET_CONFIG => WAIT_CONFIG\r\n");
  want("AP URL:  blynk.setup\r\n");
  // Already in WAIT_CONFIG: `config` prints nothing but the prompt.
  EXPECT_EQ(type("config start"), "config start\r\n>");
}

TEST_F(SimConsole, RebootRestartsWithoutAPrompt) {
  board_->send("reboot\r");
  auto text = board_->expect("rst:0xc (SW_CPU_RESET)");
  ASSERT_TRUE(text) << board_->unread();
  EXPECT_NE(text->find("reboot\r\n{\"status\":\"OK\",\"msg\":\"rebooting wifi module\"}\r\n"),
            std::string::npos)
      << *text;
  EXPECT_EQ(text->find("}\r\n>"), std::string::npos) << *text;
  want(">");
  want("INIT => WAIT_CONFIG\r\n");
}

TEST_F(SimConsole, ResetSignalRestartsTheFirmwareInProcess) {
  board_->signal(SIGUSR1);
  want("rst:0x1 (POWERON_RESET)");
  want("INIT => WAIT_CONFIG\r\n");
  EXPECT_FALSE(board_->wait_exit(100ms)) << "the process must survive a reset";
}

TEST_F(SimConsole, EndsWhenTheSerialSideCloses) {
  board_->signal(SIGTERM);
  EXPECT_EQ(board_->wait_exit(10s), 0);
}

}  // namespace
}  // namespace provhil::test
