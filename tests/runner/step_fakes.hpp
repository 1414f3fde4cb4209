#pragma once
// Fakes behind StepContext: a console that searches scripted lines with the real patterns, a board, an
// interceptor that answers waits from scripted results, a phone-app client, a shell and a clock that
// moves only when something waits. No simulator, no port, no socket.
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runner/steps.hpp"

namespace provhil::runner::testing {

class FakeClock final : public StepClock {
 public:
  Clock::time_point now() const override { return now_; }
  void sleep_for(Clock::duration d) override { now_ += d; }
  void advance_to(Clock::time_point t) { now_ = std::max(now_, t); }

 private:
  Clock::time_point now_ = Clock::time_point{} + std::chrono::hours(1);
};

// Lines arrive in order; expect() consumes them up to the first match, as console::Console does.
class FakeConsole final : public StepConsole {
 public:
  explicit FakeConsole(FakeClock& clock) : clock_(clock) {}
  std::deque<std::string> lines;
  std::vector<std::string> sent;
  std::vector<console::ExpectRequest> requests;
  std::optional<std::string> gone;
  std::vector<std::string> notes;

  console::ExpectResult expect(const console::ExpectRequest& request) override {
    requests.push_back(request);
    console::ExpectResult result;
    if (gone) {
      result.status = console::ExpectStatus::vanished;
      result.reason = *gone;
      return result;
    }
    // A look (consume false) leaves every line where it is.
    std::deque<std::string> looked_at;
    auto& source = request.consume ? lines : looked_at;
    if (!request.consume) looked_at = lines;
    while (!source.empty()) {
      std::string line = source.front();
      source.pop_front();
      for (std::size_t i = 0; i < request.must_not.size(); ++i) {
        if (request.must_not[i].search(line)) {
          result.status = console::ExpectStatus::forbidden;
          result.pattern_index = static_cast<int>(i);
          result.line.text = line;
          result.reason = "a must-not-appear line";
          return result;
        }
      }
      for (std::size_t i = 0; i < request.any_of.size(); ++i) {
        if (request.any_of[i].search(line, &result.captures)) {
          result.status = console::ExpectStatus::matched;
          result.pattern_index = static_cast<int>(i);
          result.line.text = line;
          return result;
        }
      }
    }
    clock_.advance_to(request.deadline);
    result.status = console::ExpectStatus::timeout;
    result.reason = "timed out";
    return result;
  }
  void send_line(std::string_view text, std::string_view line_ending) override {
    sent.push_back(std::string(text) + std::string(line_ending));
  }
  std::optional<std::string> vanished() const override { return gone; }
  void note(std::string_view text) override { notes.emplace_back(text); }

 private:
  FakeClock& clock_;
};

class FakeBoard final : public StepBoard {
 public:
  scenario::Board info;
  int hard_resets = 0, soft_resets = 0;
  std::optional<std::string> reset_error;
  std::optional<ApEndpoint> endpoint = ApEndpoint{"192.0.2.1", 80};
  std::string client = "127.77.0.9";

  const scenario::Board& board() const override { return info; }
  bool rewinds = false;  // a replay: a reset plays the log again, no boot line to wait for
  bool hard_reset() override {
    if (reset_error) throw serial::ResetError(*reset_error);
    ++hard_resets;
    return rewinds;
  }
  bool soft_reset() override {
    if (reset_error) throw serial::ResetError(*reset_error);
    ++soft_resets;
    return rewinds;
  }
  ApEndpoint ap_endpoint(Clock::time_point) const override {
    if (!endpoint) throw std::runtime_error("the simulator announced no AP");
    return *endpoint;
  }
  std::string client_address() const override { return client; }
};

// wait() answers from `results` (by the order expectations were registered); an unsatisfied result
// lets the clock run to the deadline, as the real wait does.
class FakeInterceptor final : public StepInterceptor {
 public:
  explicit FakeInterceptor(FakeClock& clock) : clock_(clock) {}
  std::vector<intercept::ProvisionExpectation> provisions;
  std::vector<intercept::LoginExpectation> logins;
  std::vector<intercept::ConnectionFault> connection_faults;
  std::map<intercept::ExpectationId, intercept::WaitResult> results;
  std::vector<intercept::ExpectationId> finished;

