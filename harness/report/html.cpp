#include "report/detail/html.hpp"

#include <algorithm>
#include <deque>
#include <fstream>

#include <fmt/format.h>

#include "report/detail/html_page.hpp"

namespace provhil::report::detail {

namespace json = boost::json;

namespace {

std::string location_text(const SourceLocation& location) {
  return location.empty() ? std::string() : location.to_string();
}

const StepResult* first_bad_step(const CaseResult& result) {
  for (const auto& step : result.steps) {
    if (step.outcome == Outcome::failed || step.outcome == Outcome::error) return &step;
  }
  return nullptr;
}

std::int64_t offset_ms(WallTime time, WallTime run_started) {
  if (time == WallTime{} || run_started == WallTime{}) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(time - run_started).count();
}

// "[t+   1234ms] text" -> 1234; -1 when the line carries no stamp.
std::int64_t stamp_of(std::string_view line) {
  if (line.rfind("[t+", 0) != 0) return -1;
  auto close = line.find("ms]");
  if (close == std::string_view::npos) return -1;
  std::int64_t value = 0;
  bool any = false;
  for (char c : line.substr(3, close - 3)) {
    if (c == ' ') continue;
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
    any = true;
  }
  return any ? value : -1;
}

// The lines of the text log around `at_ms` (two thirds before, one third after), at most `max_bytes`,
// read line by line so that memory stays bounded whatever the log's size.
json::object log_excerpt(const std::filesystem::path& file, std::int64_t at_ms, std::size_t max_bytes,
                         const SecretMasker& masker) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::size_t before_budget = max_bytes * 2 / 3;
  std::size_t after_budget = max_bytes - before_budget;
  std::deque<std::string> before;
  std::size_t before_bytes = 0;
  std::size_t first_line = 1;
  std::string after;
  std::string line;
  std::size_t number = 0;
  std::uintmax_t total = 0;
  bool past = false;
  bool cut_after = false;
  while (std::getline(in, line)) {
    ++number;
    total += line.size() + 1;
    if (line.size() > 512) line.resize(512);
    if (!past) {
      auto stamp = stamp_of(line);
      if (stamp > at_ms) past = true;
    }
    if (!past) {
      before_bytes += line.size() + 1;
      before.push_back(line);
      while (before_bytes > before_budget && before.size() > 1) {
        before_bytes -= before.front().size() + 1;
        before.pop_front();
        ++first_line;
      }
      continue;
    }
    if (after.size() + line.size() + 1 > after_budget) {
      cut_after = true;
      continue;  // keep counting the file's size
    }
    after += line;
    after += '\n';
  }
  std::string text;
  for (const auto& kept : before) {
    text += kept;
    text += '\n';
  }
  text += after;
  return json::object{{"first_line", first_line},
                      {"text", clean(text, masker)},
                      {"total_bytes", total},
                      {"complete", first_line == 1 && !cut_after}};
}

bool exchange_fault(const json::object& x) {
  auto text = [&](const char* key) -> std::string_view {
    const auto* v = x.if_contains(key);
    return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
  };
  if (!text("error").empty()) return true;
  if (text("answered_by").rfind("fault", 0) == 0) return true;
  if (const auto* checks = x.if_contains("checks"); checks != nullptr && checks->is_array()) {
    for (const auto& c : checks->get_array()) {
      const auto* passed = c.is_object() ? c.get_object().if_contains("passed") : nullptr;
      if (passed != nullptr && passed->is_bool() && !passed->get_bool()) return true;
    }
  }
  return false;
}

json::value member(const json::object& x, const char* key) {
  const auto* v = x.if_contains(key);
  return v != nullptr ? *v : json::value(nullptr);
}

}  // namespace

