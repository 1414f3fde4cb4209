#include "report/detail/render.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <system_error>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <pugixml.hpp>

#include "common/text.hpp"

namespace provhil::report::detail {

namespace json = boost::json;

namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The longest prefix of `text` not over `max_bytes` that ends on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && is_continuation(text[end]))
    --end;
  return text.substr(0, end);
}

// The shortest suffix of `text` not over `max_bytes` that starts on a UTF-8 character boundary.
std::string_view utf8_suffix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t start = text.size() - max_bytes;
  while (start < text.size() && is_continuation(text[start]))
    ++start;
  return text.substr(start);
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  if (text.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (std::size_t hit = text.find(from); hit != std::string::npos; hit = text.find(from, pos)) {
    out.append(text, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text, pos);
  text = std::move(out);
}

std::size_t longest_secret(const SecretMasker& masker) {
  if (!masker.enabled()) return 0;
  std::size_t longest = 0;
  // A secret also appears percent- or JSON-escaped, up to three times as long.
  for (const auto& secret : masker.secrets())
    longest = std::max(longest, secret.size() * 3);
  return longest;
}

struct StringWriter : pugi::xml_writer {
  std::string& out;
  explicit StringWriter(std::string& target) : out(target) {}
  void write(const void* data, std::size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

void add_text(pugi::xml_node node, const std::string& text) {
  if (!text.empty()) node.append_child(pugi::node_pcdata).set_value(text.c_str());
}

void set_attribute(pugi::xml_node node, const char* name, const std::string& value) {
  node.append_attribute(name).set_value(value.c_str());
}

const StepResult* first_bad_step(const CaseResult& result) {
  for (const auto& step : result.steps) {
    if (step.outcome == Outcome::failed || step.outcome == Outcome::error) return &step;
  }
  return nullptr;
}

std::string one_line_message(const CaseResult& result, const SecretMasker& masker, std::size_t max_bytes) {
  std::string message = result.message;
  if (message.empty() && result.outcome == Outcome::skipped) message = result.skip_reason;
  if (message.empty()) message = std::string(to_string(result.outcome));
  if (!result.failure_location.empty()) {
    std::string where = result.failure_location.to_string();
    if (message.find(where) == std::string::npos) message += " (at " + where + ")";
  }
  return clean_line(message, masker, max_bytes);
}

std::string identity_line(const CaseResult& result, const SecretMasker& masker, std::size_t max_bytes) {
  std::string line = "board: " + result.board;
  for (const auto& property : result.properties) {
    if (property.name == "board" || property.value.empty()) continue;
    line += "  " + property.name + ": " + property.value;
  }
  return clean_line(line, masker, max_bytes);
}

json::value location_json(const SourceLocation& location) {
  if (location.empty()) return nullptr;
  return json::object{
      {"file", location.file.generic_string()}, {"line", location.line}, {"column", location.column}};
}

json::value path_json(const std::filesystem::path& path, const std::filesystem::path& base,
                      const SecretMasker& masker) {
  if (path.empty()) return nullptr;
  return json::string(clean(report_path(path, base), masker));
}

// Milliseconds from the run's start to `time`; null when either is unknown.
json::value offset_json(WallTime time, WallTime run_started) {
  if (time == WallTime{} || run_started == WallTime{}) return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(time - run_started).count();
}

json::value time_json(WallTime time) {
  std::string text = iso_time(time, true);
  if (text.empty()) return nullptr;
  return json::string(text);
}

json::object properties_json(const std::vector<Property>& properties, const SecretMasker& masker) {
  json::object object;
  for (const auto& property : properties) {
    object[clean(property.name, masker)] = clean(property.value, masker);
  }
  return object;
}

void write_indent(std::string& out, int indent, int depth) {
  out += '\n';
  out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(depth), ' ');
}

}  // namespace

std::string clean(std::string_view bytes, const SecretMasker& masker) {
  return sanitize_text(masker.mask(bytes));
}

std::string clean_line(std::string_view bytes, const SecretMasker& masker, std::size_t max_bytes) {
  std::string text = clean(bytes, masker);
  replace_all(text, "\r\n", "\n");
  std::replace(text.begin(), text.end(), '\r', '\n');
  std::replace(text.begin(), text.end(), '\t', ' ');
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  replace_all(text, "\n", " | ");
  if (text.size() > max_bytes) {
    std::size_t keep = max_bytes > 3 ? max_bytes - 3 : 0;
    text = std::string(utf8_prefix(text, keep)) + "...";
  }
  return text;
}

std::string clean_block(std::string_view bytes, const SecretMasker& masker, std::size_t max_bytes) {
  std::string text = clean(bytes, masker);
  replace_all(text, "\r\n", "\n");
  if (text.size() <= max_bytes) return text;
  std::string_view view = text;
  std::string_view head = utf8_prefix(view, max_bytes / 2);
  std::string_view tail = utf8_suffix(view, max_bytes / 2);
  std::size_t cut = text.size() - head.size() - tail.size();
  return fmt::format("{}\n[... {} bytes cut ...]\n{}", head, cut, tail);
}

std::string read_log_tail(const std::filesystem::path& file, std::size_t max_bytes,
                          const SecretMasker& masker, std::uintmax_t& total_size) {
  total_size = 0;
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) return {};
  total_size = size;
  if (max_bytes == 0 || size == 0) return {};
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::uintmax_t start = size > max_bytes ? size - max_bytes : 0;
  std::string window(static_cast<std::size_t>(size - start), '\0');
  in.seekg(static_cast<std::streamoff>(start));
  in.read(window.data(), static_cast<std::streamsize>(window.size()));
  window.resize(static_cast<std::size_t>(in.gcount()));
  std::string_view view = window;
  if (start > 0) {
    // Begin at a line start. When the window holds no line break (one huge line), drop as many bytes
    // as the longest secret is long, so that a secret cut in half cannot show its clear tail.
    auto newline = view.find('\n');
    if (newline != std::string_view::npos && newline < view.size() / 2) {
      view.remove_prefix(newline + 1);
    } else {
      view.remove_prefix(std::min(view.size(), longest_secret(masker)));
      while (!view.empty() && is_continuation(view.front()))
        view.remove_prefix(1);
    }
  }
  std::string text = clean(view, masker);
  replace_all(text, "\r\n", "\n");
  return text;
}

