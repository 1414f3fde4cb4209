#include "intercept/detail/blynk_tunnel.hpp"

#include <fmt/format.h>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include "intercept/blynk.hpp"
#include "intercept/detail/exchanges.hpp"
#include "intercept/detail/stream_ops.hpp"
#include "intercept/detail/upstream_pool.hpp"
#include "intercept/registry.hpp"

namespace provhil::intercept::detail {

using asio::use_awaitable;

template <class Stream>
BlynkTunnel<Stream>::BlynkTunnel(SharedState& shared, Stream& device, beast::flat_buffer& buffer,
                                 Connection& conn)
    : shared_(shared), device_(device), buffer_(buffer), conn_(conn) {}

template <class Stream>
asio::awaitable<void> BlynkTunnel<Stream>::run(Clock::time_point started) {
  const auto& config = shared_.config;
  Exchange ex = base_exchange(conn_, started);
  ex.kind = ExchangeKind::login;
  ex.answered_by = Responder::upstream;
  ex.upstream_request = fmt::format("blynk tunnel to {}", shared_.upstream.authority());
  std::unique_ptr<UpstreamPool::Stream> upstream;
  std::string connect_error;
  try {
    upstream = co_await shared_.upstream.connect();
  } catch (const boost::system::system_error& e) {
    connect_error = e.code().message();
  }
  if (!upstream) {
    ex.answered_by = Responder::proxy_error;
    ex.error =
        fmt::format("infrastructure: upstream {} failed: {}", shared_.upstream.authority(), connect_error);
    record(shared_.registry, std::move(ex), started);
    co_await close_gracefully(device_);
    co_return;
  }
  beast::get_lowest_layer(*upstream).expires_never();
  const auto idle = std::max<std::chrono::milliseconds>(config.idle_timeout, std::chrono::seconds(100));
  std::optional<ExpectationId> id;
  bool recorded = false;
  // Frames are at most 64 KiB by their length field: the decoder holds one frame and one read.
  blynk::FrameReader decoder(0xffff);
  auto decode_frames = [&](std::string_view bytes) {
    decoder.append(bytes);
    blynk::Frame frame;
    while (decoder.next(frame) == blynk::FrameReader::Next::frame) {
      if (frame.header.type == blynk::hw_login) {
        LoginDecision decision = shared_.registry.decide_login(frame.body);
        ex.token = bounded_evidence(frame.body);
        ex.owner = decision.owner;
        ex.expected = decision.expected;
        id = decision.id;
      } else if (frame.header.type == blynk::internal && !recorded && !ex.token.empty()) {
        auto info = blynk::parse_pairs(frame.body);
        ex.verdicts = shared_.registry.check_login_info(id, info);
        ex.info = bounded_pairs(std::move(info));
        recorded = true;
        record(shared_.registry, ex, started, id);
      }
    }
  };

  // Upstream -> device in its own coroutine on this strand; the first status frame is the login
  // answer. When it ends it fires `upstream_done`, which this side waits on before leaving.
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer upstream_done(executor, Clock::time_point::max());
  bool upstream_finished = false;
  asio::co_spawn(
      executor,
      [&]() -> asio::awaitable<void> {
        std::array<char, 4096> chunk;
        boost::system::error_code ec;
        bool first = true;
        for (;;) {
          auto n = co_await upstream->async_read_some(asio::buffer(chunk),
                                                      asio::redirect_error(use_awaitable, ec));
          if (ec) break;
          if (first && n >= blynk::header_size && chunk[0] == 0) {
            ex.status = static_cast<unsigned char>(chunk[3]) << 8 | static_cast<unsigned char>(chunk[4]);
            first = false;
          }
          co_await asio::async_write(device_, asio::buffer(chunk.data(), n),
                                     asio::redirect_error(use_awaitable, ec));
          if (ec) break;
        }
        beast::get_lowest_layer(device_).close();
        upstream_finished = true;
        upstream_done.cancel();
      },
      asio::detached);

  boost::system::error_code ec;
  if (buffer_.size()) {
    std::string first(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    decode_frames(first);
    co_await asio::async_write(*upstream, asio::buffer(first), asio::redirect_error(use_awaitable, ec));
  }
  std::array<char, 4096> chunk;
  while (!ec) {
    beast::get_lowest_layer(device_).expires_after(idle);
    auto n = co_await device_.async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    decode_frames(std::string_view(chunk.data(), n));
    co_await asio::async_write(*upstream, asio::buffer(chunk.data(), n),
                               asio::redirect_error(use_awaitable, ec));
  }
  beast::get_lowest_layer(*upstream).close();
  // Wait for the other direction to notice (closing the upstream ends its read), so nothing it
  // references goes away under it. Both run on this strand: the flag cannot change meanwhile.
  if (!upstream_finished) co_await upstream_done.async_wait(asio::redirect_error(use_awaitable, ec));
  if (!recorded && !ex.token.empty()) record(shared_.registry, ex, started, id);
  beast::get_lowest_layer(device_).close();
}

template class BlynkTunnel<TlsStream>;
template class BlynkTunnel<PlainStream>;

}  // namespace provhil::intercept::detail
