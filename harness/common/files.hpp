#pragma once

// Reading the files people name in scenarios and inventories (and the files a run leaves behind)
// with a bound: `/dev/zero`, a FIFO or a runaway log must give a clear error, not take all memory.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace provhil {

// The cap for hand-written input files (scenarios, inventories, dialects, simulator profiles,
// secrets files): far above any real one, far below what hurts.
inline constexpr std::size_t max_input_file_bytes = std::size_t{1} << 20;

// Reads the whole file when it holds at most `max_bytes`. On failure returns nothing and sets
// `*error` (when given) to why, in the OS's words where it has them: "No such file or directory",
// "Is a directory", "larger than 1048576 bytes", ...
// Never blocks on a FIFO without a writer and never throws for a bad path.
std::optional<std::string> read_file_capped(const std::filesystem::path& file, std::size_t max_bytes,
                                            std::string* error = nullptr);

}  // namespace provhil
