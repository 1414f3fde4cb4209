#include "intercept/detail/listener.hpp"

#include <fmt/format.h>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include "intercept/detail/blynk_session.hpp"
#include "intercept/detail/blynk_tunnel.hpp"
#include "intercept/detail/dispatch.hpp"
#include "intercept/detail/exchanges.hpp"
#include "intercept/detail/http_session.hpp"
#include "intercept/detail/stream_ops.hpp"
#include "intercept/detail/tls_identity.hpp"
#include "intercept/registry.hpp"

namespace provhil::intercept::detail {

using asio::use_awaitable;

namespace {

std::string hex_prefix(std::string_view bytes, std::size_t max = 16) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i)
    out += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned char>(bytes[i]));
  return out;
}

std::span<const unsigned char> bytes_of(const beast::flat_buffer& buffer) {
  return {static_cast<const unsigned char*>(buffer.data().data()), buffer.size()};
}

}  // namespace

Listener::Listener(asio::io_context& ioc, SharedState& shared, TlsIdentity* tls, std::uint16_t port)
    : ioc_(ioc), shared_(shared), tls_(tls), acceptor_(ioc) {
  const auto& config = shared_.config;
  const char* what = tls ? "TLS" : "plain HTTP";
  boost::system::error_code ec;
  auto address = asio::ip::make_address(config.listen_address, ec);
  if (ec)
    throw InterceptorStartError(
        fmt::format("listen address \"{}\" is not an IP address", config.listen_address));
  tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw InterceptorStartError(
        fmt::format("cannot listen for {} on {}: {}", what, endpoint_text(endpoint), ec.message()));
  port_ = acceptor_.local_endpoint().port();
}

void Listener::start() {
  asio::co_spawn(ioc_, accept_loop(), asio::detached);
}

