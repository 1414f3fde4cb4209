#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"

namespace provhil::cli {

int not_built_yet(std::string_view command, std::string_view what_is_missing) {
  fmt::print(stderr, "provhil {}: not built yet: {}. Nothing was done.\n", command, what_is_missing);
  return to_int(ExitCode::usage);
}

}  // namespace provhil::cli
