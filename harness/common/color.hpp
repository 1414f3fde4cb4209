#pragma once
// Whether output gets ANSI colours: `--color auto|always|never`, then (for auto) the conventions
// FORCE_COLOR (set and not "0": colour even into a pipe), NO_COLOR (set and not empty: none), a
// terminal on the stream, and TERM=dumb (a terminal that understands no escape codes).
#include <optional>
#include <string_view>

namespace provhil {

enum class ColorMode { automatic, always, never };

// "auto", "always", "never"; nullopt otherwise.
std::optional<ColorMode> parse_color_mode(std::string_view text);

struct ColorEnvironment {
  const char* no_color = nullptr;         // $NO_COLOR
  const char* force_color = nullptr;      // $FORCE_COLOR
  const char* term = nullptr;             // $TERM
  bool is_terminal = false;               // isatty() of the stream
  static ColorEnvironment of_fd(int fd);  // reads the process environment and isatty(fd)
};

bool use_color(ColorMode mode, const ColorEnvironment& env);
// A terminal that can redraw lines in place (cursor movement): a tty whose TERM is not "dumb".
bool can_redraw(const ColorEnvironment& env);

}  // namespace provhil