asio::awaitable<void> Listener::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::make_strand(ioc_), asio::redirect_error(use_awaitable, ec));
    if (shared_.stopping) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: breathe, then go on serving.
      asio::steady_timer pause(ioc_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    // Answers go out whole: no Nagle wait on the last small segment.
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    if (tls_)
      asio::co_spawn(executor, serve_tls(std::move(socket)), asio::detached);
    else
      asio::co_spawn(executor, serve_plain(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Listener::serve_plain(tcp::socket socket) {
  auto started = Clock::now();
  Connection conn = make_connection(socket);
  PlainStream stream(std::move(socket));
  beast::flat_buffer buffer;
  // Plain Blynk (port 80/8080) speaks the binary protocol too.
  co_await serve_by_first_byte(stream, buffer, conn, started, "no request before the header deadline");
}

asio::awaitable<void> Listener::serve_tls(tcp::socket socket) {
  const auto& config = shared_.config;
  auto started = Clock::now();
  Connection conn = make_connection(socket);
  if (auto stall = shared_.registry.take_connection_fault("", conn.client_address, true)) {
    // Stalled handshake: hold the TCP connection and say nothing until the handshake deadline
    // (what the client sends stays unread in the kernel), journal it, then close.
    asio::steady_timer hold(co_await asio::this_coro::executor, config.handshake_timeout);
    boost::system::error_code ec;
    co_await hold.async_wait(asio::redirect_error(use_awaitable, ec));
    Exchange ex = base_exchange(conn, started);
    ex.kind = ExchangeKind::fault;
    ex.owner = stall->owner;
    ex.answered_by = stall->kind;
    record(shared_.registry, std::move(ex), started);
    socket.close(ec);
    co_return;
  }

  // Peeking leaves the bytes in the socket for OpenSSL; anything that is not a ClientHello is read
  // out and turned away.
  TlsStream stream(std::move(socket), tls_->context());
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  stream.expires_after(config.handshake_timeout);
  std::array<unsigned char, 6> head{};
  auto peeked = co_await stream.async_peek(asio::buffer(head), asio::redirect_error(use_awaitable, ec));
  if (ec) {
    if (is_timeout(ec))
      record(shared_.registry, rejected(base_exchange(conn, started), "no TLS handshake before the deadline"),
             started);
    co_return;
  }
  switch (classify_tls_port(std::span<const unsigned char>(head.data(), peeked))) {
    case TlsPortGreeting::client_hello:
      break;
    case TlsPortGreeting::plain_http:
    case TlsPortGreeting::other: {
      PlainStream plain(std::move(stream.socket()));
      plain.expires_after(config.handshake_timeout);
      auto n = co_await plain.async_read_some(buffer.prepare(1024), asio::redirect_error(use_awaitable, ec));
      if (ec)  // gone meanwhile: what the peek saw is still what it sent
        n = asio::buffer_copy(buffer.prepare(peeked), asio::buffer(head.data(), peeked));
      buffer.commit(n);
      co_await reject_not_tls(plain, buffer, conn, started);
      co_return;
    }
  }

  TlsIdentity::attach(stream.native_handle(), &conn);
  co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
  TlsIdentity::attach(stream.native_handle(), nullptr);
  if (ec) {
    std::string why = is_timeout(ec) ? std::string("TLS handshake deadline passed")
                                     : "TLS handshake failed: " + ec.message();
    if (!conn.fault_is(ConnectionFault::Kind::tls_alert))  // else journaled already
      record(shared_.registry, rejected(base_exchange(conn, started), why), started);
    co_return;
  }
  conn.tls_version = SSL_get_version(stream.native_handle());
  if (conn.fault) {
    // An expired or wrong-name leaf the client accepted anyway: note it on what follows.
    Exchange ex = base_exchange(conn, started);
    ex.kind = ExchangeKind::fault;
    ex.owner = conn.fault->owner;
    ex.answered_by = conn.fault->kind;
    ex.error = "the client accepted a certificate it should have refused";
    record(shared_.registry, std::move(ex), started);
  }

  co_await serve_by_first_byte(stream, buffer, conn, started,
                               "nothing sent after the TLS handshake before the deadline");
}

template <class Stream>
asio::awaitable<void> Listener::serve_by_first_byte(Stream& stream, beast::flat_buffer& buffer,
                                                    Connection& conn, Clock::time_point started,
                                                    const char* silent) {
  // The first request's header phase starts now: its first bytes do not restart it.
  const auto header_deadline = Clock::now() + shared_.config.header_timeout;
  boost::system::error_code ec;
  expire_at(stream, header_deadline);
  auto n = co_await stream.async_read_some(buffer.prepare(1024), asio::redirect_error(use_awaitable, ec));
  if (ec) {
    if (is_timeout(ec)) record(shared_.registry, rejected(base_exchange(conn, started), silent), started);
    co_return;
  }
  buffer.commit(n);
  switch (classify_protocol(bytes_of(buffer))) {
    case Protocol::http:
      co_await HttpSession<Stream>(shared_, stream, buffer, conn).run(started, header_deadline);
      break;
    case Protocol::blynk:
      switch (shared_.config.mode) {
        case InterceptorConfig::Mode::mock:
          co_await BlynkSession<Stream>(shared_, stream, buffer, conn).run(started);
          break;
        case InterceptorConfig::Mode::proxy:
          co_await BlynkTunnel<Stream>(shared_, stream, buffer, conn).run(started);
          break;
      }
      break;
  }
}

asio::awaitable<void> Listener::reject_not_tls(PlainStream& plain, beast::flat_buffer& buffer,
                                               const Connection& conn, Clock::time_point started) {
  std::string_view seen(static_cast<const char*>(buffer.data().data()), buffer.size());
  bool looks_http = classify_tls_port(bytes_of(buffer)) == TlsPortGreeting::plain_http;
  Exchange ex = rejected(base_exchange(conn, started),
                         looks_http ? "plain HTTP on the TLS port"
                                    : fmt::format("not a TLS handshake (first bytes: {})", hex_prefix(seen)));
  ex.status = looks_http ? 400 : 0;
  record(shared_.registry, std::move(ex), started);
  boost::system::error_code ec;
  if (looks_http) {
    static const std::string body = "This port speaks HTTPS: plain HTTP is not accepted here.\n";
    std::string answer = fmt::format(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: "
        "{}\r\n\r\n{}",
        body.size(), body);
    co_await asio::async_write(plain, asio::buffer(answer), asio::redirect_error(use_awaitable, ec));
    plain.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  plain.close();
}

}  // namespace provhil::intercept::detail
