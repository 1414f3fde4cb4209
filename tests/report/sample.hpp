#pragma once

// Fixed results and helpers shared by the report tests and the crash child.

#include <filesystem>
#include <string>

#include "report/results.hpp"

namespace provhil::report::sample {

inline constexpr const char* token = "Rps15JICmtRVbFyS_95houlLbm6xIQ2L";
inline constexpr const char* wifi_pass = "c0rrect horse&battery";

// 2024-05-01T12:00:00Z plus `seconds`.
WallTime at(double seconds);
RunInfo run_info();
// A passed case; its text log (when `log_dir` is not empty) is written under log_dir.
CaseResult passed_case(const std::string& scenario, const std::string& board,
                       const std::filesystem::path& log_dir);
CaseResult failed_case(const std::filesystem::path& log_dir);
CaseResult error_case();
CaseResult skipped_case();
CaseResult flaky_case(const std::filesystem::path& log_dir);
CaseResult rerun_failed_case(const std::filesystem::path& log_dir);

void write_bytes(const std::filesystem::path& path, const std::string& bytes);

}  // namespace provhil::report::sample
