#pragma once
// Internal: the Blynk binary protocol's frames (what stock Edgent speaks to the cloud over TLS).
// Header, 5 bytes big-endian: type u8, msg_id u16, length u16 (for type 0, a status, no body).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace provhil::intercept::blynk {

enum Command : std::uint8_t {
  response = 0,
  ping = 6,
  internal = 17,
  hardware = 20,
  hw_login = 29,
  redirect = 41,
  debug_print = 55,
};

enum Status : std::uint16_t {
  ok = 200,
  illegal_command = 2,
  not_authenticated = 5,
  invalid_token = 9,
};

inline constexpr std::size_t header_size = 5;

struct Header {
  std::uint8_t type = 0;
  std::uint16_t msg_id = 0;
  std::uint16_t length = 0;  // the status for type 0
};

inline Header parse_header(const unsigned char* bytes) {
  return {bytes[0], static_cast<std::uint16_t>(bytes[1] << 8 | bytes[2]),
          static_cast<std::uint16_t>(bytes[3] << 8 | bytes[4])};
}

inline std::string frame(std::uint8_t type, std::uint16_t msg_id, std::string_view body) {
  std::string out;
  out += static_cast<char>(type);
  out += static_cast<char>(msg_id >> 8);
  out += static_cast<char>(msg_id & 0xff);
  out += static_cast<char>((body.size() >> 8) & 0xff);
  out += static_cast<char>(body.size() & 0xff);
  out += body;
  return out;
}

inline std::string status_frame(std::uint16_t msg_id, std::uint16_t status) {
  std::string out;
  out += static_cast<char>(response);
  out += static_cast<char>(msg_id >> 8);
  out += static_cast<char>(msg_id & 0xff);
  out += static_cast<char>(status >> 8);
  out += static_cast<char>(status & 0xff);
  return out;
}

// INTERNAL body: NUL-separated key, value, key, value ...
inline std::vector<std::pair<std::string, std::string>> parse_pairs(std::string_view body) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto end = body.find('\0', start);
    if (end == std::string_view::npos) end = body.size();
    parts.emplace_back(body.substr(start, end - start));
    start = end + 1;
  }
  if (!parts.empty() && parts.back().empty()) parts.pop_back();  // a trailing NUL
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2)
    out.emplace_back(parts[i], parts[i + 1]);
  if (parts.size() % 2) out.emplace_back(parts.back(), "");
  return out;
}

inline std::string join_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '\0';
    out += k;
    out += '\0';
    out += v;
  }
  return out;
}

struct Frame {
  Header header;
  std::string body;  // empty for a response (type 0): its length field is a status
};

// Cuts a byte stream into frames: fed with whatever the socket gave, it hands out whole frames. A
// caller that reads only on need_more holds at most one frame and one read (a body longer than
// `body_limit` is refused before it is read). No socket: a fuzz target feeds it bytes.
class FrameReader {
 public:
  enum class Next { frame, need_more, too_large };

  explicit FrameReader(std::size_t body_limit) : body_limit_(body_limit) {}

  void append(std::string_view bytes) { pending_.append(bytes); }
  std::size_t buffered() const { return pending_.size(); }

  // The next whole frame into `out`; need_more until one is complete; too_large when the next
  // frame's announced body exceeds the limit (`out.header` says how long; the reader is then of no
  // further use).
  Next next(Frame& out) {
    if (pending_.size() < header_size) return Next::need_more;
    Header header = parse_header(reinterpret_cast<const unsigned char*>(pending_.data()));
    std::size_t body_size = header.type == response ? 0 : header.length;
    out.header = header;
    if (body_size > body_limit_) return Next::too_large;
    if (pending_.size() < header_size + body_size) return Next::need_more;
    out.body = pending_.substr(header_size, body_size);
    pending_.erase(0, header_size + body_size);
    return Next::frame;
  }

 private:
  std::size_t body_limit_;
  std::string pending_;
};

}  // namespace provhil::intercept::blynk