std::string iso_time(WallTime time, bool with_millis) {
  if (time == WallTime{}) return {};
  auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
  auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  std::string text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", utc.tm_year + 1900, utc.tm_mon + 1,
                                 utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  if (with_millis) text += fmt::format(".{:03}", (since_epoch - seconds).count());
  return text + "Z";
}

std::string seconds_text(Duration duration) {
  auto ns = std::max<std::int64_t>(0, duration.count());
  return fmt::format("{}.{:03}", ns / 1'000'000'000, (ns / 1'000'000) % 1000);
}

std::int64_t millis(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

std::string report_path(const std::filesystem::path& path, const std::filesystem::path& base) {
  if (path.empty()) return {};
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec).lexically_normal();
  if (ec) return path.generic_string();
  auto relative = absolute.lexically_relative(base);
  if (relative.empty()) return absolute.generic_string();
  return relative.generic_string();
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\t':
        out += "&#9;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_testcase(const CaseResult& result, std::string_view case_name, const SecretMasker& masker,
                            const RenderLimits& limits, const std::filesystem::path& attachment_base) {
  pugi::xml_document doc;
  auto testcase = doc.append_child("testcase");
  set_attribute(testcase, "name", clean_line(case_name, masker, limits.message_bytes));
  set_attribute(testcase, "classname",
                clean_line(result.scenario_file.stem().string(), masker, limits.message_bytes));
  set_attribute(testcase, "time", seconds_text(result.duration));
  if (!limits.strict_schema) {
    // GitLab's "copy failed tests" and jump-to-source read `file` on the case; the line is the failing
    // step's when it lies in that file.
    set_attribute(testcase, "file", clean_line(result.scenario_file.generic_string(), masker, 4096));
    if (result.failure_location.line > 0 && result.failure_location.file == result.scenario_file)
      set_attribute(testcase, "line", std::to_string(result.failure_location.line));
  }

  const StepResult* bad_step = first_bad_step(result);
  std::string message = one_line_message(result, masker, limits.message_bytes);
  std::string detail = clean_block(result.detail, masker, limits.detail_bytes);
  if (!result.failure_location.empty()) {
    if (!detail.empty()) detail += "\n";
    detail += "at " + clean_line(result.failure_location.to_string(), masker, limits.message_bytes);
  }
  switch (result.outcome) {
    case Outcome::passed:
      break;
    case Outcome::failed:
    case Outcome::error: {
      auto element = testcase.append_child(result.outcome == Outcome::failed ? "failure" : "error");
      set_attribute(element, "message", message);
      std::string type = bad_step != nullptr && !bad_step->kind.empty()
                             ? bad_step->kind
                             : std::string(result.outcome == Outcome::failed ? "failure" : "infrastructure");
      set_attribute(element, "type", clean_line(type, masker, limits.message_bytes));
      // GitLab shows the element's text, not its message: the reason leads the text too.
      add_text(element, detail.empty() ? message : message + "\n" + detail);
      break;
    }
    case Outcome::skipped: {
      auto element = testcase.append_child("skipped");
      set_attribute(element, "message", message);
      add_text(element, detail.empty() ? message : message + "\n" + detail);
      break;
    }
  }

  // Earlier attempts: the final attempt passed -> flaky; it failed too -> rerun.
  bool flaky = result.outcome == Outcome::passed;
  for (const auto& attempt : result.earlier_attempts) {
    bool is_error = attempt.outcome == Outcome::error;
    const char* tag =
        flaky ? (is_error ? "flakyError" : "flakyFailure") : (is_error ? "rerunError" : "rerunFailure");
    auto element = testcase.append_child(tag);
    std::string attempt_message =
        attempt.message.empty() ? std::string(to_string(attempt.outcome)) : attempt.message;
    set_attribute(element, "message", clean_line(attempt_message, masker, limits.message_bytes));
    set_attribute(element, "type", is_error ? "infrastructure" : "failure");
    add_text(element, clean_block(attempt.detail, masker, limits.detail_bytes / 2));
    if (!attempt.text_log.empty() && limits.excerpt_bytes > 0) {
      std::uintmax_t size = 0;
      std::string excerpt = read_log_tail(attempt.text_log, limits.excerpt_bytes / 2, masker, size);
      if (!excerpt.empty()) add_text(element.append_child("system-out"), excerpt);
    }
  }

  std::string out = identity_line(result, masker, limits.message_bytes) + "\n";
  const auto& files = result.attachments;
  if (!files.text_log.empty()) {
    std::uintmax_t size = 0;
    std::string excerpt = read_log_tail(files.text_log, limits.excerpt_bytes, masker, size);
    std::string where =
        clean_line(report_path(files.text_log, attachment_base), masker, limits.message_bytes);
    if (size == 0) {
      out += "--- " + where + " is empty or missing ---\n";
    } else if (excerpt.size() >= size) {
      out += fmt::format("--- {} ({} bytes) ---\n", where, size);
    } else {
      out += fmt::format("--- {}: last {} of {} bytes ---\n", where, excerpt.size(), size);
    }
    out += excerpt;
    if (!excerpt.empty() && excerpt.back() != '\n') out += '\n';
    out += "---\n";
  }
  auto attach = [&](const std::filesystem::path& file) {
    if (file.empty()) return;
    out += "[[ATTACHMENT|" + clean_line(report_path(file, attachment_base), masker, 4096) + "]]\n";
  };
  // GitLab links only the first attachment: the readable text log goes first, the raw bytes after.
  attach(files.text_log);
  attach(files.raw_serial_log);
  attach(files.exchanges);
  attach(files.variables);
  for (const auto& file : files.extra)
    attach(file);
  // The earlier attempts' evidence (flaky and rerun cases), so it is linked, not only kept on disk.
  for (const auto& attempt : result.earlier_attempts) {
    if (attempt.files.empty()) attach(attempt.text_log);
    for (const auto& file : attempt.files)
      attach(file);
  }
  add_text(testcase.append_child("system-out"), out);

  std::string xml;
  StringWriter writer(xml);
  doc.print(writer, "  ", pugi::format_indent | pugi::format_no_declaration, pugi::encoding_utf8, 2);
  // pugixml indents the first line by one level more than the rest; start it where it belongs.
  auto first = xml.find('<');
  return "    " + xml.substr(first == std::string::npos ? 0 : first);
}

json::object case_json(const CaseResult& result, std::string_view case_name, const SecretMasker& masker,
                       const RenderLimits& limits, const std::filesystem::path& attachment_base) {
  json::object object;
  object["name"] = clean(case_name, masker);
  object["scenario"] = clean(result.scenario, masker);
  object["scenario_file"] = clean(result.scenario_file.generic_string(), masker);
  object["board"] = clean(result.board, masker);
  object["outcome"] = to_string(result.outcome);
  object["message"] = one_line_message(result, masker, limits.message_bytes);
  object["detail"] = clean_block(result.detail, masker, limits.detail_bytes);
  object["failure_location"] = location_json(result.failure_location);
  object["expected"] = clean_block(result.expected, masker, limits.detail_bytes / 2);
  object["actual"] = clean_block(result.actual, masker, limits.detail_bytes / 2);
  if (result.outcome == Outcome::skipped) object["skip_reason"] = clean(result.skip_reason, masker);
  if (result.outcome == Outcome::skipped && result.skip_code)
    object["reason_code"] = skip_reason_name(*result.skip_code);
  if (result.outcome == Outcome::error && result.error_code)
    object["reason_code"] = error_reason_name(*result.error_code);
  object["started"] = time_json(result.started);
  object["t_ms"] = offset_json(result.started, limits.run_started);
  object["duration_ms"] = millis(result.duration);
  object["properties"] = properties_json(result.properties, masker);

  json::array figures;
  for (const auto& figure : result.figures) {
    figures.push_back(json::object{
        {"name", clean(figure.name, masker)}, {"value", figure.value}, {"unit", clean(figure.unit, masker)}});
  }
  object["figures"] = std::move(figures);

  json::array steps;
  for (const auto& step : result.steps) {
    steps.push_back(json::object{{"name", clean(step.name, masker)},
                                 {"kind", clean(step.kind, masker)},
                                 {"location", location_json(step.location)},
                                 {"outcome", to_string(step.outcome)},
                                 {"message", clean_line(step.message, masker, limits.message_bytes)},
                                 {"started", time_json(step.started)},
                                 {"t_ms", offset_json(step.started, limits.run_started)},
                                 {"duration_ms", millis(step.duration)}});
  }
  object["steps"] = std::move(steps);

  json::array attempts;
  for (const auto& attempt : result.earlier_attempts) {
    attempts.push_back(json::object{{"outcome", to_string(attempt.outcome)},
                                    {"message", clean_line(attempt.message, masker, limits.message_bytes)},
                                    {"detail", clean_block(attempt.detail, masker, limits.detail_bytes)},
                                    {"started", time_json(attempt.started)},
                                    {"t_ms", offset_json(attempt.started, limits.run_started)},
                                    {"duration_ms", millis(attempt.duration)},
                                    {"text_log", path_json(attempt.text_log, attachment_base, masker)},
                                    {"files", [&] {
                                       json::array files;
                                       for (const auto& file : attempt.files)
                                         files.push_back(path_json(file, attachment_base, masker));
                                       return files;
                                     }()}});
  }
  object["earlier_attempts"] = std::move(attempts);
  object["flaky"] = result.outcome == Outcome::passed && !result.earlier_attempts.empty();

  const auto& files = result.attachments;
  json::array extra;
  for (const auto& file : files.extra)
    extra.push_back(json::string(clean(report_path(file, attachment_base), masker)));
  object["attachments"] =
      json::object{{"raw_serial_log", path_json(files.raw_serial_log, attachment_base, masker)},
                   {"text_log", path_json(files.text_log, attachment_base, masker)},
                   {"exchanges", path_json(files.exchanges, attachment_base, masker)},
                   {"variables", path_json(files.variables, attachment_base, masker)},
                   {"extra", std::move(extra)}};

  json::array marks;
  for (const auto& mark : result.serial_marks) {
    marks.push_back(json::object{{"kind", mark.kind == SerialMark::Kind::state ? "state" : "event"},
                                 {"t_ms", mark.t_ms},
                                 {"name", clean_line(mark.name, masker, 128)},
                                 {"line", clean_line(mark.line, masker, 256)},
                                 {"line_number", mark.line_number}});
  }
  object["serial_marks"] = std::move(marks);

  json::array exchanges;
  for (const auto& exchange : result.exchanges)
    exchanges.push_back(clean_json(exchange, masker));
  object["exchanges"] = std::move(exchanges);
  return object;
}

json::object run_json(const RunInfo& run, const SecretMasker& masker) {
  return json::object{
      {"run_id", clean(run.run_id, masker)},     {"harness_version", clean(run.harness_version, masker)},
      {"shard", clean(run.shard, masker)},       {"started", time_json(run.started)},
      {"hostname", clean(run.hostname, masker)}, {"properties", properties_json(run.properties, masker)}};
}

json::object board_json(const BoardInfo& board, const SecretMasker& masker) {
  return json::object{{"name", clean(board.name, masker)},
                      {"properties", properties_json(board.properties, masker)}};
}

json::object planned_json(const PlannedCase& planned, const SecretMasker& masker) {
  json::object object{{"scenario", clean(planned.scenario, masker)},
                      {"scenario_file", clean(planned.scenario_file.generic_string(), masker)},
                      {"board", clean(planned.board, masker)}};
  if (!planned.pool.empty()) {
    json::array pool;
    for (const auto& board : planned.pool)
      pool.emplace_back(clean(board, masker));
    object["pool"] = std::move(pool);
  }
  return object;
}

json::value clean_json(const json::value& value, const SecretMasker& masker) {
  switch (value.kind()) {
    case json::kind::string:
      return json::string(clean(value.get_string(), masker));
    case json::kind::array: {
      json::array array;
      for (const auto& item : value.get_array())
        array.push_back(clean_json(item, masker));
      return array;
    }
    case json::kind::object: {
      json::object object;
      for (const auto& item : value.get_object())
        object[clean(item.key(), masker)] = clean_json(item.value(), masker);
      return object;
    }
    default:
      return value;
  }
}

void write_json(std::string& out, const json::value& value, int indent, int depth) {
  switch (value.kind()) {
    case json::kind::object: {
      const auto& object = value.get_object();
      if (object.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& item : object) {
        if (!first) out += ',';
        first = false;
        if (indent >= 0) write_indent(out, indent, depth + 1);
        out += json::serialize(json::string_view(item.key()));
        out += indent >= 0 ? ": " : ":";
        write_json(out, item.value(), indent, depth + 1);
      }
      if (indent >= 0) write_indent(out, indent, depth);
      out += '}';
      return;
    }
    case json::kind::array: {
      const auto& array = value.get_array();
      if (array.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& item : array) {
        if (!first) out += ',';
        first = false;
        if (indent >= 0) write_indent(out, indent, depth + 1);
        write_json(out, item, indent, depth + 1);
      }
      if (indent >= 0) write_indent(out, indent, depth);
      out += ']';
      return;
    }
    case json::kind::double_: {
      double number = value.get_double();
      out += std::isfinite(number) ? fmt::format("{}", number) : std::string("null");
      return;
    }
    default:
      out += json::serialize(value);
  }
}

}  // namespace provhil::report::detail
