// The interceptor's byte-stream side: what the first bytes on the TLS port and after the handshake
// say (dispatch), and a Blynk stream cut into frames by FrameReader, arriving in pieces whose sizes
// the input chooses, with INTERNAL/login bodies split into pairs.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "intercept/blynk.hpp"
#include "intercept/detail/dispatch.hpp"

namespace intercept = provhil::intercept;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // First byte: the size of the pieces the socket hands over (1..256).
  std::size_t piece = static_cast<std::size_t>(data[0]) + 1;
  std::span<const unsigned char> stream(data + 1, size - 1);
  (void)intercept::detail::classify_tls_port(stream.first(std::min<std::size_t>(stream.size(), 6)));
  (void)intercept::detail::classify_protocol(stream);
  intercept::blynk::FrameReader reader(1024);
  intercept::blynk::Frame frame;
  std::size_t offset = 0;
  std::size_t frames = 0;
  while (offset < stream.size()) {
    std::size_t n = std::min(piece, stream.size() - offset);
    reader.append(std::string_view(reinterpret_cast<const char*>(stream.data() + offset), n));
    offset += n;
    for (;;) {
      auto next = reader.next(frame);
      if (next == intercept::blynk::FrameReader::Next::too_large) return 0;
      if (next == intercept::blynk::FrameReader::Next::need_more) break;
      ++frames;
      if (frame.header.type != intercept::blynk::response && frame.body.size() != frame.header.length)
        std::abort();  // a frame's body is exactly what its header announced
      if (frame.header.type == intercept::blynk::internal || frame.header.type == intercept::blynk::hw_login)
        (void)intercept::blynk::parse_pairs(frame.body);
    }
    // Bounded: never more than one frame header, a 1 KiB body and one piece held.
    if (reader.buffered() > intercept::blynk::header_size + 1024 + piece) std::abort();
  }
  (void)frames;
  return 0;
}
