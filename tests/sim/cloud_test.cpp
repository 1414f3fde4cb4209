// The provision call and the Blynk login against a local TLS server; the state file across reboots.
#include <signal.h>

#include <fstream>

#include "sim_test_support.hpp"

namespace provhil::test {
namespace {

using namespace std::chrono_literals;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

const char* kExpectedTarget =
    "/external/api/provision?token=Rps15JICmtRVbFyS_95houlLbm6xIQ2L&templateId=TMPL8sRFwcfqL"
    "&build=Oct++1+2023+12%3A00%3A00&ver=0.1.0&type=MCU&fwType=TMPL8sRFwcfqL&blVer=1.2.0&boType=ESP32";

TEST_F(SimTest, ProvisionCallThenLoginThenRunning) {
  auto args = cloud_args();
  start_with(test_profile(), args);
  configure();
  want("WAIT_CONFIG => SWITCH_TO_STA\r\n");
  want("Switching to STA...\r\n");
  want("SWITCH_TO_STA => CONNECTING_NET\r\n");
  want("Connecting to WiFi: LabNet\r\n");
  want("Using Dynamic IP: 192.168.50.23\r\n");
  want("CONNECTING_NET => CONNECTING_CLOUD\r\n");
  want("Connecting to blynk.cloud:443\r\n");
  want("Certificate OK\r\n");
  ASSERT_TRUE(board_->expect_regex(R"(\[\d+\] Ready \(ping: \d+ms\)\.\r\n)")) << board_->unread();
  want("CONNECTING_CLOUD => RUNNING\r\n");
  want("Configuration stored to flash\r\n");

  // The documented query, percent-encoded (the build's spaces as '+', its colons as %3A).
  const auto targets = server_->targets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0], kExpectedTarget);
  for (const auto& sni : server_->sni_names())
    EXPECT_EQ(sni, "blynk.cloud");

  // HW_LOGIN with the token, then the INTERNAL info frame, then pings at the heartbeat (200 ms).
  ASSERT_TRUE(server_->wait_for([&] { return server_->frames().size() >= 4; }, 10s));
  const auto frames = server_->frames();
  EXPECT_EQ(frames[0].type, 29);
  EXPECT_EQ(frames[0].body, kToken);
  EXPECT_EQ(frames[1].type, 17);
  EXPECT_NE(frames[1].body.find(std::string("tmpl\0TMPL8sRFwcfqL", 18)), std::string::npos);
  EXPECT_NE(frames[1].body.find(std::string("h-beat\0", 7)), std::string::npos);
  EXPECT_EQ(frames[2].type, 6);
  EXPECT_EQ(frames[3].type, 6);
  EXPECT_EQ(board_->read_for(300ms).find("Heartbeat timeout"), std::string::npos);

  const auto state = read_text(state_file_);
  EXPECT_NE(state.find("valid: true"), std::string::npos) << state;
  EXPECT_NE(state.find("last_error: 0"), std::string::npos) << state;
}

TEST_F(SimTest, StateSurvivesRebootAndResetAndConfigEraseWipesIt) {
  auto args = cloud_args();
  start_with(test_profile(), args);
  configure();
  want("Configuration stored to flash\r\n");

  board_->send("reboot\r");
  want("rst:0xc (SW_CPU_RESET)");
  want(
      " Token:     Rps1 - \u2022\u2022\u2022\u2022 - \u2022\u2022\u2022\u2022 - "
      "\u2022\u2022\u2022\u2022\r\n");
  want(">");
  want("INIT => CONNECTING_NET\r\n");
  want("CONNECTING_CLOUD => RUNNING\r\n");
  EXPECT_EQ(server_->targets().size(), 1u) << "a provisioned board only logs in";

  board_->signal(SIGUSR1);  // EN pin
  want("rst:0x1 (POWERON_RESET)");
  want("INIT => CONNECTING_NET\r\n");
  want("CONNECTING_CLOUD => RUNNING\r\n");

  board_->send("config erase\r");
  want("RUNNING => RESET_CONFIG\r\n");
  want("Resetting configuration!\r\n");
  want("RESET_CONFIG => WAIT_CONFIG\r\n");
  const auto state = read_text(state_file_);
  EXPECT_NE(state.find("valid: false"), std::string::npos) << state;
  EXPECT_EQ(state.find(kToken), std::string::npos) << state;

  // A restart of the whole process reads the same flash.
  board_.reset();
  start_with(test_profile(), args);
  want("INIT => WAIT_CONFIG\r\n");
}

