// The setup AP's HTTP API through a real HTTP client (curl), and the WiFi failure path.
#include <fstream>

#include "sim_test_support.hpp"

namespace provhil::test {
namespace {

using namespace std::chrono_literals;

TEST_F(SimTest, BoardInfoAnswersAndMovesToConfiguring) {
  start_with(test_profile());
  const auto base = ap_url();
  const auto r = curl_get(base + "/board_info.json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(std::regex_match(
      r.body,
      std::regex(R"(\{"board":"Lab Device","tmpl_id":"TMPL8sRFwcfqL","fw_type":"TMPL8sRFwcfqL",)"
                 R"("fw_ver":"0.1.0","ssid":"Blynk Lab Device-[0-9A-F]{5}","bssid":"24:0A:C4:5E:11:09",)"
                 R"("mac":"24:0A:C4:5E:11:08","last_error":0,"wifi_scan":true,"static_ip":true\})")))
      << r.body;
  want("WAIT_CONFIG => CONFIGURING\r\n");
  want("Sending board info...\r\n");
}

TEST_F(SimTest, WifiScanIsStrongestFirstAndAtMost15) {
  std::string networks;
  for (int i = 0; i < 17; ++i)
    networks += "    - { ssid: Net" + std::to_string(i) + ", pass: password" + std::to_string(i) +
                ", rssi: -" + std::to_string(90 - i * 2) + " }\n";
  auto profile = test_profile();
  profile.insert(profile.find("    - { ssid: LabNet"), networks);
  start_with(profile);
  const auto r = curl_get(ap_url() + "/wifi_scan.json");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<int> rssi;
  std::vector<std::string> ssids;
  const std::regex entry(
      R"re(\{"ssid":"([^"]*)","bssid":"[0-9A-Fa-f:]{17}","rssi":(-?\d+),"sec":"[A-Z0-9+-]+","ch":\d+\})re");
  for (auto it = std::sregex_iterator(r.body.begin(), r.body.end(), entry); it != std::sregex_iterator();
       ++it) {
    ssids.push_back((*it)[1]);
    rssi.push_back(std::stoi((*it)[2]));
  }
  ASSERT_EQ(rssi.size(), 15u) << r.body;
  EXPECT_TRUE(std::is_sorted(rssi.rbegin(), rssi.rend())) << r.body;
  EXPECT_EQ(ssids.front(), "LabNet");  // -48 dBm, the strongest of 19
  EXPECT_TRUE(r.body.starts_with("[\n  {")) << r.body;
  EXPECT_TRUE(r.body.ends_with("}\n]")) << r.body;
  want("Scanning networks...\r\n");
  want("Found networks: 19\r\n");
}

TEST_F(SimTest, ConfigValidatesTokenAndSsid) {
  start_with(test_profile());
  const auto base = ap_url();
  auto r = curl_get(base + "/config?blynk=tooshort&ssid=LabNet&pass=x");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"status":"error","msg":"Configuration invalid"})");
  want("Applying configuration...\r\n");
  want("WiFi SSID: LabNet Pass: x\r\n");
  want("Blynk cloud: tooshort @ :\r\n");
  want("Configuration invalid\r\n");
  r = curl_get(base + "/config?blynk=" + std::string(kToken) + "&ssid=&pass=x");
  EXPECT_EQ(r.status, 500) << r.body;
  // save=1 stores the configuration at once.
  r = curl_get(base + "/config?blynk=" + std::string(kToken) +
               "&ssid=Lab+Net&pass=a%26b&save=1&host=h&port_ssl=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok","msg":"Configuration saved"})");
  want("WiFi SSID: Lab Net Pass: a&b\r\n");  // query decoding: '+' and %XX
  want("SWITCH_TO_STA\r\n");
  std::ifstream state(state_file_);
  std::string text((std::istreambuf_iterator<char>(state)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("valid: true"), std::string::npos) << text;
  EXPECT_NE(text.find(kToken), std::string::npos) << text;
}

TEST_F(SimTest, UnknownPathIs404AndResetAndRebootWork) {
  start_with(test_profile());
  const auto base = ap_url();
  auto r = curl_get(base + "/nope");
  EXPECT_EQ(r.status, 404);
  r = curl_get(base + "/reset");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok","msg":"Configuration reset"})");
  want("WAIT_CONFIG => RESET_CONFIG\r\n");
  want("RESET_CONFIG => WAIT_CONFIG\r\n");
  const auto base2 = ap_url();
  r = curl_get(base2 + "/reboot");
  EXPECT_NE(r.exit_code, 0) << "/reboot answers nothing";
  want("rst:0xc (SW_CPU_RESET)");
  want("INIT => WAIT_CONFIG\r\n");
}

TEST_F(SimTest, EndpointFileExistsOnlyWhileTheApIsUp) {
  start_with(test_profile());
  ap_url();
  EXPECT_TRUE(std::filesystem::exists(endpoint_file_));
  board_->send("connect " + std::string(kToken) + " Nowhere x\r");
  want("Connecting to WiFi: Nowhere\r\n");
  EXPECT_FALSE(std::filesystem::exists(endpoint_file_));
}

TEST_F(SimTest, WrongWifiPasswordEndsInError701AndConfigMode) {
  start_with(test_profile());
  configure("wrongpass");
  want("WAIT_CONFIG => SWITCH_TO_STA\r\n");
  want("Switching to STA...\r\n");
  want("SWITCH_TO_STA => CONNECTING_NET\r\n");
  want("Connecting to WiFi: LabNet\r\n");
  want("Last error code: 701\r\n");  // as real-logs/02 shows it
  want("Configuration stored to flash\r\n");
  want("CONNECTING_NET => ERROR\r\n");
  want("Restarting after error.\r\n");
  want("rst:0xc (SW_CPU_RESET)");
  want("INIT => WAIT_CONFIG\r\n");
  const auto r = curl_get(ap_url() + "/board_info.json");
  EXPECT_NE(r.body.find(R"("last_error":701)"), std::string::npos) << r.body;
}

TEST_F(SimTest, MissingNetworkTakesTheSamePath) {
  start_with(test_profile(), {"--time-scale", "0"});
  want("AP URL:  blynk.setup\r\n");
  board_->send("connect " + std::string(kToken) + " NoSuchNet pass\r");
  want("Connecting to WiFi: NoSuchNet\r\n");
  want("CONNECTING_NET => ERROR\r\n");
  want("Restarting after error.\r\n");
  want("INIT => WAIT_CONFIG\r\n");
}

}  // namespace
}  // namespace provhil::test
