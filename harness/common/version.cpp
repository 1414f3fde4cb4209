#include "common/version.hpp"

#include <provhil/version_info.hpp>

namespace provhil {

std::string project_version() {
  return PROVHIL_VERSION;
}

std::string full_version() {
  std::string describe = PROVHIL_GIT_DESCRIBE;
  if (describe.empty()) return project_version();
  return project_version() + " (git " + describe + ")";
}

}  // namespace provhil
