// The interceptor's HTTP side: the bytes of a request through Beast's parser with the interceptor's
// limits (16 KiB header, 64 KiB body), then the provision request's parsing and every check a
// scenario can ask for (docs/intercept.md, "Plain functions on bytes").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include "intercept/detail/dispatch.hpp"
#include "intercept/provision.hpp"

namespace http = boost::beast::http;
namespace intercept = provhil::intercept;

namespace {

const std::vector<intercept::ValueCheck>& checks() {
  static const std::vector<intercept::ValueCheck> all = {
      intercept::ValueCheck::matches("templateId", "^TMPL[A-Za-z0-9_]+$"),
      intercept::ValueCheck::matches("ver", "^\\d+\\.\\d+\\.\\d+$"),
      intercept::ValueCheck::equals("type", "MCU"),
      intercept::ValueCheck::one_of("boType", {"ESP32", "ESP8266"}),
      intercept::ValueCheck::present("token"),
      intercept::ValueCheck::absent("debug"),
  };
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  (void)intercept::detail::classify_protocol(std::span<const unsigned char>(data, size));
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty() && !parser.is_done()) {
    auto used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;
    }
    if (ec) return 0;
    rest.remove_prefix(used);
  }
  if (!parser.is_done()) return 0;
  const auto& request = parser.get();
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& field : request)
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  try {
    auto provision = intercept::parse_provision_request(std::string(request.method_string()),
                                                        std::string(request.target()), std::move(headers));
    (void)provision.unknown_params();
    (void)intercept::run_builtin_checks(provision, intercept::BuiltinChecks{});
    for (const auto& check : checks()) {
      (void)intercept::run_value_check(check, provision.param(check.name), "query");
      (void)intercept::run_value_check(check, provision.header(check.name), "header");
    }
  } catch (const intercept::ProvisionParseError&) {
  }
  return 0;
}
