#pragma once

// Internal to the report module: turning a CaseResult into clean text, a JUnit <testcase> fragment
// and a JSON record. Not part of the public face (results.hpp, writer.hpp).

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "common/secrets.hpp"
#include "report/results.hpp"

namespace provhil::report::detail {

// Masks secrets, then makes the bytes valid, XML-safe UTF-8 (sanitize_text).
std::string clean(std::string_view bytes, const SecretMasker& masker);
// clean(), then one line: line breaks become " | ", cut to `max_bytes` with "...".
std::string clean_line(std::string_view bytes, const SecretMasker& masker, std::size_t max_bytes);
// clean(), CRLF to LF, then cut in the middle to about `max_bytes`, marking what was cut.
std::string clean_block(std::string_view bytes, const SecretMasker& masker, std::size_t max_bytes);

// The last `max_bytes` (about) of a text file, from a line start when one is near, cleaned. Reads
// only that tail. `total_size` receives the file size. Empty when the file cannot be read.
std::string read_log_tail(const std::filesystem::path& file, std::size_t max_bytes,
                          const SecretMasker& masker, std::uintmax_t& total_size);

// "2024-05-01T12:00:00Z"; with millis "2024-05-01T12:00:00.123Z". Empty for the epoch (unset).
std::string iso_time(WallTime time, bool with_millis);
// Plain decimal seconds with 3 decimals ("12.345"), as JUnit `time` needs.
std::string seconds_text(Duration duration);
std::int64_t millis(Duration duration);

// A path as written in reports: relative to `base` when `path` is relative to it or below it.
std::string report_path(const std::filesystem::path& path, const std::filesystem::path& base);

struct RenderLimits {
  std::size_t message_bytes = 512;
  std::size_t detail_bytes = 8192;
  std::size_t excerpt_bytes = 4096;
  // The strict schema (--junit-strict): no `file`/`line` on <testcase>.
  bool strict_schema = false;
  // The run's start: results.json gives every event `t_ms`, milliseconds since then (one time base).
  WallTime run_started{};
};

// The <testcase> element of one case, indented for depth 2 (inside testsuites/testsuite).
std::string render_testcase(const CaseResult& result, std::string_view case_name, const SecretMasker& masker,
                            const RenderLimits& limits, const std::filesystem::path& attachment_base);

// The results.json record of one case (masked and sanitised).
boost::json::object case_json(const CaseResult& result, std::string_view case_name,
                              const SecretMasker& masker, const RenderLimits& limits,
                              const std::filesystem::path& attachment_base);
boost::json::object run_json(const RunInfo& run, const SecretMasker& masker);
boost::json::object board_json(const BoardInfo& board, const SecretMasker& masker);
boost::json::object planned_json(const PlannedCase& planned, const SecretMasker& masker);
// Masks and sanitises every string (and key) inside an arbitrary JSON value.
boost::json::value clean_json(const boost::json::value& value, const SecretMasker& masker);

// JSON text: compact (indent < 0) or pretty with `indent` spaces per level, starting at `depth`.
// Numbers print in shortest form ("42", "1.5"), non-finite ones as null.
void write_json(std::string& out, const boost::json::value& value, int indent = -1, int depth = 0);

// XML attribute/text escaping for the parts written by hand (suite headers).
std::string xml_escape(std::string_view text);

}  // namespace provhil::report::detail
