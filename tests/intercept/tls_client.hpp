#pragma once
// The project's own test client: one connection, optional TLS with verification against a CA file,
// send bytes, read until the server closes (or enough bytes arrived), every step under a deadline.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace provhil::test {

struct ClientOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  bool tls = true;
  std::string sni;      // empty: none sent
  std::string ca_file;  // verify against it (host name: sni, else address); empty: no verification
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::size_t stop_after_bytes = 0;  // > 0: stop reading once this many bytes arrived
};

struct ClientResult {
  bool connected = false;
  bool handshake_ok = false;
  std::string handshake_error;  // e.g. "certificate verify failed", "tlsv1 alert internal error"
  std::string tls_version;
  std::vector<std::string> peer_san;  // the server certificate's SANs: "DNS:name", "IP:address", "other"
  std::string received;
  std::string
      read_error;      // how reading ended: "end of file", "Connection reset by peer", "stream truncated"...
  int read_errno = 0;  // the system error number when reading ended with one (ECONNRESET, ...)
  bool timed_out = false;
};

ClientResult run_client(const ClientOptions& options, const std::string& send);

// Convenience: "GET <target> HTTP/1.1" with Host and Connection: close.
std::string get_request(const std::string& target, const std::string& host = "localhost");

}  // namespace provhil::test
