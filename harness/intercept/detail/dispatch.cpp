#include "intercept/detail/dispatch.hpp"

namespace provhil::intercept::detail {

namespace {
bool upper_case(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
}  // namespace

TlsPortGreeting classify_tls_port(std::span<const unsigned char> bytes) {
  if (bytes.empty()) return TlsPortGreeting::other;
  // A handshake record (0x16), major version 3, whose first message is a ClientHello (type 1, the
  // sixth byte); bytes not yet seen are given the benefit of the doubt.
  if (bytes[0] == 0x16 && (bytes.size() < 2 || bytes[1] == 0x03) && (bytes.size() < 6 || bytes[5] == 0x01))
    return TlsPortGreeting::client_hello;
  return upper_case(bytes[0]) ? TlsPortGreeting::plain_http : TlsPortGreeting::other;
}

Protocol classify_protocol(std::span<const unsigned char> bytes) {
  return !bytes.empty() && upper_case(bytes[0]) ? Protocol::http : Protocol::blynk;
}

}  // namespace provhil::intercept::detail