json::object html_case(const CaseResult& result, std::string_view case_name, const SecretMasker& masker,
                       const std::filesystem::path& attachment_base, WallTime run_started,
                       const HtmlLimits& limits) {
  bool bad = result.outcome == Outcome::failed || result.outcome == Outcome::error;
  json::object c;
  c["n"] = clean_line(case_name, masker, 512);
  c["s"] = clean_line(result.scenario, masker, 256);
  c["f"] = clean_line(result.scenario_file.generic_string(), masker, 512);
  c["b"] = clean_line(result.board, masker, 256);
  c["o"] = to_string(result.outcome);
  c["fl"] = result.outcome == Outcome::passed && !result.earlier_attempts.empty();
  c["t"] = offset_ms(result.started, run_started);
  c["d"] = millis(result.duration);
  std::string message = result.message.empty() ? result.skip_reason : result.message;
  c["m"] = clean_line(message, masker, limits.text_bytes);
  c["loc"] = clean_line(location_text(result.failure_location), masker, 512);
  if (bad) {
    c["ex"] = clean_block(result.expected, masker, limits.text_bytes);
    c["ac"] = clean_block(result.actual, masker, limits.text_bytes);
    if (result.expected.empty() && result.actual.empty())
      c["dt"] = clean_block(result.detail, masker, limits.text_bytes * 2);
  }
  json::object properties;
  for (const auto& property : result.properties) {
    if (property.value.empty()) continue;
    properties[clean_line(property.name, masker, 64)] = clean_line(property.value, masker, 256);
  }
  c["p"] = std::move(properties);

  // Steps: [name, kind, outcome, t_ms, duration_ms, location]
  json::array steps;
  for (const auto& step : result.steps) {
    steps.push_back(json::array{clean_line(step.name, masker, 200), clean_line(step.kind, masker, 64),
                                to_string(step.outcome), offset_ms(step.started, run_started),
                                millis(step.duration),
                                clean_line(location_text(step.location), masker, 512)});
  }
  c["st"] = std::move(steps);
  if (const auto* step = first_bad_step(result); step != nullptr) {
    c["ft"] = offset_ms(step->started, run_started) + millis(step->duration);
  } else if (bad) {
    c["ft"] = offset_ms(result.started, run_started) + millis(result.duration);
  }

  // Serial marks: [kind, t_ms, name, line_number, line]; the line only for failed cases (size).
  json::array marks;
  std::size_t kept = 0;
  for (const auto& mark : result.serial_marks) {
    if (kept++ >= limits.marks) break;
    json::array m{mark.kind == SerialMark::Kind::state ? "state" : "event", mark.t_ms,
                  clean_line(mark.name, masker, 64), mark.line_number};
    if (bad) m.push_back(json::string(clean_line(mark.line, masker, 200)));
    marks.push_back(std::move(m));
  }
  c["sm"] = std::move(marks);

  // Exchanges: {t, k, q (request), a (answer), st (status), by, fault, ms}; bodies only when failed.
  json::array exchanges;
  kept = 0;
  for (const auto& value : result.exchanges) {
    if (!value.is_object()) continue;
    if (kept++ >= limits.exchanges) break;
    const auto& x = value.get_object();
    json::object e;
    e["t"] = member(x, "t_ms");
    e["k"] = member(x, "kind");
    std::string request;
    if (const auto* method = x.if_contains("method"); method != nullptr && method->is_string())
      request = std::string(method->get_string()) + " ";
    for (const char* key : {"target", "url"}) {
      if (const auto* v = x.if_contains(key); v != nullptr && v->is_string()) request += v->get_string();
    }
    e["q"] = clean_line(request, masker, 300);
    e["st"] = member(x, "status");
    e["by"] = member(x, "answered_by");
    e["fault"] = exchange_fault(x);
    if (const auto* us = x.if_contains("duration_us"); us != nullptr && us->is_number())
      e["ms"] = us->to_number<double>() / 1000.0;
    if (bad) {
      std::string answer;
      for (const char* key : {"answer_body", "body", "error"}) {
        if (const auto* v = x.if_contains(key); v != nullptr && v->is_string() && !v->get_string().empty())
          answer += (answer.empty() ? "" : "\n") + std::string(v->get_string());
      }
      e["a"] = clean_block(answer, masker, limits.text_bytes / 2);
    }
    exchanges.push_back(std::move(e));
  }
  c["x"] = std::move(exchanges);

  const auto& files = result.attachments;
  json::object links;
  auto link = [&](const char* key, const std::filesystem::path& file) {
    if (!file.empty()) links[key] = clean(report_path(file, attachment_base), masker);
  };
  link("text", files.text_log);
  link("raw", files.raw_serial_log);
  link("exchanges", files.exchanges);
  link("variables", files.variables);
  c["l"] = std::move(links);
  json::array attempts;
  for (const auto& attempt : result.earlier_attempts) {
    json::object a{{"o", to_string(attempt.outcome)}, {"m", clean_line(attempt.message, masker, 300)}};
    if (!attempt.text_log.empty()) a["text"] = clean(report_path(attempt.text_log, attachment_base), masker);
    attempts.push_back(std::move(a));
  }
  c["at"] = std::move(attempts);
  if (bad && !files.text_log.empty()) {
    std::int64_t at = c.contains("ft") ? c["ft"].to_number<std::int64_t>() : 0;
    c["lx"] = log_excerpt(files.text_log, at, limits.excerpt_bytes, masker);
  }
  return c;
}

namespace {

// JSON inside <script type="application/json">: "</" would end the element; "<\/" is the same JSON.
void write_script_json(const std::function<void(std::string_view)>& write, const json::value& value) {
  std::string text;
  write_json(text, value);
  std::string safe;
  safe.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && (text[i + 1] == '/' || text[i + 1] == '!')) {
      safe += "\\u003c";
      continue;
    }
    safe += text[i];
  }
  write(safe);
}

}  // namespace

void write_index_html(const std::function<void(std::string_view)>& write, const json::object& run,
                      const json::object& summary,
                      const std::function<void(const std::function<void(const json::value&)>&)>& each_case) {
  write(html_page::head);
  write("<script type=\"application/json\" id=\"run-data\">");
  write_script_json(write, json::object{{"run", run}, {"summary", summary}});
  write("</script>\n<script type=\"application/json\" id=\"case-data\">[");
  bool first = true;
  each_case([&](const json::value& record) {
    if (!first) write(",\n");
    first = false;
    write_script_json(write, record);
  });
  write("]</script>\n");
  write(html_page::tail);
}

}  // namespace provhil::report::detail
