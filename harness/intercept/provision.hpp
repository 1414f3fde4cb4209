#pragma once
// Plain data for what a board should send and how to answer it, plus the typed provision request.
// No server, no Asio: the scenario loader's output is translated into these by the runner.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/enum_names.hpp"
#include "common/secrets.hpp"

namespace provhil::intercept {

// ---- checks ------------------------------------------------------------------------------------

// One check on a named value (a query parameter, a header, an INTERNAL info key).
struct ValueCheck {
  enum class Kind { equals, matches, one_of, present, absent };
  std::string name;  // parameter, header (case-insensitive) or info key
  Kind kind = Kind::present;
  std::string value;                // equals: the exact value; matches: an ECMAScript regex (whole value)
  std::vector<std::string> values;  // one_of
  int origin = -1;                  // the caller's handle for this check, copied onto its verdict

  static ValueCheck equals(std::string name, std::string value);
  static ValueCheck matches(std::string name, std::string regex);
  static ValueCheck one_of(std::string name, std::vector<std::string> values);
  static ValueCheck present(std::string name);
  static ValueCheck absent(std::string name);
};

// The built-in provision checks; each can be switched off per scenario.
struct BuiltinChecks {
  bool token_format = true;        // 32 characters of [-_a-zA-Z0-9]
  bool template_id_format = true;  // TMPL then [A-Za-z0-9_]+
  bool type_value = true;          // MCU or NCP (when present)
  bool version_format = true;      // ver and blVer look like versions (when present)
  bool no_duplicates = true;       // no parameter twice
  bool method_get = true;          // GET
  bool path_exact = true;          // exactly /external/api/provision
};

// The verdict of one check on one exchange.
struct CheckVerdict {
  std::string check;  // e.g. "builtin:token_format", "query:ver matches ^\d+$", "header:User-Agent present"
  bool passed = false;
  std::string detail;  // what was seen, when it failed (tokens masked by the journal, not here)
  int origin = -1;     // a value check's `origin`; -1 for the built-in checks
};

// ---- the typed provision request ---------------------------------------------------------------

struct ProvisionRequest {
  std::string method;  // as received
  std::string target;  // as received (raw)
  std::string path;    // percent-decoded path
  // Every query parameter in order, percent-decoded, `+` as space; duplicates kept.
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as received

  // Known parameters (first occurrence); empty optional when absent.
  std::optional<std::string> token, template_id, build, ver, type, fw_type, bl_ver, bo_type;

  std::optional<std::string> param(const std::string& name) const;   // first occurrence
  std::optional<std::string> header(const std::string& name) const;  // case-insensitive
  std::vector<std::string> unknown_params() const;                   // names not in the known set
};

// Parses a request target; throws ProvisionParseError (with the reason and the offset) when the
// target is not a valid origin-form URI or a query value has invalid percent-encoding.
struct ProvisionParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
ProvisionRequest parse_provision_request(std::string method, std::string target,
                                         std::vector<std::pair<std::string, std::string>> headers);

inline constexpr const char* provision_path = "/external/api/provision";

std::vector<CheckVerdict> run_builtin_checks(const ProvisionRequest& request, const BuiltinChecks& enabled);
CheckVerdict run_value_check(const ValueCheck& check, const std::optional<std::string>& value,
                             const std::string& scope);  // scope: "query", "header", "info"

// ---- answers and faults ------------------------------------------------------------------------

// A fault applied to one request after it was read (mock mode).
struct Fault {
  enum class Kind {
    delay,           // wait before answering (fixed, or uniform random in [delay, delay_max] from seed)
    close,           // close the connection (TLS close_notify) without answering
    reset,           // TCP reset: SO_LINGER 0 then close; the client sees ECONNRESET
    malformed,       // a response that is not HTTP
    truncated,       // headers promise a body longer than what is sent, then close
    tls_truncation,  // send the answer's first half, then drop TCP without close_notify
  };
  Kind kind = Kind::delay;
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds delay_max{0};  // > delay: random delay from `seed`
  std::uint64_t seed = 0;
};

// How to answer one request. Kind respond: status/headers/body; redirect: 308 (or `status`) with
// `Location: location`; proxy: forward to the upstream (also in mock mode, when an upstream is set).
struct Answer {
  enum class Kind { respond, redirect, proxy };
  Kind kind = Kind::respond;
  std::optional<int> nth;  // applies to the Nth matching request only (1-based); empty: any request
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "{}";
  std::string location;  // redirect target (absolute URL)
  std::vector<Fault> faults;

