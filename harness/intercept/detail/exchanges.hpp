#pragma once
// Internal: the builders every session uses for what it journals and for the error answers it
// sends, so that each shape is made in one place.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

// A field of an exchange taken from a client is kept up to this many bytes (a hostile client must
// not make the run's memory grow with the size of what it sends); longer values are cut and say so.
inline constexpr std::size_t evidence_limit = 256;
// INTERNAL info pairs kept per login.
inline constexpr std::size_t info_pairs_limit = 32;
std::string bounded_evidence(std::string_view value);
std::vector<std::pair<std::string, std::string>> bounded_pairs(
    std::vector<std::pair<std::string, std::string>> pairs);

// An exchange on `conn`, started at `started` (client, SNI, TLS version filled in).
Exchange base_exchange(const Connection& conn, Clock::time_point started);

// The one shape of an exchange turned away: kind rejected, answered by error, `error` says why;
// `answer` is what the client got (its status and body), if anything.
Exchange rejected(Exchange base, std::string error, const Response* answer = nullptr);

// Journals `exchange` (its duration measured from `started`) and wakes the waiters.
void record(Registry& registry, Exchange exchange, Clock::time_point started,
            std::optional<ExpectationId> id = std::nullopt);

// The cloud's error answer: `status` with {"error":{"message":"..."}}.
Response json_error(http::status status, const std::string& message, unsigned version, bool keep_alive);

std::vector<std::pair<std::string, std::string>> header_list(const http::fields& fields);

}  // namespace provhil::intercept::detail
