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

// `text` as the inside of a JSON string (no quotes), escaped as Boost.JSON writes it: the one JSON
// escaper (journals and reports are written by Boost.JSON, the simulator's hand-built answers use this).
std::string json_escape(std::string_view text);

// `name` (a board or scenario name) as one safe path component: letters, digits, `-_.+@` and non-ASCII
// bytes stay, anything else (`/`, spaces, controls) becomes `_`; never empty, `.` or `..`. A name that
// had to change gets `~` and a hash of the original after it, so `x/y` and `x_y` never share a folder.
std::string safe_file_name(std::string_view name);

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// The 1-based line and column (in bytes) of the first byte that is not valid UTF-8, if any.
std::optional<std::pair<int, int>> first_invalid_utf8(std::string_view text);

}  // namespace provhil
