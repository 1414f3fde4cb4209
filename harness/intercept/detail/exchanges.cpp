#include "intercept/detail/exchanges.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include "intercept/registry.hpp"

namespace provhil::intercept::detail {

std::string bounded_evidence(std::string_view value) {
  if (value.size() <= evidence_limit) return std::string(value);
  return fmt::format("{}...[{} bytes in all]", value.substr(0, evidence_limit), value.size());
}

std::vector<std::pair<std::string, std::string>> bounded_pairs(
    std::vector<std::pair<std::string, std::string>> pairs) {
  if (pairs.size() > info_pairs_limit) pairs.resize(info_pairs_limit);
  for (auto& [key, value] : pairs) {
    if (key.size() > evidence_limit) key = bounded_evidence(key);
    if (value.size() > evidence_limit) value = bounded_evidence(value);
  }
  return pairs;
}

Connection make_connection(const tcp::socket& socket) {
  Connection conn;
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (!ec) {
    conn.client = endpoint_text(remote);
    conn.client_address = remote.address().to_string();
  }
  return conn;
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  auto address = endpoint.address().to_string();
  return endpoint.address().is_v6() ? fmt::format("[{}]:{}", address, endpoint.port())
                                    : fmt::format("{}:{}", address, endpoint.port());
}

Exchange base_exchange(const Connection& conn, Clock::time_point started) {
  Exchange ex;
  ex.steady = started;
  ex.wall = std::chrono::system_clock::now();
  ex.client = conn.client;
  ex.sni = conn.sni;
  ex.tls_version = conn.tls_version;
  return ex;
}

Exchange rejected(Exchange base, std::string error, const Response* answer) {
  base.kind = ExchangeKind::rejected;
  base.answered_by = Responder::error;
  base.error = std::move(error);
  if (answer) {
    base.status = static_cast<int>(answer->result_int());
    base.answer_body = answer->body();
  }
  return base;
}

void record(Registry& registry, Exchange exchange, Clock::time_point started,
            std::optional<ExpectationId> id) {
  exchange.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  registry.record(std::move(exchange), id);
}

Response json_error(http::status status, const std::string& message, unsigned version, bool keep_alive) {
  boost::json::object inner;
  inner["message"] = message;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  Response response{status, version};
  response.set(http::field::content_type, "application/json");
  response.body() = boost::json::serialize(outer);
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

std::vector<std::pair<std::string, std::string>> header_list(const http::fields& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : fields)
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return out;
}

}  // namespace provhil::intercept::detail
