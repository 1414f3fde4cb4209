// The interceptor's server: TLS termination with minted leaves, HTTP (Beast) and the Blynk binary
// protocol on the same port, scripted answers and faults, the upstream proxy. C++20 coroutines on
// one io_context run by a few threads; each connection lives on its own strand.
#include "intercept/interceptor.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "asio/tls_socket.hpp"
#include "common/secrets.hpp"
#include "intercept/blynk.hpp"
#include "intercept/certs.hpp"
#include "intercept/lab_ca.hpp"
#include "intercept/registry.hpp"

namespace provhil::intercept {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using asio::use_awaitable;

namespace {

using UpstreamStream = beast::ssl_stream<beast::tcp_stream>;  // the proxy's client side
using TlsStream = net::TlsSocket;                             // boards' connections
using PlainStream = beast::tcp_stream;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

template <class S>
struct is_tls : std::false_type {};
template <>
struct is_tls<TlsStream> : std::true_type {};

// What a connection knows about itself; the SNI callback fills in its part.
struct Connection {
  std::string client;          // address:port
  std::string client_address;  // address only
  std::string sni;
  std::string tls_version = "plain";
  std::optional<ConnectionFault> fault;  // a handshake fault taken for it (its owner gets the entry)
  bool fault_is(ConnectionFault::Kind kind) const { return fault && fault->kind == kind; }
};

int connection_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  auto address = ep.address().to_string();
  return ep.address().is_v6() ? fmt::format("[{}]:{}", address, ep.port())
                              : fmt::format("{}:{}", address, ep.port());
}

std::vector<std::pair<std::string, std::string>> header_list(const http::fields& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : fields)
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return out;
}

std::string hex_prefix(std::string_view bytes, std::size_t max = 16) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i)
    out += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned char>(bytes[i]));
  return out;
}

// The cloud's error shape: {"error":{"message":"..."}}.
std::string error_body(const std::string& message) {
  boost::json::object inner;
  inner["message"] = message;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return boost::json::serialize(outer);
}

bool is_timeout(const boost::system::error_code& ec) {
  return ec == beast::error::timeout;
}

}  // namespace

struct Interceptor::Impl {
  InterceptorConfig config;
  std::filesystem::path ca_pem;
  std::unique_ptr<LeafMinter> minter;
  Registry registry;
  ssl::context server_ctx{ssl::context::tls_server};
  ssl::context client_ctx{ssl::context::tls_client};
  // upstream, parsed from config.upstream_url
  std::string up_host, up_port, up_authority, up_base;
  std::once_flag system_roots_loaded;
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<UpstreamStream>> pool;
  std::atomic<bool> stopping{false};
  // Declared last: destroyed first, so no coroutine outlives what it uses.
  asio::io_context ioc;
  tcp::acceptor tls_acceptor{ioc};
  std::optional<tcp::acceptor> plain_acceptor;
  std::uint16_t bound_port = 0;
  std::optional<std::uint16_t> bound_plain_port;
  std::vector<std::thread> threads;

  explicit Impl(InterceptorConfig cfg)
      : config(std::move(cfg)), registry(config.masker, config.journal_path, config.on_exchange) {
    if (config.advertised_host.empty()) config.advertised_host = config.listen_address;
    setup_tls();
    setup_upstream();
    tls_acceptor = bind(config.port, "TLS");
    bound_port = tls_acceptor.local_endpoint().port();
    if (config.plain_http_port) {
      plain_acceptor.emplace(bind(*config.plain_http_port, "plain HTTP"));
      bound_plain_port = plain_acceptor->local_endpoint().port();
    }
    asio::co_spawn(ioc, accept_loop(tls_acceptor, true), asio::detached);
    if (plain_acceptor) asio::co_spawn(ioc, accept_loop(*plain_acceptor, false), asio::detached);
    for (int i = 0; i < std::max(1, config.threads); ++i)
      threads.emplace_back([this] { ioc.run(); });
  }

  ~Impl() {
    stopping = true;
    ioc.stop();
    for (auto& thread : threads)
      thread.join();
    pool.clear();  // pooled upstream streams belong to ioc: gone before it is
  }

