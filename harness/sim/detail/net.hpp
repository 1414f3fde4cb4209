#pragma once
// Internal to the sim module: the simulated board's network side. Asio types appear here, Beast and
// SSL stay inside net.cpp (one heavy translation unit).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/simulator.hpp"

namespace provhil::sim::net {

namespace asio = boost::asio;

struct ApResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool drop = false;  // close the connection without an answer (the board reboots)
};
// Called with the request target ("/config?blynk=..."); runs on the io_context thread.
using ApHandler = std::function<ApResponse(const std::string& target)>;

// The setup AP's HTTP server (Beast) on 127.0.0.1, an ephemeral port.
class ApServer {
 public:
  ApServer(asio::io_context& io, ApHandler handler);  // throws std::system_error when it cannot bind
  ~ApServer();
  ApServer(const ApServer&) = delete;
  ApServer& operator=(const ApServer&) = delete;
  std::uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

enum class ConnectStatus { ok, connect_failed, tls_failed };
struct ConnectResult {
  ConnectStatus status = ConnectStatus::connect_failed;
  std::string detail;  // why, for logs
};

struct HttpResult {
  std::string error;  // empty: an answer arrived
  int status = 0;
  std::string location;
  std::string body;
};

// One TLS client connection at a time (the HTTPS provision call, then the Blynk binary protocol).
// Verifies the chain against the CA file (system roots when none) and the host name; TLS 1.2+.
class TlsClient {
 public:
  // `source_address`: the local address its connections come from (empty: the kernel's choice), so
  // that a server can tell simulated boards on one host apart as it tells real ones by their IP.
  TlsClient(asio::io_context& io, const std::filesystem::path& ca_file, std::vector<ResolveEntry> resolve,
            const std::string& source_address = {});
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  asio::awaitable<ConnectResult> connect(std::string host, std::uint16_t port,
                                         std::chrono::milliseconds timeout);
  asio::awaitable<HttpResult> http_get(std::string host_header, std::string target,
                                       std::chrono::milliseconds timeout);
  // Empty string on success, else what went wrong.
  asio::awaitable<std::string> write(std::string bytes, std::chrono::milliseconds timeout);
  // Exactly `size` bytes, or an error (timeout 0: wait as long as the connection lives).
  asio::awaitable<std::string> read_exact(std::size_t size, std::string& out,
                                          std::chrono::milliseconds timeout);
  // Aborts whatever is in flight; safe to call at any time.
  void close();
  bool is_open() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace provhil::sim::net
