#include "runner/http_get.hpp"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace provhil::runner {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& target,
                   std::chrono::steady_clock::time_point deadline) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  auto where = fmt::format("GET http://{}:{}{}", host, port, target);
  auto left = [&] {
    return std::max(std::chrono::steady_clock::duration::zero(), deadline - std::chrono::steady_clock::now());
  };

  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) throw HttpError(fmt::format("{}: cannot resolve {}: {}", where, host, ec.message()));
  stream.expires_after(left());
  stream.connect(endpoints, ec);
  if (ec) throw HttpConnectError(fmt::format("{}: cannot connect: {}", where, ec.message()));

  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "provhil");
  request.set(http::field::connection, "close");
  stream.expires_after(left());
  http::write(stream, request, ec);
  if (ec) throw HttpError(fmt::format("{}: sending the request failed: {}", where, ec.message()));

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1024 * 1024);
  stream.expires_after(left());
  http::read(stream, buffer, parser, ec);
  if (ec == beast::error::timeout)
    throw HttpError(fmt::format("{}: no complete answer before the deadline", where));
  if (ec) throw HttpError(fmt::format("{}: reading the answer failed: {}", where, ec.message()));
  auto& response = parser.get();
  HttpReply reply;
  reply.status = static_cast<int>(response.result_int());
  reply.body = std::move(response.body());
  reply.content_type = std::string(response[http::field::content_type]);
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return reply;
}

}  // namespace provhil::runner