  tcp::acceptor bind(std::uint16_t port, const char* what) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(config.listen_address, ec);
    if (ec)
      throw InterceptorStartError(
          fmt::format("listen address \"{}\" is not an IP address", config.listen_address));
    tcp::endpoint endpoint(address, port);
    tcp::acceptor acceptor(ioc);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw InterceptorStartError(
          fmt::format("cannot listen for {} on {}: {}", what, endpoint_text(endpoint), ec.message()));
    return acceptor;
  }

  // ---- TLS ----------------------------------------------------------------------------------

  void setup_tls() {
    SSL_CTX* ctx = server_ctx.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // boards make a full handshake anyway
    SSL_CTX_set_num_tickets(ctx, 0);                          // so no TLS 1.3 tickets to mint and send
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);          // an idle connection keeps no record buffers
    try {
      if (!config.cert_file.empty()) {
        if (config.key_file.empty()) throw InterceptorStartError("--cert needs --key");
        boost::system::error_code ec;
        server_ctx.use_certificate_chain_file(config.cert_file.string(), ec);
        if (ec) throw InterceptorStartError(fmt::format("{}: {}", config.cert_file.string(), ec.message()));
        server_ctx.use_private_key_file(config.key_file.string(), ssl::context::pem, ec);
        if (ec) throw InterceptorStartError(fmt::format("{}: {}", config.key_file.string(), ec.message()));
        ca_pem = config.cert_file;
      } else {
        auto dir = config.ca_dir.empty() ? default_ca_dir() : config.ca_dir;
        ca_pem = ensure_lab_ca(dir).cert_pem;
        minter = std::make_unique<LeafMinter>(dir);
      }
    } catch (const LabCaError& e) {
      throw InterceptorStartError(e.what());
    }
    // SSL_CTX_set_tlsext_servername_callback() and _arg(), without their old-style casts
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(&Impl::on_server_name));
    SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, this);
  }

  // One TLS context per minted leaf: switching to it costs a reference count, where loading a
  // certificate and key into each connection costs a key consistency check per handshake.
  struct SslCtxDeleter {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  std::mutex leaf_ctx_mutex;
  std::map<std::pair<std::string, LeafKind>, std::unique_ptr<SSL_CTX, SslCtxDeleter>> leaf_ctxs;

  SSL_CTX* leaf_context(const std::string& name, LeafKind kind) {
    std::lock_guard lock(leaf_ctx_mutex);
    auto& slot = leaf_ctxs[{name, kind}];
    if (!slot) {
      std::unique_ptr<SSL_CTX, SslCtxDeleter> leaf_ctx(SSL_CTX_new(TLS_server_method()));
      if (!leaf_ctx) return nullptr;
      // Only the leaf goes on the wire: boards hold the lab CA already.
      if (SSL_CTX_use_certificate(leaf_ctx.get(), minter->leaf(name, kind)) != 1 ||
          SSL_CTX_use_PrivateKey(leaf_ctx.get(), minter->leaf_key()) != 1)
        return nullptr;
      slot = std::move(leaf_ctx);
    }
    return slot.get();
  }

  // Called by OpenSSL for every ClientHello (with or without SNI): applies an armed handshake fault
  // and switches the connection to the leaf for the name asked for (minted on first use).
  static int on_server_name(SSL* ssl_handle, int* alert, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    auto* conn = static_cast<Connection*>(SSL_get_ex_data(ssl_handle, connection_index()));
    if (!conn) {
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    const char* name = SSL_get_servername(ssl_handle, TLSEXT_NAMETYPE_host_name);
    conn->sni = name ? name : "";
    conn->fault = self->registry.take_connection_fault(conn->sni, conn->client_address, false);
    if (conn->fault_is(ConnectionFault::Kind::tls_alert)) {
      // Journaled here, before the alert leaves, so whoever sees the alert finds the entry.
      Exchange ex = self->base_exchange(*conn, steady::now());
      ex.kind = ExchangeKind::fault;
      ex.owner = conn->fault->owner;
      ex.answered_by = ConnectionFault::Kind::tls_alert;
      self->record(std::move(ex), steady::now());
      *alert = SSL_AD_HANDSHAKE_FAILURE;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (!self->minter) return SSL_TLSEXT_ERR_OK;  // the user's own certificate, already in the context
    LeafKind kind = LeafKind::normal;
    if (conn->fault_is(ConnectionFault::Kind::expired_cert)) kind = LeafKind::expired;
    if (conn->fault_is(ConnectionFault::Kind::wrong_name_cert)) kind = LeafKind::wrong_name;
    SSL_CTX* leaf_ctx = nullptr;
    try {
      leaf_ctx = self->leaf_context(conn->sni.empty() ? self->config.advertised_host : conn->sni, kind);
    } catch (const std::exception&) {
    }
    if (!leaf_ctx) {
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    SSL_set_SSL_CTX(ssl_handle, leaf_ctx);
    return SSL_TLSEXT_ERR_OK;
  }

  // ---- upstream -----------------------------------------------------------------------------

  void setup_upstream() {
    auto parsed = boost::urls::parse_uri(config.upstream_url);
    if (!parsed || parsed->scheme() != "https" || parsed->host().empty())
      throw InterceptorStartError(
          fmt::format("upstream \"{}\" is not an https:// URL with a host", config.upstream_url));
    up_host = parsed->host();
    up_port = parsed->has_port() ? std::string(parsed->port()) : "443";
    up_authority = parsed->has_port() ? fmt::format("{}:{}", up_host, up_port) : up_host;
    up_base = parsed->path();
    if (!up_base.empty() && up_base.back() == '/') up_base.pop_back();
    client_ctx.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(client_ctx.native_handle(), TLS1_2_VERSION);
    // The system roots (about 30 ms to load) wait for the first upstream connection: a mock-mode
    // run never makes one.
    if (config.upstream_ca_file.empty()) return;
    boost::system::error_code ec;
    client_ctx.load_verify_file(config.upstream_ca_file.string(), ec);
    if (ec)
      throw InterceptorStartError(
          fmt::format("upstream CA {}: {}", config.upstream_ca_file.string(), ec.message()));
  }

  asio::awaitable<std::unique_ptr<UpstreamStream>> upstream_connect() {
    if (config.upstream_ca_file.empty())
      std::call_once(system_roots_loaded, [this] {
        boost::system::error_code ignored;  // without roots, verification fails and says so
        client_ctx.set_default_verify_paths(ignored);
      });
    // Its own strand: a pooled stream later serves other connections' coroutines, and Beast runs the
    // stream's timer and intermediate handlers on the stream's executor.
    auto executor = asio::make_strand(ioc);
    tcp::resolver resolver(executor);
    auto endpoints = co_await resolver.async_resolve(up_host, up_port, use_awaitable);
    auto stream = std::make_unique<UpstreamStream>(beast::tcp_stream(executor), client_ctx);
    // SSL_set_tlsext_host_name() without its old-style cast
    if (!SSL_ctrl(stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  const_cast<char*>(up_host.c_str())))
      throw boost::system::system_error(
          beast::error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()));
    stream->set_verify_callback(ssl::host_name_verification(up_host));
    beast::get_lowest_layer(*stream).expires_after(config.upstream_timeout);
    co_await beast::get_lowest_layer(*stream).async_connect(endpoints, use_awaitable);
    beast::get_lowest_layer(*stream).socket().set_option(tcp::no_delay(true));
    co_await stream->async_handshake(ssl::stream_base::client, use_awaitable);
    co_return stream;
  }

  std::unique_ptr<UpstreamStream> pool_take() {
    std::lock_guard lock(pool_mutex);
    if (pool.empty()) return nullptr;
    auto stream = std::move(pool.back());
    pool.pop_back();
    return stream;
  }

  void pool_give(std::unique_ptr<UpstreamStream> stream) {
    std::lock_guard lock(pool_mutex);
    if (pool.size() < 64) pool.push_back(std::move(stream));
  }

  struct UpstreamResult {
    Response response;
    std::string error;  // empty: ok
    bool timed_out = false;
  };

  asio::awaitable<UpstreamResult> forward(const Request& original, Exchange& exchange) {
    Request request = original;
    request.target(up_base + std::string(original.target()));
    request.set(http::field::host, up_authority);
    request.keep_alive(true);
    exchange.upstream_request = fmt::format("{} https://{}{}", std::string(original.method_string()),
                                            up_authority, std::string(request.target()));
    UpstreamResult result;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool pooled = false;
      std::unique_ptr<UpstreamStream> stream = pool_take();
      try {
        if (stream)
          pooled = true;
        else
          stream = co_await upstream_connect();
        auto& lowest = beast::get_lowest_layer(*stream);
        lowest.expires_after(config.upstream_timeout);
        co_await http::async_write(*stream, request, use_awaitable);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(8 * 1024 * 1024);
        co_await http::async_read(*stream, buffer, parser, use_awaitable);
        result.response = parser.release();
        if (result.response.keep_alive() && buffer.size() == 0) pool_give(std::move(stream));
        result.error.clear();
        co_return result;
      } catch (const boost::system::system_error& e) {
        // A pooled connection the upstream closed meanwhile: try once more on a fresh one.
        if (pooled && !is_timeout(e.code())) continue;
        result.timed_out = is_timeout(e.code());
        result.error =
            fmt::format("infrastructure: upstream {} {}: {}", up_authority,
                        result.timed_out ? "did not answer in time" : "failed", e.code().message());
        co_return result;
      }
    }
    result.error = fmt::format("infrastructure: upstream {} failed twice", up_authority);
    co_return result;
  }

  // ---- accepting ----------------------------------------------------------------------------

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, bool tls) {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::make_strand(ioc), asio::redirect_error(use_awaitable, ec));
      if (stopping) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of descriptors and the like: breathe, then go on serving.
        asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      // Answers go out whole: no Nagle wait on the last small segment.
      socket.set_option(tcp::no_delay(true), ec);
      auto executor = socket.get_executor();
      if (tls)
        asio::co_spawn(executor, serve_tls(std::move(socket)), asio::detached);
      else
        asio::co_spawn(executor, serve_plain(std::move(socket)), asio::detached);
    }
  }

  Exchange base_exchange(const Connection& conn, steady::time_point started) {
    Exchange ex;
    ex.steady = started;
    ex.wall = std::chrono::system_clock::now();
    ex.client = conn.client;
    ex.sni = conn.sni;
    ex.tls_version = conn.tls_version;
    return ex;
  }

  void record(Exchange ex, steady::time_point started, std::optional<ExpectationId> id = std::nullopt) {
    ex.duration = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - started);
    registry.record(std::move(ex), id);
  }

  void reject(const Connection& conn, steady::time_point started, std::string error) {
    Exchange ex = base_exchange(conn, started);
    ex.kind = ExchangeKind::rejected;
    ex.answered_by = Responder::error;
    ex.error = std::move(error);
    record(std::move(ex), started);
  }

  static Connection make_connection(const tcp::socket& socket) {
    Connection conn;
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (!ec) {
      conn.client = endpoint_text(remote);
      conn.client_address = remote.address().to_string();
    }
    return conn;
  }

  asio::awaitable<void> serve_plain(tcp::socket socket) {
    auto started = steady::now();
    Connection conn = make_connection(socket);
    PlainStream stream(std::move(socket));
    beast::flat_buffer buffer;
    // Plain Blynk (port 80/8080) speaks the binary protocol too.
    co_await serve_by_first_byte(stream, buffer, conn, started, "no request before the header deadline");
  }

  asio::awaitable<void> serve_tls(tcp::socket socket) {
    auto started = steady::now();
    Connection conn = make_connection(socket);
    if (auto stall = registry.take_connection_fault("", conn.client_address, true)) {
      // Stalled handshake: hold the TCP connection and say nothing until the handshake deadline
      // (what the client sends stays unread in the kernel), journal it, then close.
      asio::steady_timer hold(co_await asio::this_coro::executor, config.handshake_timeout);
      boost::system::error_code ec;
      co_await hold.async_wait(asio::redirect_error(use_awaitable, ec));
      Exchange ex = base_exchange(conn, started);
      ex.kind = ExchangeKind::fault;
      ex.owner = stall->owner;
      ex.answered_by = ConnectionFault::Kind::stall_handshake;
      record(std::move(ex), started);
      socket.close(ec);
      co_return;
    }

    // A TLS ClientHello starts with a handshake record (0x16), major version 3, and its first
    // message is a ClientHello (type 1, the sixth byte). Peeking leaves the bytes in the socket for
    // OpenSSL; anything else is read out and rejected.
    TlsStream stream(std::move(socket), server_ctx.native_handle());
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    stream.expires_after(config.handshake_timeout);
    std::array<unsigned char, 6> head{};
    auto peeked = co_await stream.async_peek(asio::buffer(head), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (is_timeout(ec)) reject(conn, started, "no TLS handshake before the deadline");
      co_return;
    }
    bool looks_tls = head[0] == 0x16 && (peeked < 2 || head[1] == 0x03) && (peeked < 6 || head[5] == 0x01);
    if (!looks_tls) {
      PlainStream plain(std::move(stream.socket()));
      plain.expires_after(config.handshake_timeout);
      auto n = co_await plain.async_read_some(buffer.prepare(1024), asio::redirect_error(use_awaitable, ec));
      if (ec)  // gone meanwhile: what the peek saw is still what it sent
        n = asio::buffer_copy(buffer.prepare(peeked), asio::buffer(head.data(), peeked));
      buffer.commit(n);
      co_await reject_not_tls(plain, buffer, conn, started);
      co_return;
    }

    SSL_set_ex_data(stream.native_handle(), connection_index(), &conn);
    co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
    SSL_set_ex_data(stream.native_handle(), connection_index(), nullptr);
    if (ec) {
      std::string why = is_timeout(ec) ? std::string("TLS handshake deadline passed")
                                       : "TLS handshake failed: " + ec.message();
      if (!conn.fault_is(ConnectionFault::Kind::tls_alert))
        reject(conn, started, why);  // else journaled already
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
      record(std::move(ex), started);
    }

    co_await serve_by_first_byte(stream, buffer, conn, started,
                                 "nothing sent after the TLS handshake before the deadline");
  }

  // HTTP or the Blynk binary protocol, on either port? A request line starts with an upper-case
  // method name; a Blynk frame starts with a small command number.
  template <class Stream>
  asio::awaitable<void> serve_by_first_byte(Stream& stream, beast::flat_buffer& buffer, Connection& conn,
                                            steady::time_point started, const char* silent) {
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(config.header_timeout);
    auto n = co_await stream.async_read_some(buffer.prepare(1024), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (is_timeout(ec)) reject(conn, started, silent);
      co_return;
    }
    buffer.commit(n);
    auto first = *static_cast<const unsigned char*>(buffer.data().data());
    if (first >= 'A' && first <= 'Z')
      co_await serve_http(stream, buffer, conn, started);
    else
      co_await serve_blynk(stream, buffer, conn, started);
  }

  asio::awaitable<void> reject_not_tls(PlainStream& plain, beast::flat_buffer& buffer, const Connection& conn,
                                       steady::time_point started) {
    std::string_view seen(static_cast<const char*>(buffer.data().data()), buffer.size());
    bool looks_http = !seen.empty() && seen[0] >= 'A' && seen[0] <= 'Z';
    Exchange ex = base_exchange(conn, started);
    ex.kind = ExchangeKind::rejected;
    ex.status = looks_http ? 400 : 0;
    ex.answered_by = Responder::error;
    ex.error = looks_http ? "plain HTTP on the TLS port"
                          : fmt::format("not a TLS handshake (first bytes: {})", hex_prefix(seen));
    record(std::move(ex), started);
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

  // ---- closing ------------------------------------------------------------------------------

  template <class Stream>
  asio::awaitable<void> close_gracefully(Stream& stream) {
    boost::system::error_code ec;
    auto& lowest = beast::get_lowest_layer(stream);
    if constexpr (is_tls<Stream>::value) {
      lowest.expires_after(std::chrono::seconds(1));
      co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
    } else {
      lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    lowest.close();
  }

  // Lingering close: after an early answer (a 400 while the client is still sending), read and drop
  // what still comes for a moment, so closing does not reset the connection and destroy the answer.
  template <class Stream>
  asio::awaitable<void> drain_then_close(Stream& stream) {
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(std::chrono::milliseconds(500));
    std::array<char, 16 * 1024> sink;
    boost::system::error_code ec;
    while (!ec)
      co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
    lowest.close();
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  template <class Stream>
  asio::awaitable<void> serve_http(Stream& stream, beast::flat_buffer& buffer, Connection& conn,
                                   steady::time_point conn_started) {
    auto& lowest = beast::get_lowest_layer(stream);
    bool first = true;
    for (;;) {
      boost::system::error_code ec;
      auto started = first ? conn_started : steady::now();
      if (buffer.size() == 0) {
        // Between requests: the idle deadline; a client that closes here ends the connection.
        lowest.expires_after(first ? config.header_timeout : config.idle_timeout);
        auto n =
            co_await stream.async_read_some(buffer.prepare(1024), asio::redirect_error(use_awaitable, ec));
        if (ec) {
          if (first && is_timeout(ec)) reject(conn, started, "no request before the header deadline");
          lowest.close();
          co_return;
        }
        buffer.commit(n);
        started = steady::now();
      }
      first = false;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(config.header_limit));
      parser.body_limit(config.body_limit);
      lowest.expires_after(config.header_timeout);
      co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (!ec && !parser.is_done()) {
        lowest.expires_after(config.body_timeout);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      }
      if (ec) {
        co_await reject_bad_request(stream, conn, started, ec);
        co_return;
      }
      Request request = parser.release();
      bool keep = co_await handle_request(stream, request, conn, started);
      if (!keep) co_return;
    }
  }

  template <class Stream>
  asio::awaitable<void> reject_bad_request(Stream& stream, const Connection& conn, steady::time_point started,
                                           const boost::system::error_code& ec) {
    auto& lowest = beast::get_lowest_layer(stream);
    if (is_timeout(ec) || ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset) {
      reject(conn, started,
             is_timeout(ec) ? "the request did not arrive before its deadline (slow client)"
                            : fmt::format("the client went away mid-request: {}", ec.message()));
      lowest.close();
      co_return;
    }
    std::string why = ec == http::error::header_limit
                          ? fmt::format("request header larger than {} bytes", config.header_limit)
                      : ec == http::error::body_limit
                          ? fmt::format("request body larger than {} bytes", config.body_limit)
                          : fmt::format("malformed HTTP request: {}", ec.message());
    Response response{http::status::bad_request, 11};
    response.set(http::field::content_type, "application/json");
    response.set(http::field::connection, "close");
    response.body() = error_body(why);
    response.prepare_payload();
    Exchange ex = base_exchange(conn, started);
    ex.kind = ExchangeKind::rejected;
    ex.status = 400;
    ex.answer_body = response.body();
    ex.answered_by = Responder::error;
    ex.error = why;
    record(std::move(ex), started);
    lowest.expires_after(config.header_timeout);
    boost::system::error_code write_ec;
    co_await http::async_write(stream, response, asio::redirect_error(use_awaitable, write_ec));
    co_await drain_then_close(stream);
  }

  // ---- answering ----------------------------------------------------------------------------

  static std::chrono::milliseconds delay_of(const Fault& fault, int ordinal) {
    if (fault.delay_max <= fault.delay) return fault.delay;
    std::mt19937_64 rng(fault.seed + static_cast<std::uint64_t>(ordinal));
    std::uniform_int_distribution<std::int64_t> pick(fault.delay.count(), fault.delay_max.count());
    return std::chrono::milliseconds(pick(rng));
  }

  Response build_response(const Answer& answer, unsigned version, bool keep_alive) {
    Response response{static_cast<http::status>(answer.status), version};
    response.set(http::field::server, "provhil-intercept");
    if (answer.kind == Answer::Kind::redirect) response.set(http::field::location, answer.location);
    bool has_type = false;
    for (const auto& [name, value] : answer.headers) {
      response.insert(name, value);
      if (beast::iequals(name, "Content-Type")) has_type = true;
    }
    if (!has_type && !answer.body.empty()) response.set(http::field::content_type, "application/json");
    response.body() = answer.body;
    response.keep_alive(keep_alive);
    response.prepare_payload();
    return response;
  }

  // Points an upstream redirect back at the interceptor, so the board's next request comes here too.
  std::string rewrite_location(const std::string& location) {
    auto parsed = boost::urls::parse_uri(location);
    if (!parsed) return location;
    boost::urls::url url = *parsed;
    url.set_scheme("https");
    url.set_host(config.advertised_host);
    url.set_port_number(bound_port);
    return std::string(url.buffer());
  }

  template <class Stream>
  asio::awaitable<bool> handle_request(Stream& stream, Request& request, Connection& conn,
                                       steady::time_point started) {
    auto& lowest = beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    Exchange ex = base_exchange(conn, started);
    ex.method = std::string(request.method_string());
    ex.target = std::string(request.target());
    ex.request_headers = header_list(request.base());

    ProvisionRequest parsed;
    std::string parse_error;
    try {
      parsed = parse_provision_request(ex.method, ex.target, ex.request_headers);
    } catch (const ProvisionParseError& e) {
      parse_error = e.what();
    }
    if (!parse_error.empty()) {
      Response response{http::status::bad_request, request.version()};
      response.set(http::field::content_type, "application/json");
      response.body() = error_body(parse_error);
      response.keep_alive(false);
      response.prepare_payload();
      ex.kind = ExchangeKind::rejected;
      ex.status = 400;
      ex.answer_body = response.body();
      ex.answered_by = Responder::error;
      ex.error = parse_error;
      record(std::move(ex), started);
      lowest.expires_after(config.header_timeout);
      co_await http::async_write(stream, response, asio::redirect_error(use_awaitable, ec));
      co_await close_gracefully(stream);
      co_return false;
    }

    ProvisionDecision decision = registry.decide_provision(parsed);
    ex.kind = parsed.path == provision_path ? ExchangeKind::provision : ExchangeKind::http;
    ex.token = parsed.token.value_or("");
    ex.owner = decision.owner;
    ex.expected = decision.expected;
    ex.verdicts = std::move(decision.verdicts);

    Answer answer;
    if (decision.answer)
      answer = *decision.answer;
    else if (config.mode == InterceptorConfig::Mode::proxy)
      answer = Answer::forward();
    else if (!decision.token_known)
      answer = Answer::invalid_token();  // what the cloud says about a token it does not know

    for (const auto& fault : answer.faults) {
      if (fault.kind != Fault::Kind::delay) continue;
      asio::steady_timer timer(co_await asio::this_coro::executor, delay_of(fault, decision.ordinal));
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }

    Response response;
    if (answer.kind == Answer::Kind::proxy) {
      UpstreamResult upstream = co_await forward(request, ex);
      if (upstream.error.empty()) {
        response = std::move(upstream.response);
        ex.answered_by = Responder::upstream;
        if (config.rewrite_redirects) {
          auto location = response.find(http::field::location);
          if (location != response.end())
            response.set(http::field::location, rewrite_location(std::string(location->value())));
        }
      } else {
        response = Response{upstream.timed_out ? http::status::gateway_timeout : http::status::bad_gateway,
                            request.version()};
        response.set(http::field::content_type, "application/json");
        response.body() = error_body(upstream.error);
        response.prepare_payload();
        ex.answered_by = Responder::proxy_error;
        ex.error = upstream.error;
      }
      response.keep_alive(request.keep_alive());
    } else {
      response = build_response(answer, request.version(), request.keep_alive());
      ex.answered_by = Responder::mock;
    }
    ex.status = static_cast<int>(response.result_int());
    ex.answer_headers = header_list(response.base());
    ex.answer_body = response.body();

    // Recorded before the answer leaves: when the client has it, waiters and the journal have it too.
    for (const auto& fault : answer.faults) {
      if (fault.kind == Fault::Kind::delay) continue;
      ex.answered_by = fault.kind;
      ex.status = 0;  // the client gets no proper answer
      record(std::move(ex), started, decision.id);
      co_await apply_fault(stream, fault.kind, response);
      co_return false;
    }
    record(std::move(ex), started, decision.id);

    lowest.expires_after(config.header_timeout);
    co_await http::async_write(stream, response, asio::redirect_error(use_awaitable, ec));
    bool keep = !ec && response.keep_alive();
    if (!keep) co_await close_gracefully(stream);
    co_return keep;
  }

  template <class Stream>
  asio::awaitable<void> apply_fault(Stream& stream, Fault::Kind kind, const Response& response) {
    auto& lowest = beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    lowest.expires_after(config.header_timeout);
    std::ostringstream serialized;
    serialized << response;
    std::string wire = serialized.str();
    switch (kind) {
      case Fault::Kind::close:
        co_await close_gracefully(stream);
        break;
      case Fault::Kind::reset:
        // SO_LINGER 0: close() sends RST instead of FIN, the client reads ECONNRESET.
        lowest.socket().set_option(asio::socket_base::linger(true, 0), ec);
        lowest.socket().close(ec);
        break;
      case Fault::Kind::malformed: {
        static const std::string garbage = "HTTP/1.1 2x0 NOT\x01HTTP\r\nthis is not a header line\r\n\r\n";
        co_await asio::async_write(stream, asio::buffer(garbage), asio::redirect_error(use_awaitable, ec));
        co_await close_gracefully(stream);
        break;
      }
      case Fault::Kind::truncated: {
        // Promise more body than is sent, then close cleanly (close_notify): a short read.
        std::string head =
            fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        response.result_int(), std::string(response.reason()), response.body().size() + 100);
        std::string wire_short = head + response.body();
        co_await asio::async_write(stream, asio::buffer(wire_short), asio::redirect_error(use_awaitable, ec));
        co_await close_gracefully(stream);
        break;
      }
      case Fault::Kind::tls_truncation: {
        // The head and half the body (or half the head when there is no body), then drop TCP
        // without close_notify: only the missing close_notify and the short body tell the client.
        std::size_t body_size = response.body().size();
        std::size_t cut = body_size ? wire.size() - body_size + body_size / 2 : wire.size() / 2;
        std::string half = wire.substr(0, std::max<std::size_t>(1, cut));
        co_await asio::async_write(stream, asio::buffer(half), asio::redirect_error(use_awaitable, ec));
        lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
        lowest.socket().close(ec);
        break;
      }
      case Fault::Kind::delay:
        break;
    }
  }

  // ---- Blynk binary protocol ----------------------------------------------------------------

  // Reads exactly `size` bytes, taking what is buffered first.
  template <class Stream>
  asio::awaitable<std::string> read_exact(Stream& stream, beast::flat_buffer& buffer, std::size_t size) {
    while (buffer.size() < size) {
      auto n = co_await stream.async_read_some(
          buffer.prepare(std::max<std::size_t>(size - buffer.size(), 512)), use_awaitable);
      buffer.commit(n);
    }
    std::string out(static_cast<const char*>(buffer.data().data()), size);
    buffer.consume(size);
    co_return out;
  }

  template <class Stream>
  asio::awaitable<void> serve_blynk(Stream& stream, beast::flat_buffer& buffer, Connection& conn,
                                    steady::time_point started) {
    if (config.mode == InterceptorConfig::Mode::proxy) {
      co_await tunnel_blynk(stream, buffer, conn, started);
      co_return;
    }
    auto& lowest = beast::get_lowest_layer(stream);
    // A board that is logged in pings every heartbeat (45 s by default): allow two of them.
    auto idle = std::max<std::chrono::milliseconds>(config.idle_timeout, std::chrono::seconds(100));
    std::optional<Exchange> pending;  // the login, recorded once its INTERNAL info arrived
    std::optional<ExpectationId> pending_id;
    steady::time_point login_started = started;
    bool logged_in = false;
    auto flush_pending = [&] {
      if (!pending) return;
      pending->verdicts = registry.check_login_info(pending_id, pending->info);
      record(std::move(*pending), login_started, pending_id);
      pending.reset();
    };
    try {
      for (;;) {
        lowest.expires_after(logged_in ? idle : config.header_timeout);
        std::string head = co_await read_exact(stream, buffer, blynk::header_size);
        auto header = blynk::parse_header(reinterpret_cast<const unsigned char*>(head.data()));
        std::string body;
        if (header.type != blynk::response) {
          if (header.length > config.body_limit) {
            reject(conn, started, fmt::format("Blynk frame of {} bytes exceeds the limit", header.length));
            break;
          }
          lowest.expires_after(config.body_timeout);
          body = co_await read_exact(stream, buffer, header.length);
        }
        std::string reply;
        if (header.type == blynk::hw_login) {
          LoginDecision decision = registry.decide_login(body);
          Exchange ex = base_exchange(conn, steady::now());
          login_started = steady::now();
          ex.kind = ExchangeKind::login;
          ex.token = body;
          ex.owner = decision.owner;
          ex.expected = decision.expected;
          ex.status = decision.accept ? blynk::ok : blynk::invalid_token;
          ex.answered_by = Responder::mock;
          reply = blynk::status_frame(header.msg_id, static_cast<std::uint16_t>(ex.status));
          flush_pending();
          pending = std::move(ex);
          pending_id = decision.id;
          logged_in = decision.accept;
          co_await asio::async_write(stream, asio::buffer(reply), use_awaitable);
          if (!decision.accept) {
            flush_pending();
            break;  // the cloud drops a connection with an invalid token
          }
          continue;
        }
        if (header.type == blynk::internal && pending) {
          pending->info = blynk::parse_pairs(body);
          flush_pending();
          continue;
        }
        if (header.type == blynk::ping)
          reply = blynk::status_frame(header.msg_id, logged_in ? blynk::ok : blynk::not_authenticated);
        else if (!logged_in && header.type != blynk::response)
          reply = blynk::status_frame(header.msg_id, blynk::not_authenticated);
        if (!reply.empty()) co_await asio::async_write(stream, asio::buffer(reply), use_awaitable);
      }
    } catch (const boost::system::system_error& e) {
      if (!pending && !logged_in && is_timeout(e.code()))
        reject(conn, started, "Blynk: no login before the deadline");
    }
    flush_pending();
    co_await close_gracefully(stream);
  }

  // Proxy mode: the bytes go to the upstream unchanged; the device's frames are decoded on the way
  // for the journal.
  template <class Stream>
  asio::awaitable<void> tunnel_blynk(Stream& device, beast::flat_buffer& buffer, Connection& conn,
                                     steady::time_point started) {
    Exchange ex = base_exchange(conn, started);
    ex.kind = ExchangeKind::login;
    ex.answered_by = Responder::upstream;
    ex.upstream_request = fmt::format("blynk tunnel to {}", up_authority);
    std::unique_ptr<UpstreamStream> upstream;
    std::string connect_error;
    try {
      upstream = co_await upstream_connect();
    } catch (const boost::system::system_error& e) {
      connect_error = e.code().message();
    }
    if (!upstream) {
      ex.answered_by = Responder::proxy_error;
      ex.error = fmt::format("infrastructure: upstream {} failed: {}", up_authority, connect_error);
      record(std::move(ex), started);
      co_await close_gracefully(device);
      co_return;
    }
    beast::get_lowest_layer(*upstream).expires_never();
    auto idle = std::max<std::chrono::milliseconds>(config.idle_timeout, std::chrono::seconds(100));
    std::optional<ExpectationId> id;
    bool recorded = false;
    std::string decode;  // device bytes not yet decoded into frames
    auto decode_frames = [&](std::string_view bytes) {
      decode.append(bytes);
      while (decode.size() >= blynk::header_size) {
        auto header = blynk::parse_header(reinterpret_cast<const unsigned char*>(decode.data()));
        std::size_t size = blynk::header_size + (header.type == blynk::response ? 0 : header.length);
        if (decode.size() < size) break;
        std::string body = decode.substr(blynk::header_size, size - blynk::header_size);
        decode.erase(0, size);
        if (header.type == blynk::hw_login) {
          LoginDecision decision = registry.decide_login(body);
          ex.token = body;
          ex.owner = decision.owner;
          ex.expected = decision.expected;
          id = decision.id;
        } else if (header.type == blynk::internal && !recorded && !ex.token.empty()) {
          ex.info = blynk::parse_pairs(body);
          ex.verdicts = registry.check_login_info(id, ex.info);
          recorded = true;
          record(ex, started, id);
        }
      }
    };
    // Upstream -> device, in its own coroutine on this strand; the first status frame is the login answer.
    auto executor = co_await asio::this_coro::executor;
    auto from_upstream = [&]() -> asio::awaitable<void> {
      std::array<char, 4096> chunk;
      boost::system::error_code ec;
      bool first = true;
      for (;;) {
        auto n =
            co_await upstream->async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        if (first && n >= blynk::header_size && chunk[0] == 0) {
          ex.status = static_cast<unsigned char>(chunk[3]) << 8 | static_cast<unsigned char>(chunk[4]);
          first = false;
        }
        co_await asio::async_write(device, asio::buffer(chunk.data(), n),
                                   asio::redirect_error(use_awaitable, ec));
        if (ec) break;
      }
      beast::get_lowest_layer(device).close();
    };
    std::atomic<bool> upstream_done{false};
    asio::co_spawn(
        executor,
        [&]() -> asio::awaitable<void> {
          co_await from_upstream();
          upstream_done = true;
        },
        asio::detached);
    boost::system::error_code ec;
    if (buffer.size()) {
      std::string first(static_cast<const char*>(buffer.data().data()), buffer.size());
      buffer.consume(buffer.size());
      decode_frames(first);
      co_await asio::async_write(*upstream, asio::buffer(first), asio::redirect_error(use_awaitable, ec));
    }
    std::array<char, 4096> chunk;
    while (!ec) {
      beast::get_lowest_layer(device).expires_after(idle);
      auto n = co_await device.async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      decode_frames(std::string_view(chunk.data(), n));
      co_await asio::async_write(*upstream, asio::buffer(chunk.data(), n),
                                 asio::redirect_error(use_awaitable, ec));
    }
    beast::get_lowest_layer(*upstream).close();
    // Wait for the other direction to notice, so nothing it references goes away under it.
    while (!upstream_done) {
      asio::steady_timer tick(executor, std::chrono::milliseconds(5));
      co_await tick.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    if (!recorded && !ex.token.empty()) record(ex, started, id);
    beast::get_lowest_layer(device).close();
  }
};

Interceptor::Interceptor(InterceptorConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Interceptor::~Interceptor() = default;

std::string Interceptor::host() const {
  return impl_->config.advertised_host;
}
std::uint16_t Interceptor::port() const {
  return impl_->bound_port;
}
std::optional<std::uint16_t> Interceptor::plain_port() const {
  return impl_->bound_plain_port;
}
std::filesystem::path Interceptor::ca_certificate_path() const {
  return impl_->ca_pem;
}
ExpectationId Interceptor::expect_provision(ProvisionExpectation expectation) {
  return impl_->registry.add_provision(std::move(expectation));
}
ExpectationId Interceptor::expect_login(LoginExpectation expectation) {
  return impl_->registry.add_login(std::move(expectation));
}
void Interceptor::claim_token(const std::string& token, const std::string& owner) {
  impl_->registry.claim(token, owner);
}
void Interceptor::arm_connection_fault(ConnectionFault fault) {
  impl_->registry.arm(std::move(fault));
}
WaitResult Interceptor::wait(ExpectationId id, std::chrono::steady_clock::time_point deadline) {
  return impl_->registry.wait(id, deadline);
}
WaitResult Interceptor::finish(ExpectationId id) {
  return impl_->registry.finish(id);
}
std::vector<Exchange> Interceptor::exchanges_for_token(const std::string& token) const {
  return impl_->registry.select([&](const Exchange& x) { return x.token == token; });
}
std::vector<Exchange> Interceptor::exchanges_for_owner(const std::string& owner) const {
  return impl_->registry.select([&](const Exchange& x) { return x.owner == owner; });
}
std::vector<Exchange> Interceptor::unowned_unexpected() const {
  return impl_->registry.select([](const Exchange& x) { return !x.expected && x.owner.empty(); });
}
std::vector<Exchange> Interceptor::all_exchanges() const {
  return impl_->registry.select([](const Exchange&) { return true; });
}
std::string Interceptor::journal_lines_for_owner(const std::string& owner) const {
  return impl_->registry.lines([&](const Exchange& x) { return x.owner == owner; });
}
std::string Interceptor::journal_lines_for_token(const std::string& token) const {
  return impl_->registry.lines([&](const Exchange& x) { return x.token == token; });
}

}  // namespace provhil::intercept
