#include "intercept/detail/http_session.hpp"

#include <fmt/format.h>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <random>
#include <sstream>

#include "intercept/detail/exchanges.hpp"
#include "intercept/detail/stream_ops.hpp"
#include "intercept/detail/upstream_pool.hpp"
#include "intercept/registry.hpp"

namespace provhil::intercept::detail {

using asio::use_awaitable;

namespace {

std::chrono::milliseconds delay_of(const Fault& fault, int ordinal) {
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

// Why a request could not be read, as the journal says it, and whether the client gets a 400.
struct ReadFailure {
  bool answer = false;  // false: the client went away or was too slow (nothing to answer)
  std::string why;
};

ReadFailure read_failure(const boost::system::error_code& ec, const InterceptorConfig& config) {
  if (is_timeout(ec)) return {false, "the request did not arrive before its deadline (slow client)"};
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset)
    return {false, fmt::format("the client went away mid-request: {}", ec.message())};
  if (ec == http::error::header_limit)
    return {true, fmt::format("request header larger than {} bytes", config.header_limit)};
  if (ec == http::error::body_limit)
    return {true, fmt::format("request body larger than {} bytes", config.body_limit)};
  return {true, fmt::format("malformed HTTP request: {}", ec.message())};
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(SharedState& shared, Stream& stream, beast::flat_buffer& buffer,
                                 Connection& conn)
    : shared_(shared), config_(shared.config), stream_(stream), buffer_(buffer), conn_(conn) {}

template <class Stream>
asio::awaitable<void> HttpSession<Stream>::run(Clock::time_point started, Clock::time_point header_deadline) {
  auto& lowest = beast::get_lowest_layer(stream_);
  bool first = true;
  for (;;) {
    boost::system::error_code ec;
    if (!first) {
      if (buffer_.size() == 0) {
        // Between requests: the idle deadline; a client that closes here ends the connection.
        lowest.expires_after(config_.idle_timeout);
        auto n =
            co_await stream_.async_read_some(buffer_.prepare(1024), asio::redirect_error(use_awaitable, ec));
        if (ec) {
          lowest.close();
          co_return;
        }
        buffer_.commit(n);
      }
      // The next request's header phase starts with its first byte.
      started = Clock::now();
      header_deadline = started + config_.header_timeout;
    }
    first = false;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(config_.header_limit));
    parser.body_limit(config_.body_limit);
    expire_at(stream_, header_deadline);
    co_await http::async_read_header(stream_, buffer_, parser, asio::redirect_error(use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      lowest.expires_after(config_.body_timeout);  // the body phase starts at the header's end
      co_await http::async_read(stream_, buffer_, parser, asio::redirect_error(use_awaitable, ec));
    }
    if (ec) {
      co_await reject_bad_request(started, ec);
      co_return;
    }
    Request request = parser.release();
    bool keep = co_await handle(request, started);
    if (!keep) co_return;
  }
}

template <class Stream>
asio::awaitable<void> HttpSession<Stream>::reject_bad_request(Clock::time_point started,
                                                              const boost::system::error_code& ec) {
  auto& lowest = beast::get_lowest_layer(stream_);
  ReadFailure failure = read_failure(ec, config_);
  if (!failure.answer) {
    record(shared_.registry, rejected(base_exchange(conn_, started), failure.why), started);
    lowest.close();
    co_return;
  }
  Response response = json_error(http::status::bad_request, failure.why, 11, false);
  record(shared_.registry, rejected(base_exchange(conn_, started), failure.why, &response), started);
  lowest.expires_after(config_.header_timeout);
  boost::system::error_code write_ec;
  co_await http::async_write(stream_, response, asio::redirect_error(use_awaitable, write_ec));
  co_await drain_then_close(stream_);
}

// Points an upstream redirect back at the interceptor, so the board's next request comes here too.
template <class Stream>
std::string HttpSession<Stream>::rewrite_location(const std::string& location) const {
  auto parsed = boost::urls::parse_uri(location);
  if (!parsed) return location;
  boost::urls::url url = *parsed;
  url.set_scheme("https");
  url.set_host(config_.advertised_host);
  url.set_port_number(shared_.tls_port);
  return std::string(url.buffer());
}

template <class Stream>
asio::awaitable<bool> HttpSession<Stream>::handle(Request& request, Clock::time_point started) {
  auto& lowest = beast::get_lowest_layer(stream_);
  boost::system::error_code ec;
  Exchange ex = base_exchange(conn_, started);
  ex.method = std::string(request.method_string());
  ex.target = std::string(request.target());
  ex.request_headers = header_list(request.base());

  ProvisionRequest parsed;
  std::optional<std::string> parse_error;
  try {
    parsed = parse_provision_request(ex.method, ex.target, ex.request_headers);
  } catch (const ProvisionParseError& e) {
    parse_error = e.what();
  }
  if (parse_error) {
    Response response = json_error(http::status::bad_request, *parse_error, request.version(), false);
    record(shared_.registry, rejected(std::move(ex), std::move(*parse_error), &response), started);
    lowest.expires_after(config_.header_timeout);
    co_await http::async_write(stream_, response, asio::redirect_error(use_awaitable, ec));
    co_await close_gracefully(stream_);
    co_return false;
  }

  ProvisionDecision decision = shared_.registry.decide_provision(parsed);
  ex.kind = parsed.path == provision_path ? ExchangeKind::provision : ExchangeKind::http;
  ex.token = parsed.token.value_or("");
  ex.owner = decision.owner;
  ex.expected = decision.expected;
  ex.verdicts = std::move(decision.verdicts);

  Answer answer;
  if (decision.answer)
    answer = *decision.answer;
  else if (config_.mode == InterceptorConfig::Mode::proxy)
    answer = Answer::forward();
  else if (!decision.token_known)
    answer = Answer::invalid_token();  // what the cloud says about a token it does not know

  for (const auto& fault : answer.faults) {
    if (fault.kind != Fault::Kind::delay) continue;
    asio::steady_timer timer(co_await asio::this_coro::executor, delay_of(fault, decision.ordinal));
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }

  Response response;
  switch (answer.kind) {
    case Answer::Kind::proxy: {
      UpstreamPool::Result upstream = co_await shared_.upstream.forward(request, ex);
      if (upstream.error.empty()) {
        response = std::move(upstream.response);
        ex.answered_by = Responder::upstream;
        if (config_.rewrite_redirects) {
          auto location = response.find(http::field::location);
          if (location != response.end())
            response.set(http::field::location, rewrite_location(std::string(location->value())));
        }
        response.keep_alive(request.keep_alive());
      } else {
        response = json_error(upstream.timed_out ? http::status::gateway_timeout : http::status::bad_gateway,
                              upstream.error, request.version(), request.keep_alive());
        ex.answered_by = Responder::proxy_error;
        ex.error = upstream.error;
      }
      break;
    }
    case Answer::Kind::respond:
    case Answer::Kind::redirect:
      response = build_response(answer, request.version(), request.keep_alive());
      ex.answered_by = Responder::mock;
      break;
  }
  ex.status = static_cast<int>(response.result_int());
  ex.answer_headers = header_list(response.base());
  ex.answer_body = response.body();

  // Recorded before the answer leaves: when the client has it, waiters and the journal have it too.
  for (const auto& fault : answer.faults) {
    if (fault.kind == Fault::Kind::delay) continue;
    ex.answered_by = fault.kind;
    ex.status = 0;  // the client gets no proper answer
    record(shared_.registry, std::move(ex), started, decision.id);
    co_await apply_fault(fault.kind, response);
    co_return false;
  }
  record(shared_.registry, std::move(ex), started, decision.id);

  lowest.expires_after(config_.header_timeout);
  co_await http::async_write(stream_, response, asio::redirect_error(use_awaitable, ec));
  bool keep = !ec && response.keep_alive();
  if (!keep) co_await close_gracefully(stream_);
  co_return keep;
}

template <class Stream>
asio::awaitable<void> HttpSession<Stream>::apply_fault(Fault::Kind kind, const Response& response) {
  auto& lowest = beast::get_lowest_layer(stream_);
  boost::system::error_code ec;
  lowest.expires_after(config_.header_timeout);
  switch (kind) {
    case Fault::Kind::close:
      co_await close_gracefully(stream_);
      break;
    case Fault::Kind::reset:
      // SO_LINGER 0: close() sends RST instead of FIN, the client reads ECONNRESET.
      lowest.socket().set_option(asio::socket_base::linger(true, 0), ec);
      lowest.socket().close(ec);
      break;
    case Fault::Kind::malformed: {
      static const std::string garbage = "HTTP/1.1 2x0 NOT\x01HTTP\r\nthis is not a header line\r\n\r\n";
      co_await asio::async_write(stream_, asio::buffer(garbage), asio::redirect_error(use_awaitable, ec));
      co_await close_gracefully(stream_);
      break;
    }
    case Fault::Kind::truncated: {
      // Promise more body than is sent, then close cleanly (close_notify): a short read.
      std::string head =
          fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                      response.result_int(), std::string(response.reason()), response.body().size() + 100);
      std::string wire_short = head + response.body();
      co_await asio::async_write(stream_, asio::buffer(wire_short), asio::redirect_error(use_awaitable, ec));
      co_await close_gracefully(stream_);
      break;
    }
    case Fault::Kind::tls_truncation: {
      // The head and half the body (or half the head when there is no body), then drop TCP
      // without close_notify: only the missing close_notify and the short body tell the client.
      std::ostringstream serialized;
      serialized << response;
      std::string wire = serialized.str();
      std::size_t body_size = response.body().size();
      std::size_t cut = body_size ? wire.size() - body_size + body_size / 2 : wire.size() / 2;
      std::string half = wire.substr(0, std::max<std::size_t>(1, cut));
      co_await asio::async_write(stream_, asio::buffer(half), asio::redirect_error(use_awaitable, ec));
      lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
      lowest.socket().close(ec);
      break;
    }
    case Fault::Kind::delay:
      break;  // applied before answering
  }
}

template class HttpSession<TlsStream>;
template class HttpSession<PlainStream>;

}  // namespace provhil::intercept::detail
