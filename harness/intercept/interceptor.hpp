#pragma once
// The HTTPS interceptor: one service for the whole run. It terminates the boards' TLS with leaf
// certificates minted from the lab CA, checks and answers provision requests (scripted, or proxied
// to the real cloud), answers Blynk binary logins, and journals every exchange.
// Every public method is thread-safe; the server runs on its own threads.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "intercept/provision.hpp"

namespace provhil {
class SecretMasker;
}

namespace provhil::intercept {

struct InterceptorConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 0;       // 0: ephemeral
  std::string advertised_host;  // what boards are told to connect to; empty: listen_address
  enum class Mode { mock, proxy } mode = Mode::mock;
  std::string upstream_url = "https://blynk.cloud";
  std::filesystem::path upstream_ca_file;  // empty: the system roots
  bool rewrite_redirects = false;          // proxy: point an upstream Location back at us
  // TLS identity: the lab CA folder (leaves minted per SNI), or an explicit cert/key pair.
  std::filesystem::path ca_dir;  // empty and no cert_file: LabCa::default_dir()
  std::filesystem::path cert_file, key_file;
  std::filesystem::path journal_path;            // empty: no journal file (exchanges still kept in memory)
  std::optional<std::uint16_t> plain_http_port;  // 0: ephemeral; empty: no plain listener
  SecretMasker* masker = nullptr;                // tokens seen are added to it; may be null
  int threads = 2;
  // Phase deadlines: a slow or silent client holds nothing longer than these.
  // Each runs from its phase's start; nothing the client sends moves it.
  std::chrono::milliseconds handshake_timeout{10'000}, header_timeout{10'000}, body_timeout{10'000},
      idle_timeout{30'000}, upstream_timeout{10'000};
  // A Blynk connection that has not logged in is closed this long after it was accepted.
  std::chrono::milliseconds login_timeout{10'000};
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 64 * 1024;
  // Called on a server thread after each exchange is recorded (e.g. `provhil intercept` prints it).
  std::function<void(const Exchange&)> on_exchange;
  // Called once, on a server thread, when a write to the journal fails (a full disk): the journal
  // keeps its whole lines and takes no more; the message is "PATH: cannot write the journal: REASON".
  std::function<void(const std::string&)> on_journal_error;
};

// The listener could not start (cannot bind, bad TLS material): the CLI maps it to exit 3.
struct InterceptorStartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using ExpectationId = std::uint64_t;

class Interceptor {
 public:
  // Binds and starts serving; throws InterceptorStartError.
  explicit Interceptor(InterceptorConfig config);
  ~Interceptor();  // stops the server and joins its threads
  Interceptor(const Interceptor&) = delete;
  Interceptor& operator=(const Interceptor&) = delete;

  std::string host() const;    // the advertised host
  std::uint16_t port() const;  // the TLS port actually bound
  std::optional<std::uint16_t> plain_port() const;
  std::filesystem::path ca_certificate_path() const;  // PEM of the CA boards must trust

  // ---- expectations (keyed by token) ----
  ExpectationId expect_provision(ProvisionExpectation expectation);
  ExpectationId expect_login(LoginExpectation expectation);
  // Declares that `owner` owns `token` without expecting anything yet: requests with it are then
  // reported as unexpected against that owner instead of against the run.
  void claim_token(const std::string& token, const std::string& owner);
  // Handshake-level faults for the next matching connection(s).
  void arm_connection_fault(ConnectionFault fault);

  // Blocks until the expectation's count rule holds or `deadline` passes (woken by arrivals, never
  // polling). For `none` it waits the whole deadline unless a request arrives. For `exactly N` it
  // returns as soon as N arrived; a later extra request shows in finish().
  WaitResult wait(ExpectationId id, std::chrono::steady_clock::time_point deadline);
  // The result now, without waiting, and the expectation retired (later requests are unexpected).
  WaitResult finish(ExpectationId id);

  // ---- exchanges ----
  std::vector<Exchange> exchanges_for_token(const std::string& token) const;
  std::vector<Exchange> exchanges_for_owner(const std::string& owner) const;
  std::vector<Exchange> unowned_unexpected() const;  // unexpected requests nobody owns (the run's)
  std::vector<Exchange> all_exchanges() const;
  // JSON lines (tokens masked) for report attachments.
  std::string journal_lines_for_owner(const std::string& owner) const;
  // Why the journal file stopped (see on_journal_error); empty while it is written.
  std::string journal_error() const;
  // How many minted leaves are cached now (bounded; for tests and the soak benchmark).
  std::size_t cached_leaf_certificates() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace provhil::intercept
