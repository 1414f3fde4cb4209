#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace provhil {

// Makes captured bytes safe for text logs and XML: valid UTF-8 passes through; each byte of an
// invalid sequence, each C0 control other than tab, LF and CR, and DEL become a visible `\xHH`.
// The raw bytes are kept elsewhere (raw logs); this is the readable form.
std::string sanitize_text(std::string_view bytes);

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// The 1-based line and column (in bytes) of the first byte that is not valid UTF-8, if any.
std::optional<std::pair<int, int>> first_invalid_utf8(std::string_view text);

}  // namespace provhil
