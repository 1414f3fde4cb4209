#pragma once

// Internal to the report module: reports/index.html, one self-contained page per run (inline CSS and
// JS, the data as JSON in the page; no network, works from file:// and as a CI artifact).
//
// Each case is reduced to a compact JSON record when it is added (html_case), kept in the journal,
// and streamed into the page at the end (write_index_html), so the page never holds more than one
// case in memory while it is written. Size per case is bounded: a passed case keeps its steps, serial
// marks without their lines and its exchanges' summaries; a failed one adds the lines, expected vs
// actual and an excerpt of its text log around the failure (its tail, with line numbers).

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include <boost/json/value.hpp>

#include "common/secrets.hpp"
#include "report/detail/render.hpp"
#include "report/results.hpp"

namespace provhil::report::detail {

struct HtmlLimits {
  std::size_t excerpt_bytes = 6 * 1024;  // log excerpt of a failed/error case
  std::size_t marks = 60;                // serial marks per case
  std::size_t exchanges = 40;            // exchanges per case
  std::size_t text_bytes = 1024;         // message, expected, actual, one exchange's detail
};

// The record of one case for the page (masked and sanitised).
// Times become milliseconds since `run_started` (the run's one time base).
boost::json::object html_case(const CaseResult& result, std::string_view case_name,
                              const SecretMasker& masker, const std::filesystem::path& attachment_base,
                              WallTime run_started, const HtmlLimits& limits = {});

// Writes the page through `write`: `run` is results.json's run object, `summary` its summary;
// `each_case` calls its argument once per case record (html_case's objects) in display order.
void write_index_html(
    const std::function<void(std::string_view)>& write, const boost::json::object& run,
    const boost::json::object& summary,
    const std::function<void(const std::function<void(const boost::json::value&)>&)>& each_case);

}  // namespace provhil::report::detail
