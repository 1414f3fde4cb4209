#pragma once
// Internal: accepts connections on one port and starts each one's coroutine on its own strand. On
// the TLS port it applies a stalled-handshake fault, turns away what is not TLS, runs the
// handshake; on both it hands the connection to an HTTP session, a Blynk session or the Blynk
// tunnel by the first bytes.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>

#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

class TlsIdentity;

class Listener {
 public:
  // Binds `port` on config.listen_address (0: ephemeral); throws InterceptorStartError. `tls` null:
  // the plain port.
  Listener(asio::io_context& ioc, SharedState& shared, TlsIdentity* tls, std::uint16_t port);
  std::uint16_t port() const { return port_; }
  void start();  // the accept loop, on the io_context

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve_tls(tcp::socket socket);
  asio::awaitable<void> serve_plain(tcp::socket socket);
  template <class Stream>
  asio::awaitable<void> serve_by_first_byte(Stream& stream, beast::flat_buffer& buffer, Connection& conn,
                                            Clock::time_point started, const char* silent);
  asio::awaitable<void> reject_not_tls(PlainStream& plain, beast::flat_buffer& buffer, const Connection& conn,
                                       Clock::time_point started);

  asio::io_context& ioc_;
  SharedState& shared_;
  TlsIdentity* tls_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
};

}  // namespace provhil::intercept::detail
