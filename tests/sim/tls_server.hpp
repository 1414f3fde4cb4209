#pragma once
// Test helper: a small TLS server on loopback standing in for the cloud (the provision call over
// HTTPS and the Blynk binary login on the same port), with a throwaway CA made by the openssl CLI.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace provhil::test {

struct TestCerts {
  std::filesystem::path ca_pem;
  std::filesystem::path leaf_pem;  // SAN: blynk.cloud, fra1.blynk.cloud
  std::filesystem::path leaf_key;
};
// Makes a CA and a leaf in `dir` with the openssl command line; throws when that fails.
TestCerts make_test_certs(const std::filesystem::path& dir);

struct HttpReply {
  int status = 200;
  std::string body;
  std::string location;
};

struct LoginFrame {
  int type = 0;
  int id = 0;
  std::string body;
};

class TlsTestServer {
 public:
  explicit TlsTestServer(const TestCerts& certs);
  ~TlsTestServer();
  std::uint16_t port() const;

  // Answers each HTTP request (target, Host header); default: 200 with an empty body.
  void on_http(std::function<HttpReply(const std::string& target, const std::string& host)> handler);
  // Status answered to HW_LOGIN (200 ok, 9 invalid token).
  void set_login_status(int status);

  std::vector<std::string> targets() const;    // HTTP request targets, in arrival order
  std::vector<std::string> sni_names() const;  // SNI of every TLS connection
  std::vector<LoginFrame> frames() const;      // Blynk frames received from the board
  // Polls `done` until it holds or `timeout` passes.
  bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace provhil::test
