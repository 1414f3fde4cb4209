#include "intercept/detail/blynk_session.hpp"

#include <fmt/format.h>
#include <array>
#include <boost/asio/write.hpp>

#include "intercept/detail/exchanges.hpp"
#include "intercept/detail/stream_ops.hpp"
#include "intercept/registry.hpp"

namespace provhil::intercept::detail {

using asio::use_awaitable;

template <class Stream>
BlynkSession<Stream>::BlynkSession(SharedState& shared, Stream& stream, beast::flat_buffer& buffer,
                                   Connection& conn)
    : shared_(shared), config_(shared.config), stream_(stream), buffer_(buffer), conn_(conn) {}

template <class Stream>
void BlynkSession<Stream>::flush_pending() {
  if (!pending_) return;
  pending_->verdicts = shared_.registry.check_login_info(pending_id_, pending_->info);
  pending_->info = bounded_pairs(std::move(pending_->info));
  record(shared_.registry, std::move(*pending_), login_started_, pending_id_);
  pending_.reset();
}

template <class Stream>
asio::awaitable<bool> BlynkSession<Stream>::send(const std::string& bytes) {
  boost::system::error_code ec;
  co_await asio::async_write(stream_, asio::buffer(bytes), asio::redirect_error(use_awaitable, ec));
  co_return !ec;
}

template <class Stream>
asio::awaitable<void> BlynkSession<Stream>::run(Clock::time_point started) {
  // A board that is logged in pings every heartbeat (45 s by default): allow two of them.
  const auto idle = std::max<std::chrono::milliseconds>(config_.idle_timeout, std::chrono::seconds(100));
  const auto login_deadline = started + config_.login_timeout;
  auto idle_deadline = login_deadline;
  blynk::FrameReader reader(config_.body_limit);
  reader.append(std::string_view(static_cast<const char*>(buffer_.data().data()), buffer_.size()));
  buffer_.consume(buffer_.size());
  std::array<char, 4096> chunk;
  for (;;) {
    blynk::Frame frame;
    auto next = reader.next(frame);
    if (next == blynk::FrameReader::Next::too_large) {
      record(shared_.registry,
             rejected(base_exchange(conn_, started),
                      fmt::format("Blynk frame of {} bytes exceeds the limit", frame.header.length)),
             started);
      break;
    }
    if (next == blynk::FrameReader::Next::need_more) {
      expire_at(stream_, logged_in_ ? idle_deadline : login_deadline);
      boost::system::error_code ec;
      auto n = co_await stream_.async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (!pending_ && !logged_in_ && is_timeout(ec))
          record(shared_.registry,
                 rejected(base_exchange(conn_, started), "Blynk: no login before the deadline"), started);
        break;
      }
      reader.append(std::string_view(chunk.data(), n));
      continue;
    }
    idle_deadline = Clock::now() + idle;  // the idle phase starts after each whole frame
    if (!co_await on_frame(frame)) break;
  }
  flush_pending();
  co_await close_gracefully(stream_);
}

template <class Stream>
asio::awaitable<bool> BlynkSession<Stream>::on_frame(const blynk::Frame& frame) {
  const auto& header = frame.header;
  switch (header.type) {
    case blynk::hw_login: {
      LoginDecision decision = shared_.registry.decide_login(frame.body);
      login_started_ = Clock::now();
      Exchange ex = base_exchange(conn_, login_started_);
      ex.kind = ExchangeKind::login;
      ex.token = bounded_evidence(frame.body);
      ex.owner = decision.owner;
      ex.expected = decision.expected;
      ex.status = decision.accept ? blynk::ok : blynk::invalid_token;
      ex.answered_by = Responder::mock;
      flush_pending();
      pending_ = std::move(ex);
      pending_id_ = decision.id;
      logged_in_ = decision.accept;
      bool sent = co_await send(
          blynk::status_frame(header.msg_id, decision.accept ? blynk::ok : blynk::invalid_token));
      // The cloud drops a connection with an invalid token.
      co_return sent&& decision.accept;
    }
    case blynk::internal:
      if (pending_) {
        pending_->info = blynk::parse_pairs(frame.body);
        flush_pending();
        co_return true;
      }
      break;
    case blynk::ping:
      co_return co_await send(
          blynk::status_frame(header.msg_id, logged_in_ ? blynk::ok : blynk::not_authenticated));
    case blynk::response:
      co_return true;
    default:
      break;  // any other command: answered below when not logged in, ignored otherwise
  }
  if (!logged_in_) co_return co_await send(blynk::status_frame(header.msg_id, blynk::not_authenticated));
  co_return true;
}

template class BlynkSession<TlsStream>;
template class BlynkSession<PlainStream>;

}  // namespace provhil::intercept::detail