  intercept::ExpectationId expect_provision(intercept::ProvisionExpectation e) override {
    provisions.push_back(std::move(e));
    return ++last_id_;
  }
  intercept::ExpectationId expect_login(intercept::LoginExpectation e) override {
    logins.push_back(std::move(e));
    return ++last_id_;
  }
  void arm_connection_fault(intercept::ConnectionFault fault) override { connection_faults.push_back(fault); }
  intercept::WaitResult wait(intercept::ExpectationId id, Clock::time_point deadline) override {
    auto result = results[id];
    if (!result.satisfied) {
      clock_.advance_to(deadline);
      result.timed_out = true;
    }
    return result;
  }
  intercept::WaitResult finish(intercept::ExpectationId id) override {
    finished.push_back(id);
    return results[id];
  }

 private:
  FakeClock& clock_;
  intercept::ExpectationId last_id_ = 0;
};

class FakePhoneApp final : public PhoneAppClient {
 public:
  std::map<std::string, HttpReply> replies;  // by target; a target not listed: nothing listens
  std::vector<std::string> targets;
  HttpReply get(const std::string&, std::uint16_t, const std::string& target, Clock::time_point) override {
    targets.push_back(target);
    auto it = replies.find(target);
    if (it == replies.end()) throw HttpConnectError("connect: connection refused");
    return it->second;
  }
};

class FakeShell final : public HostShell {
 public:
  HostCommandResult result;
  std::vector<std::string> commands;
  std::map<std::string, std::string> last_env;
  HostCommandResult run(const std::string& command, const std::map<std::string, std::string>& env,
                        Clock::time_point, const std::atomic<bool>*) override {
    commands.push_back(command);
    last_env = env;
    return result;
  }
};

// Everything a step needs, wired to fakes.
struct Rig {
  FakeClock clock;
  FakeConsole console{clock};
  FakeBoard board;
  FakeInterceptor interceptor{clock};
  FakePhoneApp phone_app;
  FakeShell shell;
  scenario::DialectSet dialects;
  scenario::Dialect& dialect = dialects.by_name["edgent-1.2"];
  SecretMasker masker;
  std::atomic<bool> interrupt{false};
  StepContext ctx{console, board,       interceptor,           phone_app, shell, clock, &dialect, dialects,
                  masker,  "case [b1]", "https://blynk.cloud", &interrupt};
  scenario::Lab lab;

  Rig() {
    board.info.name = "b1";
    dialect.name = "edgent-1.2";
    dialect.events["banner"] = {R"(^\[\d+\] Blynk\.Edgent v)", {}};
    dialect.states["RUNNING"] = {R"(State: RUNNING)", {}};
    ctx.vars.board = &board.info;
    ctx.vars.board_token = "tok-0123456789abcdef0123456789abc";
    ctx.vars.lab = &lab;
    ctx.vars.vars["ssid"] = "lab-net";
    ctx.case_deadline = clock.now() + std::chrono::minutes(5);
  }

  template <class Body>
  StepOutcome run(Body body, std::chrono::milliseconds within = std::chrono::seconds(10)) {
    steps.push_back(scenario::Step{});
    steps.back().body = std::move(body);
    return run_step(steps.back(), within);
  }
  StepOutcome run_step(const scenario::Step& step,
                       std::chrono::milliseconds within = std::chrono::seconds(10)) {
    // Nested steps run through this same rig, as the case runs them through run_steps.
    NestedSteps nested = [this, within](const std::vector<scenario::Step>& inner) -> StepOutcome {
      for (const auto& s : inner)
        if (auto failure = run_step(s, within)) return failure;
      return std::nullopt;
    };
    StepCall call{step, clock.now() + within};
    return execute_body(
        step.body, call, ctx,
        Overloaded{[&](const scenario::RepeatStep& b) { return execute(b, call, ctx, nested); },
                   [&](const scenario::RetryStep& b) { return execute(b, call, ctx, nested); }});
  }
  std::deque<scenario::Step> steps;  // stable addresses: armed expectations point at their step
};

}  // namespace provhil::runner::testing
