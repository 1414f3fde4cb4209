// The simulator against the real logs of tests/data/real-logs/: each test names the real line it matches.
#include <signal.h>

#include "sim_test_support.hpp"

namespace provhil::test {
namespace {

using namespace std::chrono_literals;

const std::string kFixtures = std::string(PROVHIL_SOURCE_DIR) + "/fixtures/sim/";

// The stamp in group 1 of the last expect_regex (read at once: the next one reuses the matched text).
long stamp_of(const std::optional<std::smatch>& match) {
  return match ? std::stol((*match)[1].str()) : -1;
}

// real-logs/01: `[1749] AP SSID: Blynk TempSensB04-8E17E`: five upper-case hex characters.
TEST_F(SimTest, ApNameEndsInFiveHexCharacters) {
  auto& board = start_file(kFixtures + "esp32-edgent-1.1.yaml");
  auto ssid = board.expect_regex(R"(\[\d+\] AP SSID: Blynk Lab Device-([0-9A-F]+)\r\n)");
  ASSERT_TRUE(ssid) << board.unread();
  EXPECT_EQ((*ssid)[1].str().size(), 5u) << (*ssid)[0].str();
}

// Real stamps always grow; at time scale 0 the delays are not waited but still counted: the boot's
// 400 ms before the banner and the AP's 2.6 s show in the stamps, as on a board.
TEST_F(SimTest, StampsGrowAtTimeScaleZero) {
  auto& board = start_file(kFixtures + "esp32-edgent-1.1.yaml", {"--time-scale", "0"});
  const long banner = stamp_of(board.expect_regex(R"(\[(\d+)\] \r\n)"));
  const long state = stamp_of(board.expect_regex(R"(>\[(\d+)\] INIT => WAIT_CONFIG)"));
  const long ap = stamp_of(board.expect_regex(R"(\[(\d+)\] AP SSID: )"));
  ASSERT_TRUE(banner >= 0 && state >= 0 && ap >= 0) << board.output();
  EXPECT_GE(banner, 400);
  EXPECT_GE(state, banner);
  EXPECT_GE(ap - state, 2600);
}

// real-logs/02: `[69505] Connecting to WiFi: "hotchs"`, `[99506] Last error code: 701`,
// `[99510] Configuration stored to flash`: the shipped profile gives up after 30 s (in the stamps even
// at time scale 0).
TEST_F(SimTest, WrongPasswordGivesLastError701ThirtySecondsAfterConnecting) {
  auto& board = start_file(kFixtures + "esp32.yaml", {"--time-scale", "0"});
  want("AP URL:  blynk.setup\r\n");
  board.send("connect " + std::string(kToken) + " LabNet wrongpass\r");
  const long connecting = stamp_of(board.expect_regex(R"(\[(\d+)\] Connecting to WiFi: LabNet\r\n)"));
  const long error = stamp_of(board.expect_regex(R"(\[(\d+)\] Last error code: 701\r\n)"));
  ASSERT_TRUE(connecting >= 0 && error >= 0) << board.output();
  EXPECT_GE(error - connecting, 30000);
  EXPECT_LT(error - connecting, 31000);
  want("Configuration stored to flash\r\n");
  want("CONNECTING_NET => ERROR\r\n");
}

// real-logs/01: an ESP8266 on 1.1 prints its own device block and `Current time: ...` before
// `Connecting to blynk.cloud:443`, and no `Certificate OK`.
TEST_F(SimTest, Esp8266OnEdgent11PrintsCurrentTimeNotCertificateOk) {
  auto args = cloud_args();
  auto profile = kFixtures + "esp8266-edgent-1.1.yaml";
  auto& board = start_file(profile, args);
  auto text = board.expect("AP IP:   192.168.4.1\r\n");  // configure() waits for the AP URL line
  ASSERT_TRUE(text) << board.unread();
  auto log = normalize_millis(*text);
  for (const char* line :
       {"rst cause:1, boot mode:(3,6)", "/___/ v1.1.0 on ESP8266", "[ms] Product:  Lab Device\r\n",
        "[ms] Hardware: 1.0.0\r\n", "[ms] Firmware: 0.1.0 (build Jan  2 2023 16:45:09)\r\n",
        "[ms] Device:   ESP8266 @ 80MHz\r\n", "[ms] MAC:      EC:FA:BC:93:C0:02\r\n",
        "[ms] Flash:    1024K\r\n", "[ms] ESP core: 3.0.2\r\n", "[ms] ESP SDK:  2.2.2-dev(38a443e)\r\n",
        "[ms] Boot Ver: 31\r\n", "[ms] Boot Mode:1\r\n", "[ms] FW info:  469056/2674688, MD5:",
        "[ms] Free mem: 32560\r\n", "[ms] AP SSID: Blynk Lab Device-", "[ms] AP IP:   192.168.4.1\r\n"})
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  configure();
  want("CONNECTING_NET => CONNECTING_CLOUD\r\n");
  auto time = board.expect_regex(R"(\[\d+\] Current time: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n)");
  ASSERT_TRUE(time) << board.unread();
  auto rest = board.expect_regex(R"(\[\d+\] Ready \(ping: \d+ms\)\.\r\n)");
  ASSERT_TRUE(rest) << board.unread();
  EXPECT_EQ(rest->prefix().str().find("Certificate OK"), std::string::npos) << rest->prefix().str();
  EXPECT_NE(rest->prefix().str().find("Connecting to blynk.cloud:443"), std::string::npos);
}

// real-logs/03: `Hold the button for 10 seconds to reset configuration...`, `Resetting configuration!`,
// `Configuration stored to flash`, `nvs_flash_erase: Success`, `RESET_CONFIG => WAIT_CONFIG` (no logged
// transition into RESET_CONFIG), then the AP lines again.
TEST_F(SimTest, ButtonHoldResetsTheConfigurationAsARealBoard) {
  start_with(test_profile("faults: { button_hold_after: 300ms }\n", {}, "edgent-1.1"));
  want("Hold the button for 10 seconds to reset configuration...\r\n");
  want("Resetting configuration!\r\n");
  want("Configuration stored to flash\r\n");
  auto erase = board_->expect("nvs_flash_erase: Success\r\n");
  ASSERT_TRUE(erase) << board_->unread();
  EXPECT_EQ(erase->find("=> RESET_CONFIG"), std::string::npos) << *erase;
  want("RESET_CONFIG => WAIT_CONFIG\r\n");
  want("AP SSID: Blynk Lab Device-");
  want("AP URL:  blynk.setup\r\n");
}

// real-logs/05: `Disconnected`, `WAIT_CONFIG => OTA_UPGRADE`, `Firmware update URL: ...`,
// `HTTP response should be 200` (6.3 s later), `OTA_UPGRADE => ERROR`, `Restarting after error.`,
// `rst:0xc (SW_CPU_RESET)`.
TEST_F(SimTest, RefusedOtaGoesToErrorAndRestartsAsARealBoard) {
  start_file(kFixtures + "esp32-ota-refused.yaml", {"--time-scale", "0"});
  want("AP URL:  blynk.setup\r\n");
  want("Disconnected\r\n");
  want("WAIT_CONFIG => OTA_UPGRADE\r\n");
  const long url =
      stamp_of(board_->expect_regex(R"(\[(\d+)\] Firmware update URL: http://ny3\.blynk\.cloud/\S+\r\n)"));
  const long refused = stamp_of(board_->expect_regex(R"(\[(\d+)\] HTTP response should be 200\r\n)"));
  ASSERT_TRUE(url >= 0 && refused >= 0) << board_->output();
  EXPECT_GE(refused - url, 6281);
  want("OTA_UPGRADE => ERROR\r\n");
  want("Restarting after error.\r\n");
  want("rst:0xc (SW_CPU_RESET)");
}

// real-logs/10: the ESP-IDF component prints `I (771) edgent.c: Blynk.Edgent initialized (device: ...)` and
// `I (771) edgent.c: State: IDLE => ...`: no banner, no `[ms]` lines.
TEST_F(SimTest, EspIdfProfilePrintsStateLinesInTheIdfFrame) {
  auto& board = start_file(kFixtures + "esp32-idf.yaml");
  auto text = board.expect_regex(R"(I \(\d+\) edgent\.c: State: IDLE => WAIT_CONFIG\r\n)");
  ASSERT_TRUE(text) << board.unread();
  auto before = text->prefix().str();
  EXPECT_NE(before.find("edgent.c: Blynk.Edgent initialized (device: Blynk Demo-"), std::string::npos)
      << before;
  EXPECT_EQ(before.find("/___/"), std::string::npos) << before;
  EXPECT_EQ(normalize_millis(before).find("[ms]"), std::string::npos) << before;
}

}  // namespace
}  // namespace provhil::test
