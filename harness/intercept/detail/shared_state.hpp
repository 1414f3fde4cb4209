#pragma once
// Internal: what the interceptor's listener and sessions share (Beast's server examples call it the
// shared state): the configuration, the registry every exchange goes to, the upstream pool; and
// what one connection knows about itself. One connection is served by one coroutine on its own
// strand; the registry and the pool are thread-safe.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "asio/tls_socket.hpp"
#include "intercept/interceptor.hpp"
#include "intercept/provision.hpp"

namespace provhil::intercept {
class Registry;
}

namespace provhil::intercept::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

using TlsStream = net::TlsSocket;       // boards' TLS connections
using PlainStream = beast::tcp_stream;  // the plain port, and bytes turned away on the TLS port
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

class UpstreamPool;

struct SharedState {
  const InterceptorConfig& config;  // advertised_host filled in
  Registry& registry;
  UpstreamPool& upstream;
  std::uint16_t tls_port = 0;  // bound; rewritten redirects point here
  std::atomic<bool> stopping{false};
};

// What a connection knows about itself; the SNI callback fills in its part.
struct Connection {
  std::string client;          // address:port
  std::string client_address;  // address only
  std::string sni;             // as the client sent it (any bytes)
  std::string tls_version = "plain";
  std::optional<ConnectionFault> fault;  // a handshake fault taken for it (its owner gets the entry)
  bool fault_is(ConnectionFault::Kind kind) const { return fault && fault->kind == kind; }
};

Connection make_connection(const tcp::socket& socket);
std::string endpoint_text(const tcp::endpoint& endpoint);

}  // namespace provhil::intercept::detail
