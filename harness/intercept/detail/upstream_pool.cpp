#include "intercept/detail/upstream_pool.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include "intercept/detail/stream_ops.hpp"

namespace provhil::intercept::detail {

namespace ssl = asio::ssl;
using asio::use_awaitable;

UpstreamPool::UpstreamPool(asio::io_context& ioc, const InterceptorConfig& config)
    : ioc_(ioc), config_(config) {
  auto parsed = boost::urls::parse_uri(config.upstream_url);
  if (!parsed || parsed->scheme() != "https" || parsed->host().empty())
    throw InterceptorStartError(
        fmt::format("upstream \"{}\" is not an https:// URL with a host", config.upstream_url));
  host_ = parsed->host();
  port_ = parsed->has_port() ? std::string(parsed->port()) : "443";
  authority_ = parsed->has_port() ? fmt::format("{}:{}", host_, port_) : host_;
  base_ = parsed->path();
  if (!base_.empty() && base_.back() == '/') base_.pop_back();
  client_ctx_.set_verify_mode(ssl::verify_peer);
  SSL_CTX_set_min_proto_version(client_ctx_.native_handle(), TLS1_2_VERSION);
  // The system roots (about 30 ms to load) wait for the first upstream connection: a mock-mode
  // run never makes one.
  if (config.upstream_ca_file.empty()) return;
  boost::system::error_code ec;
  client_ctx_.load_verify_file(config.upstream_ca_file.string(), ec);
  if (ec)
    throw InterceptorStartError(
        fmt::format("upstream CA {}: {}", config.upstream_ca_file.string(), ec.message()));
}

UpstreamPool::~UpstreamPool() = default;

void UpstreamPool::clear() {
  std::lock_guard lock(mutex_);
  pool_.clear();
}

asio::awaitable<std::unique_ptr<UpstreamPool::Stream>> UpstreamPool::connect() {
  if (config_.upstream_ca_file.empty())
    std::call_once(system_roots_loaded_, [this] {
      boost::system::error_code ignored;  // without roots, verification fails and says so
      client_ctx_.set_default_verify_paths(ignored);
    });
  // Its own strand: a pooled stream later serves other connections' coroutines, and Beast runs the
  // stream's timer and intermediate handlers on the stream's executor.
  auto executor = asio::make_strand(ioc_);
  tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(host_, port_, use_awaitable);
  auto stream = std::make_unique<Stream>(beast::tcp_stream(executor), client_ctx_);
  // SSL_set_tlsext_host_name() without its old-style cast
  if (!SSL_ctrl(stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                const_cast<char*>(host_.c_str())))
    throw boost::system::system_error(
        beast::error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()));
  stream->set_verify_callback(ssl::host_name_verification(host_));
  beast::get_lowest_layer(*stream).expires_after(config_.upstream_timeout);
  co_await beast::get_lowest_layer(*stream).async_connect(endpoints, use_awaitable);
  beast::get_lowest_layer(*stream).socket().set_option(tcp::no_delay(true));
  co_await stream->async_handshake(ssl::stream_base::client, use_awaitable);
  co_return stream;
}

std::unique_ptr<UpstreamPool::Stream> UpstreamPool::take() {
  std::lock_guard lock(mutex_);
  if (pool_.empty()) return nullptr;
  auto stream = std::move(pool_.back());
  pool_.pop_back();
  return stream;
}

void UpstreamPool::give(std::unique_ptr<Stream> stream) {
  std::lock_guard lock(mutex_);
  if (pool_.size() < pool_limit) pool_.push_back(std::move(stream));
}

asio::awaitable<UpstreamPool::Result> UpstreamPool::forward(const Request& original, Exchange& exchange) {
  Request request = original;
  request.target(base_ + std::string(original.target()));
  request.set(http::field::host, authority_);
  request.keep_alive(true);
  exchange.upstream_request = fmt::format("{} https://{}{}", std::string(original.method_string()),
                                          authority_, std::string(request.target()));
  Result result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool pooled = false;
    std::unique_ptr<Stream> stream = take();
    try {
      if (stream)
        pooled = true;
      else
        stream = co_await connect();
      auto& lowest = beast::get_lowest_layer(*stream);
      lowest.expires_after(config_.upstream_timeout);
      co_await http::async_write(*stream, request, use_awaitable);
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(8 * 1024 * 1024);
      co_await http::async_read(*stream, buffer, parser, use_awaitable);
      result.response = parser.release();
      if (result.response.keep_alive() && buffer.size() == 0) give(std::move(stream));
      result.error.clear();
      co_return result;
    } catch (const boost::system::system_error& e) {
      // A pooled connection the upstream closed meanwhile: try once more on a fresh one.
      if (pooled && !is_timeout(e.code())) continue;
      result.timed_out = is_timeout(e.code());
      result.error = fmt::format("infrastructure: upstream {} {}: {}", authority_,
                                 result.timed_out ? "did not answer in time" : "failed", e.code().message());
      co_return result;
    }
  }
  result.error = fmt::format("infrastructure: upstream {} failed twice", authority_);
  co_return result;
}

}  // namespace provhil::intercept::detail
