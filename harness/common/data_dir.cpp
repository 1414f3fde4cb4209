#include "common/data_dir.hpp"

#include <cstdlib>
#include <system_error>

namespace provhil {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> data_dir_env() {
  const char* value = std::getenv("PROVHIL_DATA_DIR");
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

}  // namespace

std::vector<fs::path> data_dir_candidates(const fs::path& exe,
                                          const std::optional<std::string>& env_override) {
  if (env_override) return {fs::path(*env_override)};
  const fs::path bin = exe.parent_path();
  return {(bin.parent_path() / "share" / "provhil").lexically_normal(), bin / "share" / "provhil"};
}

std::optional<fs::path> find_data_dir(const fs::path& exe, const std::optional<std::string>& env_override) {
  for (const auto& candidate : data_dir_candidates(exe, env_override)) {
    std::error_code ec;
    if (fs::is_directory(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

fs::path self_executable() {
  std::error_code ec;
  auto path = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path("provhil") : path;
}

const std::optional<fs::path>& shared_data_dir() {
  static const std::optional<fs::path> dir = find_data_dir(self_executable(), data_dir_env());
  return dir;
}

std::string shared_data_dir_searched() {
  auto candidates = data_dir_candidates(self_executable(), data_dir_env());
  std::string text;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (i > 0) text += i + 1 == candidates.size() ? " or " : ", ";
    text += candidates[i].string();
  }
  if (data_dir_env()) text += " (PROVHIL_DATA_DIR)";
  return text;
}

}  // namespace provhil