  static Answer ok(std::string body = "{}");
  static Answer invalid_token();  // the documented 400 {"error":{"message":"Invalid token."}}
  static Answer redirect_to(std::string location, int status = 308);
  static Answer forward();
};

// Faults that act during the TLS handshake, before any token is known. They are armed on the
// interceptor for the next connection(s), optionally only for one SNI name or client address.
struct ConnectionFault {
  enum class Kind {
    tls_alert,        // abort the handshake with a fatal alert
    stall_handshake,  // accept TCP, never answer the ClientHello (until the handshake deadline)
    expired_cert,     // a leaf whose notAfter is in the past
    wrong_name_cert,  // a leaf for another name (wrong.invalid) and no IP SAN
  };
  Kind kind = Kind::tls_alert;
  std::string sni;             // empty: any
  std::string client_address;  // empty: any (e.g. "192.168.50.23")
  int count = 1;               // how many connections it applies to
  std::string owner;           // the journal entry of a fault that fired goes to it (empty: the run)
};

// The fault names the journal, the reports and scenarios use: one exhaustive switch per enum (a new
// kind without its name does not build); the scenario loader parses with these same tables.
constexpr std::string_view fault_name(Fault::Kind kind) {
  switch (kind) {
    case Fault::Kind::delay:
      return "delay";
    case Fault::Kind::close:
      return "close";
    case Fault::Kind::reset:
      return "reset";
    case Fault::Kind::malformed:
      return "malformed";
    case Fault::Kind::truncated:
      return "truncated";
    case Fault::Kind::tls_truncation:
      return "tls_truncation";
  }
  return {};  // not an enumerator
}
constexpr std::string_view fault_name(ConnectionFault::Kind kind) {
  switch (kind) {
    case ConnectionFault::Kind::tls_alert:
      return "tls_alert";
    case ConnectionFault::Kind::stall_handshake:
      return "stall_handshake";
    case ConnectionFault::Kind::expired_cert:
      return "expired_cert";
    case ConnectionFault::Kind::wrong_name_cert:
      return "wrong_name_cert";
  }
  return {};
}
using FaultNames = EnumNames<static_cast<std::string_view (*)(Fault::Kind)>(fault_name)>;
using ConnectionFaultNames = EnumNames<static_cast<std::string_view (*)(ConnectionFault::Kind)>(fault_name)>;
constexpr std::string_view to_string(Fault::Kind kind) {
  return fault_name(kind);
}
constexpr std::string_view to_string(ConnectionFault::Kind kind) {
  return fault_name(kind);
}

// ---- expectations ------------------------------------------------------------------------------

struct CountRule {
  enum class Kind { exactly, at_least, none };
  Kind kind = Kind::exactly;
  int n = 1;
  static CountRule exactly_n(int n) { return {Kind::exactly, n}; }
  static CountRule at_least_n(int n) { return {Kind::at_least, n}; }
  static CountRule no_request() { return {Kind::none, 0}; }
};

// What a board should send as its provision request and how to answer it.
struct ProvisionExpectation {
  std::string token;  // requests match by token
  std::string owner;  // e.g. "provision-happy-path [devkit-a]"
  CountRule count;
  BuiltinChecks builtin;
  std::vector<ValueCheck> query;    // per parameter
  std::vector<ValueCheck> headers;  // per header
  // Answers in order: the first whose `nth` equals this request's ordinal, else the first without
  // `nth`, else 200 {}.
  std::vector<Answer> answers;
};

// What a board speaking the Blynk binary protocol should send: HW_LOGIN with the token, then
// INTERNAL info pairs checked like parameters. Login answers 200 for any registered token, else 9.
struct LoginExpectation {
  std::string token;
  std::string owner;
  CountRule count;
  bool accept = true;            // answer 200 (false: 9, invalid token, as for an unknown token)
  std::vector<ValueCheck> info;  // INTERNAL keys: ver, dev, tmpl, fw-type, build, ...
};

// ---- results -----------------------------------------------------------------------------------

// What an exchange was: a provision request, another HTTP request, a Blynk login, input turned
// away before it made a request, or a handshake fault that fired.
enum class ExchangeKind { provision, http, login, rejected, fault };
std::string_view to_string(ExchangeKind kind);

// Who answered: the scripted answer, the upstream, nobody because the upstream failed (502/504),
// nobody because the input was bad (an error answer or a close), or a fault.
enum class Responder { none, mock, upstream, proxy_error, error };
std::string_view to_string(Responder responder);
// In the journal: "mock", "upstream", "proxy_error", "error", "fault:<kind>" ("" for none).
using AnsweredBy = std::variant<Responder, Fault::Kind, ConnectionFault::Kind>;
std::string to_string(const AnsweredBy& answered_by);

// One exchange, as recorded in the journal (one JSON line each).
struct Exchange {
  std::uint64_t id = 0;
  ExchangeKind kind = ExchangeKind::http;
  std::chrono::steady_clock::time_point steady;
  std::chrono::system_clock::time_point wall;
  std::string client;  // address:port
  std::string sni;
  std::string tls_version;  // "TLSv1.3", "TLSv1.2", "plain"
  std::string token;        // clear here; masked when written out
  std::string owner;        // empty: nobody expects this token
  bool expected = false;
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> request_headers;
  std::vector<std::pair<std::string, std::string>> info;  // login: INTERNAL pairs
  std::vector<CheckVerdict> verdicts;
  int status = 0;  // answered status (HTTP status or Blynk status); 0: none
  std::vector<std::pair<std::string, std::string>> answer_headers;
  std::string answer_body;
  std::string upstream_request;  // proxy: what was sent upstream ("GET https://host/path?..."), else empty
  AnsweredBy answered_by = Responder::none;
  std::string error;  // what went wrong (bad input, upstream down)
  std::chrono::microseconds duration{0};

  bool checks_passed() const;
  // One JSON object on one line. The token is masked everywhere in it (also when the masker does
  // not know it), and so is every secret `masker` knows (may be null).
  std::string to_json_line(const SecretMasker* masker) const;
};

struct WaitResult {
  bool satisfied = false;            // the count rule holds now
  bool timed_out = false;            // the deadline passed before it held
  int count = 0;                     // matching requests so far
  std::vector<Exchange> exchanges;   // every matching exchange, with each check's verdict
  std::vector<Exchange> unexpected;  // requests for this owner's tokens that nothing expected
  std::string summary;               // one line for a report: what was expected, what came instead
  bool passed() const;               // satisfied, every check passed, nothing unexpected
};

}  // namespace provhil::intercept
