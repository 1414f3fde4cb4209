#pragma once
// Internal: one HTTP connection (TLS or plain): reads requests under per-phase deadlines, checks
// and answers them (scripted, with faults, or forwarded upstream), journals each exchange.
// Templated on the stream; instantiated in http_session.cpp for TlsStream and PlainStream.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

template <class Stream>
class HttpSession {
 public:
  // `buffer` holds what was read already (the first bytes); `conn` outlives the session.
  HttpSession(SharedState& shared, Stream& stream, beast::flat_buffer& buffer, Connection& conn);

  // Serves requests until the connection ends. The first request's header phase started at
  // `started` (when the server began waiting for it) and ends at `header_deadline`.
  asio::awaitable<void> run(Clock::time_point started, Clock::time_point header_deadline);

 private:
  asio::awaitable<void> reject_bad_request(Clock::time_point started, const boost::system::error_code& ec);
  // Answers one request; false when the connection is to end.
  asio::awaitable<bool> handle(Request& request, Clock::time_point started);
  asio::awaitable<void> apply_fault(Fault::Kind kind, const Response& response);
  std::string rewrite_location(const std::string& location) const;

  SharedState& shared_;
  const InterceptorConfig& config_;
  Stream& stream_;
  beast::flat_buffer& buffer_;
  Connection& conn_;
};

extern template class HttpSession<TlsStream>;
extern template class HttpSession<PlainStream>;

}  // namespace provhil::intercept::detail
