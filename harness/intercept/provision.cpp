// The typed provision request, its checks, and the plain result types.
#include "intercept/provision.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <boost/json.hpp>
#include <boost/regex.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <chrono>
#include <ctime>
#include <set>

#include "common/text.hpp"

namespace provhil::intercept {

ValueCheck ValueCheck::equals(std::string name, std::string value) {
  ValueCheck c;
  c.name = std::move(name);
  c.kind = Kind::equals;
  c.value = std::move(value);
  return c;
}
ValueCheck ValueCheck::matches(std::string name, std::string regex) {
  ValueCheck c;
  c.name = std::move(name);
  c.kind = Kind::matches;
  c.value = std::move(regex);
  return c;
}
ValueCheck ValueCheck::one_of(std::string name, std::vector<std::string> values) {
  ValueCheck c;
  c.name = std::move(name);
  c.kind = Kind::one_of;
  c.values = std::move(values);
  return c;
}
ValueCheck ValueCheck::present(std::string name) {
  ValueCheck c;
  c.name = std::move(name);
  c.kind = Kind::present;
  return c;
}
ValueCheck ValueCheck::absent(std::string name) {
  ValueCheck c;
  c.name = std::move(name);
  c.kind = Kind::absent;
  return c;
}

Answer Answer::ok(std::string body) {
  Answer a;
  a.body = std::move(body);
  return a;
}
Answer Answer::invalid_token() {
  Answer a;
  a.status = 400;
  a.body = R"({"error":{"message":"Invalid token."}})";
  return a;
}
Answer Answer::redirect_to(std::string location, int status) {
  Answer a;
  a.kind = Kind::redirect;
  a.status = status;
  a.location = std::move(location);
  a.body.clear();
  return a;
}
Answer Answer::forward() {
  Answer a;
  a.kind = Kind::proxy;
  return a;
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool full_match(const std::string& value, const std::string& pattern) {
  return boost::regex_match(value, boost::regex(pattern, boost::regex::ECMAScript));
}

// The built-in patterns, compiled once (a const regex is safe to share between threads).
bool full_match(const std::string& value, const boost::regex& pattern) {
  return boost::regex_match(value, pattern);
}
const boost::regex token_pattern("[-_a-zA-Z0-9]{32}");
const boost::regex template_pattern("TMPL[A-Za-z0-9_]+");
const boost::regex version_pattern(R"(\d+(\.\d+){1,3}([-+][0-9A-Za-z.+-]+)?)");

// Where the first broken percent-escape is, for an error that says where.
std::string percent_error(std::string_view target) {
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') continue;
    auto hex = [&](std::size_t k) {
      return k < target.size() && std::isxdigit(static_cast<unsigned char>(target[k]));
    };
    if (!hex(i + 1) || !hex(i + 2))
      return fmt::format("invalid percent-encoding at offset {}: \"{}\"", i, target.substr(i, 3));
  }
  return {};
}

}  // namespace

std::optional<std::string> ProvisionRequest::param(const std::string& name) const {
  for (const auto& [key, value] : params)
    if (key == name) return value;
  return std::nullopt;
}

std::optional<std::string> ProvisionRequest::header(const std::string& name) const {
  for (const auto& [key, value] : headers)
    if (iequals(key, name)) return value;
  return std::nullopt;
}

std::vector<std::string> ProvisionRequest::unknown_params() const {
  static const std::set<std::string> known = {"token", "templateId", "build", "ver",
                                              "type",  "fwType",     "blVer", "boType"};
  std::vector<std::string> out;
  for (const auto& [key, value] : params)
    if (!known.count(key)) out.push_back(key);
  return out;
}

ProvisionRequest parse_provision_request(std::string method, std::string target,
                                         std::vector<std::pair<std::string, std::string>> headers) {
  ProvisionRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.headers = std::move(headers);
  auto parsed = boost::urls::parse_origin_form(request.target);
  if (!parsed) {
    std::string where = percent_error(request.target);
    if (where.empty()) where = parsed.error().message();
    throw ProvisionParseError(fmt::format("request target is not a valid URI path and query: {}", where));
  }
  boost::urls::url_view url = *parsed;
  request.path = url.path();
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;  // `build=Oct+1` is "Oct 1"
  for (auto param : url.params(opts))
    request.params.emplace_back(param.key, param.has_value ? param.value : "");
  request.token = request.param("token");
  request.template_id = request.param("templateId");
  request.build = request.param("build");
  request.ver = request.param("ver");
  request.type = request.param("type");
  request.fw_type = request.param("fwType");
  request.bl_ver = request.param("blVer");
  request.bo_type = request.param("boType");
  return request;
}

