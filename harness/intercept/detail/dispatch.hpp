#pragma once
// Internal: what a connection's first bytes say it speaks. Plain functions on bytes (no socket), so
// a fuzz target can call them.

#include <cstddef>
#include <span>

namespace provhil::intercept::detail {

// On the TLS port, before the handshake (`bytes`: what a peek saw, up to 6 bytes).
enum class TlsPortGreeting {
  client_hello,  // a TLS handshake record holding a ClientHello: OpenSSL takes it from here
  plain_http,    // an upper-case letter: an HTTP request sent without TLS (answered 400)
  other,         // anything else (closed)
};
TlsPortGreeting classify_tls_port(std::span<const unsigned char> bytes);

// After the handshake (or on the plain port): a request line starts with an upper-case method
// name, a Blynk frame with a small command number. `bytes` is not empty.
enum class Protocol { http, blynk };
Protocol classify_protocol(std::span<const unsigned char> bytes);

}  // namespace provhil::intercept::detail
