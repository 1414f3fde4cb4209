#pragma once
// Where provhil's shared data is (firmware dialects, simulator profiles, the example project that
// `provhil init` copies): found from the running binary, so a package installed under any prefix works.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace provhil {

// The folders searched, in order, for a binary at `exe`:
//   `env_override` when given (the PROVHIL_DATA_DIR environment variable: it alone is searched);
//   <exe's folder>/../share/provhil      an installed binary (<prefix>/bin/provhil);
//   <exe's folder>/share/provhil         a build tree (CMake links it to the repo's fixtures/).
std::vector<std::filesystem::path> data_dir_candidates(const std::filesystem::path& exe,
                                                       const std::optional<std::string>& env_override);
// The first candidate that is a folder, or nullopt.
std::optional<std::filesystem::path> find_data_dir(const std::filesystem::path& exe,
                                                   const std::optional<std::string>& env_override);

// This process's binary (/proc/self/exe).
std::filesystem::path self_executable();
// find_data_dir for this process and $PROVHIL_DATA_DIR; computed once.
const std::optional<std::filesystem::path>& shared_data_dir();
// "A, B or C": where shared_data_dir() looked, for error messages.
std::string shared_data_dir_searched();

}  // namespace provhil