TEST_F(SimTest, ProvisionFollowsRedirects) {
  auto args = cloud_args();
  const auto port = std::to_string(server_->port());
  server_->on_http([port](const std::string& target, const std::string& host) {
    if (host == "blynk.cloud") return HttpReply{308, {}, "https://fra1.blynk.cloud:" + port + target};
    return HttpReply{200, "{}", {}};
  });
  start_with(test_profile(), args);
  configure();
  want("Redirecting to fra1.blynk.cloud:" + port + "\r\n");
  want("CONNECTING_CLOUD => RUNNING\r\n");
  const auto targets = server_->targets();
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0], kExpectedTarget);
  EXPECT_EQ(targets[1], kExpectedTarget);
  const auto sni = server_->sni_names();
  EXPECT_NE(std::find(sni.begin(), sni.end(), "fra1.blynk.cloud"), sni.end());
}

TEST_F(SimTest, ProvisionGivesUpAfterThreeRedirects) {
  auto args = cloud_args();
  server_->on_http([](const std::string& target, const std::string&) { return HttpReply{302, {}, target}; });
  start_with(test_profile("", "  provision_retries: 1\n"), args);
  configure();
  want("Provision failed: too many redirects\r\n");
  want("CONNECTING_CLOUD => ERROR\r\n");
  EXPECT_EQ(server_->targets().size(), 4u);
}

TEST_F(SimTest, ProvisionInvalidTokenGoesBackToConfigWith703) {
  auto args = cloud_args();
  server_->on_http([](const std::string&, const std::string&) {
    return HttpReply{400, R"({"error":{"message":"Invalid token."}})", {}};
  });
  start_with(test_profile(), args);
  configure();
  want("Invalid auth token\r\n");
  want("CONNECTING_CLOUD => WAIT_CONFIG\r\n");
  const auto r = curl_get(ap_url() + "/board_info.json");
  EXPECT_NE(r.body.find(R"("last_error":703)"), std::string::npos) << r.body;
  EXPECT_TRUE(server_->frames().empty()) << "no login after a refused provision call";
}

TEST_F(SimTest, ProvisionServerErrorsAreRetriedWithBackoffThen702) {
  auto args = cloud_args();
  server_->on_http([](const std::string&, const std::string&) { return HttpReply{500, "oops", {}}; });
  start_with(test_profile(), args);
  configure();
  for (int i = 0; i < 3; ++i)
    want("Provision failed: HTTP 500\r\n");
  want("CONNECTING_CLOUD => ERROR\r\n");
  EXPECT_EQ(server_->targets().size(), 3u);
  want("Restarting after error.\r\n");
  want("INIT => WAIT_CONFIG\r\n");
  const auto r = curl_get(ap_url() + "/board_info.json");
  EXPECT_NE(r.body.find(R"("last_error":702)"), std::string::npos) << r.body;
}

TEST_F(SimTest, HostNameIsVerified) {
  auto args = cloud_args();
  start_with(test_profile(), args);
  configure("labpass123", "wrong.example",
            "443");  // resolves to the server, whose certificate does not name it
  want("Secure connection failed\r\n");
  EXPECT_TRUE(server_->targets().empty());
}

TEST_F(SimTest, StockEdgentOnlyLogsIn) {
  auto args = cloud_args();
  start_with(test_profile("", "  provision_call: false\n"), args);
  configure();
  want("CONNECTING_CLOUD => RUNNING\r\n");
  EXPECT_TRUE(server_->targets().empty());
  ASSERT_FALSE(server_->frames().empty());
  EXPECT_EQ(server_->frames()[0].type, 29);
}

TEST_F(SimTest, LoginInvalidTokenGoesBackToConfig) {
  auto args = cloud_args();
  server_->set_login_status(9);
  start_with(test_profile("", "  provision_call: false\n"), args);
  configure();
  want("Certificate OK\r\n");
  want("Invalid auth token\r\n");
  want("CONNECTING_CLOUD => WAIT_CONFIG\r\n");
}

TEST_F(SimTest, ConsoleConnectUsesBlynkCloud443) {
  auto args = cloud_args();
  start_with(test_profile(), args);
  want("AP URL:  blynk.setup\r\n");
  board_->send("connect " + std::string(kToken) + " LabNet labpass123\r");
  want("WAIT_CONFIG => SWITCH_TO_STA\r\n");
  want("Connecting to blynk.cloud:443\r\n");
  want("CONNECTING_CLOUD => RUNNING\r\n");
  EXPECT_EQ(server_->targets().size(), 1u);
}

}  // namespace
}  // namespace provhil::test
