#include "sim_test_support.hpp"

#include <fstream>
#include <thread>

namespace provhil::test {

std::unique_ptr<TempDir> SimTest::cert_dir_;
TestCerts SimTest::certs_;

std::string test_profile(const std::string& extra, const std::string& cloud_extra,
                         const std::string& dialect) {
  return "dialect: " + dialect +
         "\n"
         "board: { type: ESP32, mac: \"24:0A:C4:5E:11:08\" }\n"
         "firmware:\n"
         "  template_id: TMPL8sRFwcfqL\n"
         "  template_name: Lab Device\n"
         "  version: 0.1.0\n"
         "  build: \"Oct  1 2023 12:00:00\"\n"
         "  library_version: 1.2.0\n"
         "cloud:\n"
         "  heartbeat: 200ms\n"
         "  provision_backoff: 50ms\n"
         "  network_timeout: 3s\n" +
         cloud_extra +
         "wifi:\n"
         "  fail_time: 200ms\n"
         "  networks:\n"
         "    - { ssid: LabNet, pass: labpass123, bssid: \"9C:53:22:10:00:01\", rssi: -48, sec: WPA2, ch: 6 "
         "}\n"
         "    - { ssid: Guest, bssid: \"A4:2B:B0:77:10:0A\", rssi: -72, ch: 11 }\n" +
         extra;
}

std::string normalize_millis(const std::string& text) {
  static const std::regex millis(R"(\[\d+\] )");
  return std::regex_replace(text, millis, "[ms] ");
}

CurlResult curl_get(const std::string& url) {
  auto r = run_process({"curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", url});
  CurlResult out;
  out.exit_code = r.exit_code;
  const auto nl = r.out.rfind('\n');
  if (nl != std::string::npos) {
    out.body = r.out.substr(0, nl);
    out.status = std::atoi(r.out.substr(nl + 1).c_str());
  }
  return out;
}

void SimTest::SetUpTestSuite() {
  cert_dir_ = std::make_unique<TempDir>();
  certs_ = make_test_certs(cert_dir_->path());
}

void SimTest::TearDownTestSuite() {
  cert_dir_.reset();
}

PtyBoard& SimTest::start_file(const std::filesystem::path& profile_path, std::vector<std::string> extra) {
  std::vector<std::string> args = {"--profile",          profile_path.string(), "--state",
                                   state_file_.string(), "--ap-endpoint-file",  endpoint_file_.string()};
  bool has_scale = false;
  for (const auto& a : extra)
    has_scale = has_scale || a == "--time-scale";
  if (!has_scale) extra.insert(extra.end(), {"--time-scale", "0"});
  args.insert(args.end(), extra.begin(), extra.end());
  board_.reset();
  board_ = std::make_unique<PtyBoard>(SIM_CHILD_BINARY, args, dir_ / "stderr.txt");
  return *board_;
}

PtyBoard& SimTest::start_with(const std::string& profile_text, std::vector<std::string> extra) {
  const auto path = write_file(dir_ / "profile.yaml", profile_text);
  return start_file(path, std::move(extra));
}

std::vector<std::string> SimTest::cloud_args() {
  if (!server_) server_ = std::make_unique<TlsTestServer>(certs_);
  const auto port = std::to_string(server_->port());
  return {"--ca",      certs_.ca_pem.string(),
          "--resolve", "blynk.cloud:443=127.0.0.1:" + port,
          "--resolve", "fra1.blynk.cloud:" + port + "=127.0.0.1:" + port,
          "--resolve", "wrong.example:443=127.0.0.1:" + port};
}

std::string SimTest::ap_url() {
  want("AP URL:  blynk.setup\r\n");
  std::ifstream file(endpoint_file_);
  std::string endpoint;
  std::getline(file, endpoint);
  EXPECT_TRUE(endpoint.starts_with("127.0.0.1:")) << "endpoint file: '" << endpoint << "'";
  return "http://" + endpoint;
}

void SimTest::want(std::string_view needle, std::chrono::milliseconds timeout) {
  if (!board_->expect(needle, timeout)) {
    FAIL() << "expected '" << needle << "' within " << timeout.count() << " ms; after the cursor came:\n"
           << board_->unread() << "\n(stderr: " << board_->stderr_text() << ")";
  }
}

void SimTest::configure(const std::string& pass, const std::string& host, const std::string& port) {
  const auto base = ap_url();
  const auto r = curl_get(base + "/config?blynk=" + std::string(kToken) + "&ssid=LabNet&pass=" + pass +
                          "&host=" + host + "&port_ssl=" + port);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body, R"({"status":"ok","msg":"Trying to connect..."})");
}

}  // namespace provhil::test
