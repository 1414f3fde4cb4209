#pragma once
// Internal: one Blynk binary-protocol connection in proxy mode. The bytes go to the upstream
// unchanged both ways; the device's frames are decoded on the way for the journal (the login and
// its INTERNAL info, checked like a mock login).
// Templated on the stream; instantiated in blynk_tunnel.cpp for TlsStream and PlainStream.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

template <class Stream>
class BlynkTunnel {
 public:
  BlynkTunnel(SharedState& shared, Stream& device, beast::flat_buffer& buffer, Connection& conn);
  asio::awaitable<void> run(Clock::time_point started);

 private:
  SharedState& shared_;
  Stream& device_;
  beast::flat_buffer& buffer_;
  Connection& conn_;
};

extern template class BlynkTunnel<TlsStream>;
extern template class BlynkTunnel<PlainStream>;

}  // namespace provhil::intercept::detail
