#pragma once
// Internal: deadlines and closing, the same for a TLS and a plain stream.

#include <algorithm>
#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <type_traits>

#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

template <class Stream>
inline constexpr bool is_tls_v = std::is_same_v<Stream, TlsStream>;

inline bool is_timeout(const boost::system::error_code& ec) {
  return ec == beast::error::timeout;
}

// Bounds what the stream does until `deadline` (a phase's deadline, fixed when the phase starts:
// what arrives meanwhile does not move it).
template <class Stream>
void expire_at(Stream& stream, Clock::time_point deadline) {
  beast::get_lowest_layer(stream).expires_after(std::max(deadline - Clock::now(), Clock::duration::zero()));
}

template <class Stream>
asio::awaitable<void> close_gracefully(Stream& stream) {
  boost::system::error_code ec;
  auto& lowest = beast::get_lowest_layer(stream);
  if constexpr (is_tls_v<Stream>) {
    lowest.expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  } else {
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  lowest.close();
}

// Lingering close: after an early answer (a 400 while the client is still sending), read and drop
// what still comes for a moment, so closing does not reset the connection and destroy the answer.
template <class Stream>
asio::awaitable<void> drain_then_close(Stream& stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(std::chrono::milliseconds(500));
  std::array<char, 16 * 1024> sink;
  boost::system::error_code ec;
  while (!ec)
    co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  lowest.close();
}

}  // namespace provhil::intercept::detail
