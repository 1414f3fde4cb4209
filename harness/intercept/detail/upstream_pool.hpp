#pragma once
// Internal: the proxy's client side. TLS to the upstream with certificate and host-name
// verification, a keep-alive pool, and forwarding one request.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

class UpstreamPool {
 public:
  using Stream = beast::ssl_stream<beast::tcp_stream>;
  static constexpr std::size_t pool_limit = 64;

  // Parses config.upstream_url and loads config.upstream_ca_file; throws InterceptorStartError.
  UpstreamPool(asio::io_context& ioc, const InterceptorConfig& config);
  ~UpstreamPool();

  // A new verified connection (throws boost::system::system_error).
  asio::awaitable<std::unique_ptr<Stream>> connect();

  struct Result {
    Response response;
    std::string error;  // empty: ok
    bool timed_out = false;
  };
  // Sends `original` upstream (on a pooled connection when there is one) and reads the answer;
  // notes what was sent in `exchange.upstream_request`.
  asio::awaitable<Result> forward(const Request& original, Exchange& exchange);

  const std::string& authority() const { return authority_; }
  void clear();  // before the io_context goes

 private:
  std::unique_ptr<Stream> take();
  void give(std::unique_ptr<Stream> stream);

  asio::io_context& ioc_;
  const InterceptorConfig& config_;
  asio::ssl::context client_ctx_{asio::ssl::context::tls_client};
  std::string host_, port_, authority_, base_;
  std::once_flag system_roots_loaded_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Stream>> pool_;
};

}  // namespace provhil::intercept::detail
