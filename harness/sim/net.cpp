// The simulated board's sockets: the setup AP (Beast HTTP server) and the TLS client. The only
// translation unit of the sim module that includes Beast and Asio SSL.
#include "sim/detail/net.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <optional>

namespace provhil::sim::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
using boost::system::error_code;

// ---------------------------------------------------------------------------------------------- AP

struct ApServer::Impl : std::enable_shared_from_this<ApServer::Impl> {
  explicit Impl(asio::io_context& io, ApHandler h) : acceptor(io), handler(std::move(h)) {}
  tcp::acceptor acceptor;
  ApHandler handler;

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        continue;
      }
      asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    // The handler may stop the server (the board left config mode): keep this object alive meanwhile.
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      error_code ec;
      co_await http::async_read(socket, buffer, request, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      ApResponse answer;
      if (request.method() != http::verb::get) {
        answer.status = 404;
        answer.content_type = "text/plain";
        answer.body = "Not found";
      } else {
        answer = handler(std::string(request.target()));
      }
      if (answer.drop) {
        socket.close(ec);
        co_return;
      }
      http::response<http::string_body> response{static_cast<http::status>(answer.status), request.version()};
      response.set(http::field::content_type, answer.content_type);
      response.keep_alive(request.keep_alive());
      response.body() = std::move(answer.body);
      response.prepare_payload();
      co_await http::async_write(socket, response, asio::redirect_error(use_awaitable, ec));
      if (ec || !response.keep_alive()) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        co_return;
      }
    }
  }
};

ApServer::ApServer(asio::io_context& io, ApHandler handler)
    : impl_(std::make_shared<Impl>(io, std::move(handler))) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  asio::co_spawn(io, impl_->accept_loop(), asio::detached);
}

ApServer::~ApServer() {
  error_code ec;
  impl_->acceptor.close(ec);
}

std::uint16_t ApServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

// ---------------------------------------------------------------------------------------------- TLS

struct TlsClient::Impl {
  Impl(asio::io_context& io_context, const std::filesystem::path& ca_file, std::vector<ResolveEntry> entries,
       const std::string& source)
      : io(io_context),
        context(ssl::context::tls_client),
        resolve(std::move(entries)),
        read_deadline(io_context),
        write_deadline(io_context) {
    SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
    context.set_verify_mode(ssl::verify_peer);
    if (ca_file.empty()) {
      context.set_default_verify_paths();
    } else {
      error_code ec;
      context.load_verify_file(ca_file.string(), ec);
      ca_error = ec ? fmt::format("cannot load CA file {}: {}", ca_file.string(), ec.message()) : "";
    }
    if (!source.empty()) {
      error_code ec;
      source_address = asio::ip::make_address(source, ec);
      if (ec) source_error = fmt::format("source address {}: {}", source, ec.message());
    }
  }

  asio::io_context& io;
  ssl::context context;
  std::vector<ResolveEntry> resolve;
  std::optional<asio::ip::address> source_address;  // parsed once; empty: the kernel's choice
  std::string source_error;
  std::string ca_error;
  std::shared_ptr<ssl::stream<tcp::socket>> stream;  // shared: a pending operation keeps its stream alive
  beast::flat_buffer http_buffer;
  asio::steady_timer read_deadline;
  asio::steady_timer write_deadline;

  // Closes the socket when the deadline passes; the pending operation then fails.
  void arm(asio::steady_timer& timer, std::chrono::milliseconds timeout) {
    timer.cancel();
    if (timeout.count() <= 0) return;
    timer.expires_after(timeout);
    timer.async_wait([this, s = stream.get()](error_code ec) {
      if (ec || !stream || stream.get() != s) return;
      error_code ignored;
      stream->lowest_layer().close(ignored);
    });
  }

  void close() {
    read_deadline.cancel();
    write_deadline.cancel();
    if (stream) {
      error_code ignored;
      stream->lowest_layer().close(ignored);
    }
  }
};

TlsClient::TlsClient(asio::io_context& io, const std::filesystem::path& ca_file,
                     std::vector<ResolveEntry> resolve, const std::string& source_address)
    : impl_(std::make_shared<Impl>(io, ca_file, std::move(resolve), source_address)) {}

TlsClient::~TlsClient() {
  impl_->close();
}

void TlsClient::close() {
  impl_->close();
}

bool TlsClient::is_open() const {
  return impl_->stream && impl_->stream->lowest_layer().is_open();
}

