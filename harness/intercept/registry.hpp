#pragma once
// Internal: expectations keyed by token, the exchanges recorded against them, waiters, the journal.
// No Asio here: the server asks it what to do and tells it what happened.

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "intercept/interceptor.hpp"
#include "intercept/provision.hpp"

namespace provhil::intercept {

struct ProvisionDecision {
  std::optional<ExpectationId> id;  // the expectation it matched
  std::string owner;                // empty: nobody owns the token
  bool expected = false;
  bool token_known = false;  // some scenario registered or claimed this token
  int ordinal = 0;           // 1-based, among the requests matched to `id`
  std::vector<CheckVerdict> verdicts;
  std::optional<Answer> answer;  // the scripted answer; empty: the default one
};

struct LoginDecision {
  std::optional<ExpectationId> id;
  std::string owner;
  bool expected = false;
  bool accept = false;  // answer 200, else 9
};

class Registry {
 public:
  // Exchanges nobody owns are kept in memory up to this many of each kind (the journal file has
  // them all): a hostile client must not grow the run's memory without bound. Owned exchanges are
  // all kept (a scenario's waits and attachments need them).
  static constexpr std::size_t unowned_kept_per_kind = 256;

  Registry(SecretMasker* masker, const std::filesystem::path& journal_path,
           std::function<void(const Exchange&)> on_exchange,
           std::function<void(const std::string&)> on_journal_error = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  ExpectationId add_provision(ProvisionExpectation expectation);
  ExpectationId add_login(LoginExpectation expectation);
  void claim(const std::string& token, const std::string& owner);
  void arm(ConnectionFault fault);
  std::optional<ConnectionFault> take_connection_fault(const std::string& sni,
                                                       const std::string& client_address,
                                                       bool before_handshake);

  ProvisionDecision decide_provision(const ProvisionRequest& request);
  LoginDecision decide_login(const std::string& token);
  std::vector<CheckVerdict> check_login_info(std::optional<ExpectationId> id,
                                             const std::vector<std::pair<std::string, std::string>>& info);

  // Stores the finished exchange (assigning its id), appends it to the journal, wakes waiters.
  void record(Exchange exchange, std::optional<ExpectationId> id);

  WaitResult wait(ExpectationId id, std::chrono::steady_clock::time_point deadline);
  WaitResult finish(ExpectationId id);

  std::vector<Exchange> select(const std::function<bool(const Exchange&)>& keep) const;
  std::string lines(const std::function<bool(const Exchange&)>& keep) const;
  const SecretMasker* masker() const { return masker_; }
  // Why the journal stopped ("PATH: cannot write the journal: REASON"); empty while it is written.
  std::string journal_error() const;

 private:
  struct Entry {
    bool login = false;
    ProvisionExpectation provision;
    LoginExpectation login_expectation;
    bool active = true;
    int arrived = 0;
    std::vector<std::size_t> exchanges;  // indices into exchanges_
  };
  const std::string& token_of(const Entry& e) const {
    return e.login ? e.login_expectation.token : e.provision.token;
  }
  const std::string& owner_of(const Entry& e) const {
    return e.login ? e.login_expectation.owner : e.provision.owner;
  }
  const CountRule& rule_of(const Entry& e) const {
    return e.login ? e.login_expectation.count : e.provision.count;
  }
  Entry& entry(ExpectationId id);
  WaitResult result_locked(const Entry& e, bool timed_out) const;
  void add_secret(const std::string& token);
  void add_seen_token(const std::string& token);
  void append_to_journal(const std::string& line);

  SecretMasker* masker_;
  std::function<void(const Exchange&)> on_exchange_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::map<ExpectationId, Entry> entries_;
  ExpectationId next_id_ = 1;
  std::map<std::string, std::string> owners_;  // token -> owner
  std::vector<ConnectionFault> faults_;
  std::vector<Exchange> exchanges_;
  std::uint64_t next_exchange_id_ = 1;
  std::map<ExchangeKind, std::size_t> unowned_kept_;
  std::function<void(const std::string&)> on_journal_error_;
  // The journal: whole lines only. A write that fails (a full disk) is cut back to the last whole
  // line, the journal is closed and the error kept: what was written stays valid JSON lines.
  mutable std::mutex journal_mutex_;
  std::filesystem::path journal_path_;
  int journal_fd_ = -1;
  std::string journal_error_;
};

}  // namespace provhil::intercept
