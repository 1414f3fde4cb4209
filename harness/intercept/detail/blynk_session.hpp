#pragma once
// Internal: one Blynk binary-protocol connection in mock mode: HW_LOGIN answered 200 for a
// registered token (9 otherwise, then closed), PING answered, the INTERNAL info after the login
// recorded with the login and checked. Until it logs in a session has one short deadline from its
// start (PINGs do not extend it); after, an idle deadline from its last whole frame.
// Templated on the stream; instantiated in blynk_session.cpp for TlsStream and PlainStream.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <optional>

#include "intercept/blynk.hpp"
#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

template <class Stream>
class BlynkSession {
 public:
  BlynkSession(SharedState& shared, Stream& stream, beast::flat_buffer& buffer, Connection& conn);

  // `started`: when the connection was accepted (the login deadline runs from it).
  asio::awaitable<void> run(Clock::time_point started);

 private:
  // Answers one frame; false when the session is to end.
  asio::awaitable<bool> on_frame(const blynk::Frame& frame);
  void flush_pending();
  asio::awaitable<bool> send(const std::string& bytes);

  SharedState& shared_;
  const InterceptorConfig& config_;
  Stream& stream_;
  beast::flat_buffer& buffer_;
  Connection& conn_;
  bool logged_in_ = false;
  std::optional<Exchange> pending_;  // the login, recorded once its INTERNAL info arrived
  std::optional<ExpectationId> pending_id_;
  Clock::time_point login_started_;
};

extern template class BlynkSession<TlsStream>;
extern template class BlynkSession<PlainStream>;

}  // namespace provhil::intercept::detail