std::vector<CheckVerdict> run_builtin_checks(const ProvisionRequest& request, const BuiltinChecks& enabled) {
  std::vector<CheckVerdict> out;
  auto add = [&](const char* name, bool passed, std::string detail) {
    out.push_back({fmt::format("builtin:{}", name), passed, passed ? std::string() : std::move(detail)});
  };
  if (enabled.method_get)
    add("method_get", request.method == "GET", fmt::format("method was {}", request.method));
  if (enabled.path_exact)
    add("path_exact", request.path == provision_path,
        fmt::format("path was \"{}\", expected \"{}\"", request.path, provision_path));
  if (enabled.token_format) {
    if (!request.token)
      add("token_format", false, "no token parameter");
    else
      add("token_format", full_match(*request.token, token_pattern),
          fmt::format("token is {} characters, expected 32 of [-_a-zA-Z0-9]", request.token->size()));
  }
  if (enabled.template_id_format) {
    if (!request.template_id)
      add("template_id_format", false, "no templateId parameter");
    else
      add("template_id_format", full_match(*request.template_id, template_pattern),
          fmt::format("templateId \"{}\" is not TMPL followed by [A-Za-z0-9_]+", *request.template_id));
  }
  if (enabled.type_value && request.type)
    add("type_value", *request.type == "MCU" || *request.type == "NCP",
        fmt::format("type \"{}\" is neither MCU nor NCP", *request.type));
  if (enabled.version_format) {
    if (request.ver)
      add("ver_format", full_match(*request.ver, version_pattern),
          fmt::format("ver \"{}\" is not a version", *request.ver));
    if (request.bl_ver)
      add("blVer_format", full_match(*request.bl_ver, version_pattern),
          fmt::format("blVer \"{}\" is not a version", *request.bl_ver));
  }
  if (enabled.no_duplicates) {
    std::set<std::string> seen, twice;
    for (const auto& [key, value] : request.params)
      if (!seen.insert(key).second) twice.insert(key);
    std::string names;
    for (const auto& name : twice)
      names += (names.empty() ? "" : ", ") + name;
    add("no_duplicates", twice.empty(), fmt::format("parameter(s) given more than once: {}", names));
  }
  return out;
}

CheckVerdict run_value_check(const ValueCheck& check, const std::optional<std::string>& value,
                             const std::string& scope) {
  CheckVerdict verdict;
  verdict.origin = check.origin;
  auto seen = [&] { return value ? fmt::format("\"{}\"", *value) : std::string("absent"); };
  switch (check.kind) {
    case ValueCheck::Kind::equals:
      verdict.check = fmt::format("{}:{} equals \"{}\"", scope, check.name, check.value);
      verdict.passed = value && *value == check.value;
      break;
    case ValueCheck::Kind::matches:
      verdict.check = fmt::format("{}:{} matches /{}/", scope, check.name, check.value);
      verdict.passed = value && full_match(*value, check.value);
      break;
    case ValueCheck::Kind::one_of: {
      std::string list;
      for (const auto& v : check.values)
        list += (list.empty() ? "" : ", ") + v;
      verdict.check = fmt::format("{}:{} one of [{}]", scope, check.name, list);
      verdict.passed =
          value && std::find(check.values.begin(), check.values.end(), *value) != check.values.end();
      break;
    }
    case ValueCheck::Kind::present:
      verdict.check = fmt::format("{}:{} present", scope, check.name);
      verdict.passed = value.has_value();
      break;
    case ValueCheck::Kind::absent:
      verdict.check = fmt::format("{}:{} absent", scope, check.name);
      verdict.passed = !value.has_value();
      break;
  }
  if (!verdict.passed) verdict.detail = fmt::format("{} was {}", check.name, seen());
  return verdict;
}

