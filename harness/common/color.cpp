#include "common/color.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace provhil {

std::optional<ColorMode> parse_color_mode(std::string_view text) {
  if (text == "auto") return ColorMode::automatic;
  if (text == "always") return ColorMode::always;
  if (text == "never") return ColorMode::never;
  return std::nullopt;
}

ColorEnvironment ColorEnvironment::of_fd(int fd) {
  return {std::getenv("NO_COLOR"), std::getenv("FORCE_COLOR"), std::getenv("TERM"), ::isatty(fd) != 0};
}

bool use_color(ColorMode mode, const ColorEnvironment& env) {
  if (mode != ColorMode::automatic) return mode == ColorMode::always;
  auto set = [](const char* value) { return value != nullptr && *value != '\0'; };
  // FORCE_COLOR is the more specific wish (a CI log viewer that renders colours); "0" turns it off.
  if (set(env.force_color)) return std::string_view(env.force_color) != "0";
  if (set(env.no_color)) return false;
  return can_redraw(env);
}

bool can_redraw(const ColorEnvironment& env) {
  return env.is_terminal && !(env.term != nullptr && std::string_view(env.term) == "dumb");
}

}  // namespace provhil
