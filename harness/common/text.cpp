#include "common/text.hpp"

#include <cstdint>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace provhil {

namespace {

// Length of the valid UTF-8 sequence starting at bytes[i], or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view bytes, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(bytes[k]); };
  std::uint8_t lead = byte(i);
  std::size_t length = 0;
  std::uint8_t second_min = 0x80;
  std::uint8_t second_max = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > bytes.size()) return 0;
  if (byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::string sanitize_text(std::string_view bytes) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  auto escape = [&](std::uint8_t c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 0xF];
  };
  std::size_t i = 0;
  while (i < bytes.size()) {
    auto c = static_cast<std::uint8_t>(bytes[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
        escape(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t length = utf8_sequence_length(bytes, i);
    if (length == 0) {
      escape(c);
      ++i;
    } else {
      out.append(bytes.substr(i, length));
      i += length;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::size_t length = utf8_sequence_length(bytes, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::optional<std::pair<int, int>> first_invalid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::nullopt;  // the common case: one pass
  int line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    auto row = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!is_valid_utf8(row)) {
      // Walk the sequences: the first one that does not decode is the place.
      std::size_t column = 0;
      while (column < row.size()) {
        auto lead = static_cast<unsigned char>(row[column]);
        std::size_t length = lead < 0x80         ? 1
                             : lead >> 5 == 0x6  ? 2
                             : lead >> 4 == 0xE  ? 3
                             : lead >> 3 == 0x1E ? 4
                                                 : 0;
        if (length == 0 || !is_valid_utf8(row.substr(column, length))) break;
        column += length;
      }
      return std::pair<int, int>{line, static_cast<int>(column) + 1};
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
    ++line;
  }
  return std::pair<int, int>{line, 1};
}

std::string json_escape(std::string_view text) {
  std::string quoted = boost::json::serialize(boost::json::string(text));
  return quoted.substr(1, quoted.size() - 2);
}

std::string safe_file_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    bool keep = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
                c == '_' || c == '.' || c == '+' || c == '@' || u >= 0x80;
    out += keep ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  if (out != name) {
    // A hash of the original, so that `x/y` and `x_y` never share a folder.
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (char c : name)
      hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
    out += fmt::format("~{:08x}", hash);
  }
  return out;
}

}  // namespace provhil