std::string_view to_string(ExchangeKind kind) {
  switch (kind) {
    case ExchangeKind::provision:
      return "provision";
    case ExchangeKind::http:
      return "http";
    case ExchangeKind::login:
      return "login";
    case ExchangeKind::rejected:
      return "rejected";
    case ExchangeKind::fault:
      return "fault";
  }
  throw std::invalid_argument("ExchangeKind out of range");
}

std::string_view to_string(Responder responder) {
  switch (responder) {
    case Responder::none:
      return "";
    case Responder::mock:
      return "mock";
    case Responder::upstream:
      return "upstream";
    case Responder::proxy_error:
      return "proxy_error";
    case Responder::error:
      return "error";
  }
  throw std::invalid_argument("Responder out of range");
}

std::string to_string(const AnsweredBy& answered_by) {
  struct Name {
    std::string operator()(Responder r) const { return std::string(to_string(r)); }
    std::string operator()(Fault::Kind k) const { return fmt::format("fault:{}", to_string(k)); }
    std::string operator()(ConnectionFault::Kind k) const { return fmt::format("fault:{}", to_string(k)); }
  };
  return std::visit(Name{}, answered_by);
}

bool Exchange::checks_passed() const {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const CheckVerdict& v) { return v.passed; });
}

std::string Exchange::to_json_line(const SecretMasker* masker) const {
  namespace json = boost::json;
  SecretMasker own;  // the token is masked even when nobody registered it (an unexpected request)
  if (token.size() >= SecretMasker::min_length) own.add(token, "token");
  // Every string from the wire is masked first (in any encoding of a secret), then made valid
  // UTF-8: an invalid byte becomes the text \xHH, so that every line is one any JSON reader takes.
  auto text = [&](std::string_view value) {
    std::string masked = own.mask(value);
    if (masker) masked = masker->mask(masked);
    return json::string(is_valid_utf8(masked) ? masked : sanitize_text(masked));
  };
  auto pairs = [&](const std::vector<std::pair<std::string, std::string>>& list) {
    json::array out;
    for (const auto& [k, v] : list)
      out.push_back(json::array{text(k), text(v)});
    return out;
  };
  json::object o;
  o["id"] = id;
  o["kind"] = to_string(kind);
  o["steady_us"] = std::chrono::duration_cast<std::chrono::microseconds>(steady.time_since_epoch()).count();
  {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &parts);
    o["wall"] = fmt::format("{}.{:03}Z", when, ms % 1000);
  }
  o["client"] = text(client);
  o["sni"] = text(sni);
  o["tls"] = text(tls_version);
  o["token"] = text(token);
  o["owner"] = text(owner);
  o["expected"] = expected;
  if (!method.empty()) o["method"] = text(method);
  if (!target.empty()) o["target"] = text(target);
  if (!request_headers.empty()) o["headers"] = pairs(request_headers);
  if (!info.empty()) o["info"] = pairs(info);
  json::array checks;
  for (const auto& v : verdicts) {
    json::object c;
    c["check"] = text(v.check);
    c["passed"] = v.passed;
    if (!v.detail.empty()) c["detail"] = text(v.detail);
    checks.push_back(std::move(c));
  }
  o["checks"] = std::move(checks);
  o["status"] = status;
  if (!answer_headers.empty()) o["answer_headers"] = pairs(answer_headers);
  o["answer_body"] = text(answer_body);
  if (!upstream_request.empty()) o["upstream_request"] = text(upstream_request);
  o["answered_by"] = to_string(answered_by);
  if (!error.empty()) o["error"] = text(error);
  o["duration_us"] = duration.count();
  std::string line = json::serialize(o);
  // Once more on the whole line, for a secret in its JSON-escaped form.
  line = own.mask(line);
  if (masker) line = masker->mask(line);
  return line;
}

bool WaitResult::passed() const {
  if (!satisfied || !unexpected.empty()) return false;
  return std::all_of(exchanges.begin(), exchanges.end(), [](const Exchange& e) { return e.checks_passed(); });
}

}  // namespace provhil::intercept
