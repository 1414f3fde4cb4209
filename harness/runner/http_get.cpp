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
  // Asynchronous operations on one private io_context: Beast's stream expiry applies only to those,
  // so every phase ends at the deadline even when the board stops answering mid-exchange.
  asio::io_context io;
  beast::tcp_stream stream(io);
  auto where = fmt::format("GET http://{}:{}{}", host, port, target);
  auto run_to_completion = [&] {
    io.restart();
    io.run();
  };

  asio::ip::tcp::resolver resolver(io);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) throw HttpError(fmt::format("{}: cannot resolve {}: {}", where, host, ec.message()));

  stream.expires_at(deadline);
  beast::error_code connected;
  stream.async_connect(endpoints,
                       [&](beast::error_code e, const asio::ip::tcp::endpoint&) { connected = e; });
  run_to_completion();
  if (connected == beast::error::timeout)
    throw HttpError(fmt::format("{}: no connection before the deadline", where));
  if (connected) throw HttpConnectError(fmt::format("{}: cannot connect: {}", where, connected.message()));

  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "provhil");
  request.set(http::field::connection, "close");
  beast::error_code written;
  http::async_write(stream, request, [&](beast::error_code e, std::size_t) { written = e; });
  run_to_completion();
  if (written) throw HttpError(fmt::format("{}: sending the request failed: {}", where, written.message()));

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1024 * 1024);
  beast::error_code read;
  http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { read = e; });
  run_to_completion();
  if (read == beast::error::timeout)
    throw HttpError(fmt::format("{}: no complete answer before the deadline", where));
  if (read) throw HttpError(fmt::format("{}: reading the answer failed: {}", where, read.message()));
  auto& response = parser.get();
  HttpReply reply;
  reply.status = static_cast<int>(response.result_int());
  reply.body = std::move(response.body());
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return reply;
}

}  // namespace provhil::runner
