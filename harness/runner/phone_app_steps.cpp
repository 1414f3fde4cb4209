// The phone app's step: ap_config against the board's setup AP (board_info, wifi_scan, config).
#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "common/text.hpp"
#include "runner/detail/value_checks.hpp"
#include "runner/steps.hpp"

namespace provhil::runner {

namespace {

using report::Outcome;
namespace json = boost::json;

class PhoneApp {
 public:
  PhoneApp(StepContext& ctx, ApEndpoint endpoint, Clock::time_point deadline)
      : ctx_(ctx), endpoint_(std::move(endpoint)), deadline_(deadline) {}

  // One GET, journaled (masked) for the case's exchanges.
  HttpReply get(const std::string& target) {
    auto started = ctx_.clock.now();
    json::object record{{"kind", "ap"}};
    // On the run's one time base (milliseconds since the run started), like every other event.
    if (ctx_.run_clock != nullptr) record["t_ms"] = ctx_.run_clock->ms(started);
    record["method"] = "GET";
    record["url"] = fmt::format("http://{}:{}{}", endpoint_.host, endpoint_.port, target);
    try {
      auto reply =
          ctx_.phone_app.get(endpoint_.host, static_cast<std::uint16_t>(endpoint_.port), target, deadline_);
      record["status"] = reply.status;
      record["body"] = reply.body;
      record["duration_us"] =
          std::chrono::duration_cast<std::chrono::microseconds>(ctx_.clock.now() - started).count();
      ctx_.ap_journal.push_back(ctx_.masked(json::serialize(record)));
      return reply;
    } catch (const HttpError& e) {
      record["error"] = e.what();
      ctx_.ap_journal.push_back(ctx_.masked(json::serialize(record)));
      throw;
    }
  }

  // GETs `target` and parses its JSON, which must be of `kind`; a failure says what came instead.
  StepOutcome get_json(const std::string& target, json::kind kind, json::value& parsed, std::string& body) {
    auto reply = get(target);
    body = reply.body;
    if (reply.status != 200)
      return StepFailure::failed(fmt::format("{} answered {}", target, reply.status), body);
    try {
      parsed = json::parse(body);
    } catch (const std::exception& e) {
      return StepFailure::failed(fmt::format("{} is not JSON: {}", target, e.what()), body);
    }
    if (parsed.kind() != kind)
      return StepFailure::failed(
          fmt::format("{} is not a JSON {}", target, kind == json::kind::object ? "object" : "array"), body);
    return std::nullopt;
  }

 private:
  StepContext& ctx_;
  ApEndpoint endpoint_;
  Clock::time_point deadline_;
};

StepOutcome check_board_info(const scenario::ApConfigStep& step, PhoneApp& app, StepContext& ctx) {
  json::value parsed;
  std::string body;
  if (auto failure = app.get_json("/board_info.json", json::kind::object, parsed, body)) return failure;
  const auto& object = parsed.as_object();
  // Every field becomes a capture too (`${board_info.last_error}`...), e.g. to check it later.
  for (const auto& [name, value] : object)
    ctx.vars.captures["board_info." + std::string(name)] = json_scalar_text(value);
  for (const auto& named : step.board_info) {
    const auto* field = object.if_contains(named.name);
    std::optional<std::string> value;
    if (field != nullptr) value = json_scalar_text(*field);
    auto verdict = intercept::run_value_check(value_check(named, ctx), value, "board_info");
    if (!verdict.passed) {
      auto failure = StepFailure::failed(fmt::format("board_info.json: {}", verdict.check),
                                         fmt::format("{}\nboard_info.json: {}", verdict.detail, body));
      failure.where = named.check.where;
      return failure;
    }
  }
  return std::nullopt;
}

StepOutcome check_scan(const scenario::ApConfigStep& step, PhoneApp& app, StepContext& ctx) {
  json::value networks;
  std::string body;
  if (auto failure = app.get_json("/wifi_scan.json", json::kind::array, networks, body)) return failure;
  for (const auto& wanted_template : step.scan_contains) {
    auto wanted = ctx.resolve(wanted_template);
    const auto& list = networks.as_array();
    bool found = std::any_of(list.begin(), list.end(), [&](const json::value& n) {
      const auto* ssid = n.is_object() ? n.as_object().if_contains("ssid") : nullptr;
      return ssid != nullptr && ssid->is_string() && ssid->as_string() == wanted;
    });
    if (!found) return StepFailure::failed(fmt::format("/wifi_scan.json does not list '{}'", wanted), body);
  }
  return std::nullopt;
}

StepOutcome send_config(const scenario::ApConfigStep& step, PhoneApp& app, StepContext& ctx) {
  std::string target = "/config";
  char separator = '?';
  for (const auto& [name, value] : step.config) {
    target += separator + percent_encode(name, false) + "=" + percent_encode(ctx.resolve(value), false);
    separator = '&';
  }
  auto answer = app.get(target);
  std::string status;
  try {
    auto parsed = json::parse(answer.body);
    if (const auto* s = parsed.is_object() ? parsed.as_object().if_contains("status") : nullptr)
      status = json_scalar_text(*s);
  } catch (const std::exception&) {
    status = "(not JSON)";
  }
  if (status != step.expect_status)
    return StepFailure::failed(fmt::format("/config answered {} with status '{}', expected '{}'",
                                           answer.status, status, step.expect_status),
                               answer.body);
  return std::nullopt;
}

// One pass of the phone app; throws HttpConnectError when nothing listens at the endpoint.
StepOutcome ap_session(const scenario::ApConfigStep& step, Clock::time_point deadline, StepContext& ctx) {
  const auto& board = ctx.board.board();
  if (!board.simulated() && !board.join.empty()) {
    auto joined = ctx.shell.run(ctx.resolve(board.join), {{"PROVHIL_BOARD", board.name}}, deadline, nullptr);
    if (joined.timed_out || joined.exit_code != 0) {
      return StepFailure::error(
          report::ErrorReason::host_command,
          joined.timed_out ? "joining the board's AP timed out"
                           : fmt::format("joining the board's AP failed (exit {})", joined.exit_code),
          joined.output);
    }
  }
  ApEndpoint endpoint;
  try {
    endpoint = ctx.board.ap_endpoint(deadline);
  } catch (const serial::PortError&) {
    throw;
  } catch (const std::runtime_error& e) {
    return StepFailure::failed(e.what());
  }
  PhoneApp app(ctx, endpoint, deadline);
  try {
    if (auto failure = check_board_info(step, app, ctx)) return failure;
    if (step.wifi_scan || !step.scan_contains.empty()) {
      if (auto failure = check_scan(step, app, ctx)) return failure;
    }
    if (!step.config.empty()) return send_config(step, app, ctx);
  } catch (const HttpConnectError&) {
    throw;
  } catch (const HttpError& e) {
    return StepFailure::failed(e.what());
  }
  return std::nullopt;
}

}  // namespace

StepOutcome execute(const scenario::ApConfigStep& body, const StepCall& call, StepContext& ctx) {
  // Like the phone app, start over while nothing listens: the AP may be coming up, or the endpoint
  // read may still be the one of the AP the board just closed.
  constexpr auto pause = std::chrono::milliseconds(50);
  while (true) {
    try {
      return ap_session(body, call.deadline, ctx);
    } catch (const HttpConnectError& e) {
      if (ctx.clock.now() + pause >= call.deadline || ctx.interrupted()) return StepFailure::failed(e.what());
      ctx.clock.sleep_for(pause);
    }
  }
}

}  // namespace provhil::runner