asio::awaitable<ConnectResult> TlsClient::connect(std::string host, std::uint16_t port,
                                                  std::chrono::milliseconds timeout) {
  auto impl = impl_;
  impl->close();
  if (!impl->ca_error.empty()) co_return ConnectResult{ConnectStatus::tls_failed, impl->ca_error};
  if (!impl->source_error.empty()) co_return ConnectResult{ConnectStatus::connect_failed, impl->source_error};
  impl->stream = std::make_shared<ssl::stream<tcp::socket>>(impl->io, impl->context);
  impl->http_buffer.clear();
  auto stream = impl->stream;

  std::string address = host;
  std::uint16_t address_port = port;
  for (const auto& entry : impl->resolve) {
    if (entry.host == host && entry.port == port) {
      address = entry.address;
      address_port = entry.address_port;
    }
  }

  impl->arm(impl->read_deadline, timeout);
  error_code ec;
  tcp::resolver resolver(impl->io);
  auto endpoints = co_await resolver.async_resolve(address, std::to_string(address_port),
                                                   asio::redirect_error(use_awaitable, ec));
  if (ec)
    co_return ConnectResult{ConnectStatus::connect_failed,
                            fmt::format("resolve {}: {}", address, ec.message())};
  // Each address in turn, from the source address when one is set (and of the same family).
  ec = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    auto& socket = stream->lowest_layer();
    error_code ignored;
    socket.close(ignored);
    socket.open(entry.endpoint().protocol(), ec);
    if (!ec && impl->source_address && impl->source_address->is_v4() == entry.endpoint().address().is_v4())
      socket.bind(tcp::endpoint(*impl->source_address, 0), ec);
    if (!ec) co_await socket.async_connect(entry.endpoint(), asio::redirect_error(use_awaitable, ec));
    if (!ec) break;
  }
  if (ec) {
    impl->read_deadline.cancel();
    co_return ConnectResult{ConnectStatus::connect_failed, ec.message()};
  }
  // Without it Nagle holds the request written right after the handshake until the server's
  // delayed ACK: 40 ms per exchange that the board under simulation would not spend.
  stream->lowest_layer().set_option(tcp::no_delay(true), ec);
  // SNI and host-name verification use the name, not the address it was resolved to.
  // SSL_set_tlsext_host_name() is a macro with a C cast; this is what it expands to.
  if (!SSL_ctrl(stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                static_cast<void*>(const_cast<char*>(host.c_str())))) {
    co_return ConnectResult{ConnectStatus::tls_failed, "cannot set SNI"};
  }
  stream->set_verify_callback(ssl::host_name_verification(host));
  co_await stream->async_handshake(ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
  impl->read_deadline.cancel();
  if (ec) {
    const long verify = SSL_get_verify_result(stream->native_handle());
    std::string detail = ec.message();
    if (verify != X509_V_OK)
      detail += fmt::format(" (certificate: {})", X509_verify_cert_error_string(verify));
    impl->close();
    co_return ConnectResult{ConnectStatus::tls_failed, detail};
  }
  co_return ConnectResult{ConnectStatus::ok, {}};
}

asio::awaitable<HttpResult> TlsClient::http_get(std::string host_header, std::string target,
                                                std::chrono::milliseconds timeout) {
  auto impl = impl_;
  HttpResult result;
  if (!impl->stream) {
    result.error = "not connected";
    co_return result;
  }
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, host_header);
  request.set(http::field::user_agent, "ESP32HTTPClient");
  request.set(http::field::connection, "close");
  auto stream = impl->stream;
  error_code ec;
  impl->arm(impl->write_deadline, timeout);
  co_await http::async_write(*stream, request, asio::redirect_error(use_awaitable, ec));
  impl->write_deadline.cancel();
  if (ec) {
    result.error = fmt::format("sending the request: {}", ec.message());
    co_return result;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  impl->arm(impl->read_deadline, timeout);
  co_await http::async_read(*stream, impl->http_buffer, parser, asio::redirect_error(use_awaitable, ec));
  impl->read_deadline.cancel();
  if (ec) {
    result.error = ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor
                       ? std::string("no answer in time")
                       : fmt::format("reading the answer: {}", ec.message());
    co_return result;
  }
  auto& response = parser.get();
  result.status = static_cast<int>(response.result_int());
  if (auto it = response.find(http::field::location); it != response.end())
    result.location = std::string(it->value());
  result.body = response.body();
  impl->close();  // Connection: close
  co_return result;
}

asio::awaitable<std::string> TlsClient::write(std::string bytes, std::chrono::milliseconds timeout) {
  auto impl = impl_;
  if (!impl->stream) co_return "not connected";
  auto stream = impl->stream;
  error_code ec;
  impl->arm(impl->write_deadline, timeout);
  co_await asio::async_write(*stream, asio::buffer(bytes), asio::redirect_error(use_awaitable, ec));
  impl->write_deadline.cancel();
  co_return ec ? ec.message() : std::string();
}

asio::awaitable<std::string> TlsClient::read_exact(std::size_t size, std::string& out,
                                                   std::chrono::milliseconds timeout) {
  auto impl = impl_;
  if (!impl->stream) co_return "not connected";
  out.assign(size, '\0');
  if (size == 0) co_return std::string();
  auto stream = impl->stream;
  error_code ec;
  impl->arm(impl->read_deadline, timeout);
  co_await asio::async_read(*stream, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
  impl->read_deadline.cancel();
  co_return ec ? ec.message() : std::string();
}

}  // namespace provhil::sim::net
