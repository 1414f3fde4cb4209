#pragma once

#include <string>

namespace provhil {

// The project version, e.g. "0.1.0".
std::string project_version();
// The project version plus `git describe` of the source tree at build time when known,
// e.g. "0.1.0 (git 3f2a1b7-dirty)".
std::string full_version();

}  // namespace provhil
