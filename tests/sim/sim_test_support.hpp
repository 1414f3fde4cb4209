#pragma once
// Shared fixture for the simulator tests: a temp folder, a throwaway CA, a local TLS "cloud", and
// helpers that start the simulated board on a pty and talk to its setup AP with curl.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "pty_board.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tls_server.hpp"

namespace provhil::test {

inline constexpr const char* kToken = "Rps15JICmtRVbFyS_95houlLbm6xIQ2L";

// A compact profile; `extra` is appended at the top level (e.g. a faults: block).
std::string test_profile(const std::string& extra = {}, const std::string& cloud_extra = {},
                         const std::string& dialect = "edgent-1.2");

// "[123] " -> "[ms] " so boot logs compare line for line.
std::string normalize_millis(const std::string& text);

struct CurlResult {
  int status = 0;
  std::string body;
  int exit_code = -1;
};
CurlResult curl_get(const std::string& url);

class SimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // Starts the board with `profile_path` (fast: --time-scale 0 unless args say otherwise).
  PtyBoard& start_file(const std::filesystem::path& profile_path, std::vector<std::string> extra = {});
  PtyBoard& start_with(const std::string& profile_text, std::vector<std::string> extra = {});
  // Starts a TLS cloud and returns the --resolve/--ca arguments that point blynk.cloud:443 at it.
  std::vector<std::string> cloud_args();
  // Waits for the setup AP and returns "http://127.0.0.1:PORT".
  std::string ap_url();
  // Expects `needle`; on timeout fails the test with what arrived instead.
  void want(std::string_view needle, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Sends /config for LabNet to the AP and expects the board to accept it.
  void configure(const std::string& pass = "labpass123", const std::string& host = "blynk.cloud",
                 const std::string& port = "443");

  TempDir dir_;
  std::unique_ptr<TlsTestServer> server_;
  std::unique_ptr<PtyBoard> board_;
  std::filesystem::path state_file_ = dir_ / "state.yaml";
  std::filesystem::path endpoint_file_ = dir_ / "ap-endpoint";
  static std::unique_ptr<TempDir> cert_dir_;
  static TestCerts certs_;
};

}  // namespace provhil::test
