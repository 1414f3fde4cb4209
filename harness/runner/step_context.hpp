#pragma once
// The seam between a step and what it talks to. Each step kind has one executor (runner/steps.hpp)
// that sees the world only through a StepContext: the board's console, the board itself (reset, AP
// endpoint), the interceptor, the phone-app HTTP client, the lab host's shell and a clock. The runner
// wires them to a BoardSession and the run's Interceptor (runner/case_runner.cpp); unit tests wire
// fakes (tests/runner/steps_test.cpp).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/run_clock.hpp"
#include "common/secrets.hpp"
#include "console/console.hpp"
#include "intercept/interceptor.hpp"
#include "report/results.hpp"
#include "runner/board_session.hpp"
#include "runner/host_command.hpp"
#include "runner/http_get.hpp"
#include "scenario/model.hpp"
#include "scenario/variables.hpp"

namespace provhil::runner {

using Clock = std::chrono::steady_clock;

// Why a step did not pass. `outcome` is failed (a check did not hold) or error (infrastructure).
struct StepFailure {
  report::Outcome outcome = report::Outcome::failed;
  std::string message;                                             // one line
  std::string detail;                                              // expected vs received, evidence
  std::optional<report::ErrorReason> error_reason = std::nullopt;  // set exactly when outcome is error
  // The two sides on their own, when the step knows them (index.html shows them side by side).
  std::string expected{};
  std::string actual{};
  // The key that failed when it is finer than the step (a query parameter's check five lines below the
  // step's keyword); the report points there.
  std::optional<scenario::SourceLocation> where{};
  // The detail holds the last serial lines already (stamped, as the console saw them at the failure),
  // so the case does not add them a second time.
  bool has_serial_lines = false;

  static StepFailure failed(std::string message, std::string detail = {}) {
    return {report::Outcome::failed, std::move(message), std::move(detail), std::nullopt, {}, {}, {}, false};
  }
  static StepFailure error(report::ErrorReason reason, std::string message, std::string detail = {}) {
    return {report::Outcome::error, std::move(message), std::move(detail), reason, {}, {}, {}, false};
  }
};
using StepOutcome = std::optional<StepFailure>;  // empty: passed

// The console engine as the steps use it (console::Console in a run).
class StepConsole {
 public:
  virtual ~StepConsole() = default;
  virtual console::ExpectResult expect(const console::ExpectRequest& request) = 0;
  virtual void send_line(std::string_view text, std::string_view line_ending) = 0;
  virtual std::optional<std::string> vanished() const = 0;
  virtual void note(std::string_view text) = 0;  // into the case's text log
};

// The board itself (a BoardSession in a run).
class StepBoard {
 public:
  virtual ~StepBoard() = default;
  virtual const scenario::Board& board() const = 0;
  // Throw serial::ResetError when the reset cannot be done. True: the port was rewound (a replay), so
  // nothing from before the reset is left to wait past.
  virtual bool hard_reset() = 0;
  virtual bool soft_reset() = 0;
  // Throws std::runtime_error saying why the setup AP cannot be reached.
  virtual ApEndpoint ap_endpoint(Clock::time_point deadline) const = 0;
  virtual std::string client_address() const = 0;
};

// The part of intercept::Interceptor the steps use.
class StepInterceptor {
 public:
  virtual ~StepInterceptor() = default;
  virtual intercept::ExpectationId expect_provision(intercept::ProvisionExpectation expectation) = 0;
  virtual intercept::ExpectationId expect_login(intercept::LoginExpectation expectation) = 0;
  virtual void arm_connection_fault(intercept::ConnectionFault fault) = 0;
  virtual intercept::WaitResult wait(intercept::ExpectationId id, Clock::time_point deadline) = 0;
  virtual intercept::WaitResult finish(intercept::ExpectationId id) = 0;
};

// The phone app's HTTP client against the board's setup AP (runner::http_get in a run).
class PhoneAppClient {
 public:
  virtual ~PhoneAppClient() = default;
  // Throws HttpError, HttpConnectError when nothing listens.
  virtual HttpReply get(const std::string& host, std::uint16_t port, const std::string& target,
                        Clock::time_point deadline) = 0;
};

// The lab host's shell: `exec` steps and AP join commands (runner::run_host_command in a run).
class HostShell {
 public:
  virtual ~HostShell() = default;
  virtual HostCommandResult run(const std::string& command, const std::map<std::string, std::string>& env,
                                Clock::time_point deadline, const std::atomic<bool>* interrupted) = 0;
};

class StepClock {
 public:
  virtual ~StepClock() = default;
  virtual Clock::time_point now() const = 0;
  virtual void sleep_for(Clock::duration duration) = 0;
};

// Expectations registered with the interceptor ahead of their steps, so a request that arrives before
// its step starts still counts (runner/interceptor_steps.cpp).
struct ExpectationPlan {
  struct Armed {
    const scenario::Step* step = nullptr;
    intercept::ExpectationId id{};
  };
  std::vector<const scenario::Step*> provision, login;  // in the order they first run
  std::size_t provision_next = 0, login_next = 0;
  std::optional<Armed> armed_provision, armed_login;
};

struct StepContext {
  StepConsole& console;
  StepBoard& board;
  StepInterceptor& interceptor;
  PhoneAppClient& phone_app;
  HostShell& shell;
  StepClock& clock;
  // The board's dialect; for `dialect: auto` null until the first expect saw a line that tells it.
  const scenario::Dialect* dialect;
  const scenario::DialectSet& dialects;
  const SecretMasker& masker;
  std::string owner{};               // the interceptor's owner string of this case
  std::string inventory_upstream{};  // interceptor.upstream of the inventory (per-step proxies must match)
  const std::atomic<bool>* interrupted_flag = nullptr;

  scenario::VariableContext vars{};  // scenario vars and captures
  bool teardown = false;             // in teardown an interrupt does not end waits
  Clock::time_point case_deadline{};
  std::vector<std::string> ap_journal{};  // JSON lines of the phone app's exchanges, masked
  ExpectationPlan expectations{};
  // The run's time base: the phone app's exchanges carry t_ms on it; null: they carry none (tests).
  const RunClock* run_clock = nullptr;
  // `dialect: auto` picked a dialect (dialect set now): what to say about it.
  std::function<void(const std::string& said)> on_dialect_picked{};

  bool interrupted() const { return interrupted_flag != nullptr && interrupted_flag->load(); }
  // An interrupt ends waits at once, except in teardown, which has its own short deadline instead.
  bool stop_waiting() const { return interrupted() && !teardown; }
  std::string resolve(const std::string& text, scenario::Escape escape = scenario::Escape::none) const {
    return scenario::resolve(text, vars, escape);
  }
  std::string masked(std::string_view text) const { return masker.mask(text); }
};

// Waits are cut into slices this long so that an interrupt is noticed; arrivals still wake at once.
inline constexpr auto interrupt_slice = std::chrono::milliseconds(250);

}  // namespace provhil::runner
