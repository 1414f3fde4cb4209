#include "intercept/registry.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/regex.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/secrets.hpp"

namespace provhil::intercept {

namespace {

std::string rule_text(const CountRule& rule) {
  switch (rule.kind) {
    case CountRule::Kind::exactly:
      return fmt::format("exactly {}", rule.n);
    case CountRule::Kind::at_least:
      return fmt::format("at least {}", rule.n);
    case CountRule::Kind::none:
      return "no";
  }
  return "?";
}

bool holds(const CountRule& rule, int count) {
  switch (rule.kind) {
    case CountRule::Kind::exactly:
      return count == rule.n;
    case CountRule::Kind::at_least:
      return count >= rule.n;
    case CountRule::Kind::none:
      return count == 0;
  }
  return false;
}

// A waiter can stop waiting: the rule holds for good (at least), or reached its count (exactly),
// or is already broken (none).
bool decided(const CountRule& rule, int count) {
  return rule.kind == CountRule::Kind::none ? count > 0 : count >= rule.n;
}

void validate_checks(const std::vector<ValueCheck>& checks, const std::string& scope) {
  for (const auto& check : checks) {
    if (check.name.empty()) throw std::invalid_argument(fmt::format("{} check without a name", scope));
    if (check.kind == ValueCheck::Kind::matches) {
      try {
        boost::regex(check.value, boost::regex::ECMAScript);
      } catch (const boost::regex_error& e) {
        throw std::invalid_argument(
            fmt::format("{} check on {}: invalid regex /{}/: {}", scope, check.name, check.value, e.what()));
      }
    }
  }
}

}  // namespace

Registry::Registry(SecretMasker* masker, const std::filesystem::path& journal_path,
                   std::function<void(const Exchange&)> on_exchange,
                   std::function<void(const std::string&)> on_journal_error)
    : masker_(masker),
      on_exchange_(std::move(on_exchange)),
      on_journal_error_(std::move(on_journal_error)),
      journal_path_(journal_path) {
  if (!journal_path.empty()) {
    std::error_code ec;
    if (journal_path.has_parent_path()) std::filesystem::create_directories(journal_path.parent_path(), ec);
    if (ec)
      throw InterceptorStartError(fmt::format("{}: cannot create the journal's folder {}: {}",
                                              journal_path.string(), journal_path.parent_path().string(),
                                              ec.message()));
    journal_fd_ = ::open(journal_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (journal_fd_ < 0)
      throw InterceptorStartError(fmt::format("{}: cannot open the journal for writing: {}",
                                              journal_path.string(), std::strerror(errno)));
  }
}

Registry::~Registry() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

std::string Registry::journal_error() const {
  std::lock_guard lock(journal_mutex_);
  return journal_error_;
}

// One line, whole or not at all: a short or failed write (ENOSPC, EFBIG) is truncated back to where
// the line began, so the file ends with the last whole line; then the journal stops and says why.
void Registry::append_to_journal(const std::string& line) {
  std::string error;
  {
    std::lock_guard lock(journal_mutex_);
    if (journal_fd_ < 0) return;
    std::string text = line + '\n';
    struct stat st {};
    if (::fstat(journal_fd_, &st) != 0) {
      error = std::strerror(errno);
    } else {
      std::size_t done = 0;
      while (done < text.size()) {
        ssize_t n = ::write(journal_fd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          error = n < 0 ? std::strerror(errno) : "nothing written";
          break;
        }
        done += static_cast<std::size_t>(n);
      }
      if (!error.empty() && done > 0 && ::ftruncate(journal_fd_, st.st_size) != 0)
        error += fmt::format(" (and the partial line could not be removed: {})", std::strerror(errno));
    }
    if (error.empty()) return;
    ::close(journal_fd_);
    journal_fd_ = -1;
    journal_error_ = fmt::format("{}: cannot write the journal: {}", journal_path_.string(), error);
    error = journal_error_;
  }
  if (on_journal_error_) on_journal_error_(error);
}

void Registry::add_secret(const std::string& token) {
  if (masker_ && token.size() >= SecretMasker::min_length) masker_->add(token, "token");
}

// A token seen on the wire is masked in the shared masker only when it has a token's shape: a
// short word sent as a token must not be masked in every log line of the run (the journal masks the
// token field of its own exchange whatever its shape).
void Registry::add_seen_token(const std::string& token) {
  if (token.size() == 32 && std::all_of(token.begin(), token.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      }))
    add_secret(token);
}

ExpectationId Registry::add_provision(ProvisionExpectation expectation) {
  if (expectation.token.empty()) throw std::invalid_argument("provision expectation without a token");
  validate_checks(expectation.query, "query");
  validate_checks(expectation.headers, "header");
  add_secret(expectation.token);
  std::lock_guard lock(mutex_);
  owners_[expectation.token] = expectation.owner;
  Entry e;
  e.provision = std::move(expectation);
  ExpectationId id = next_id_++;
  entries_.emplace(id, std::move(e));
  return id;
}

ExpectationId Registry::add_login(LoginExpectation expectation) {
  if (expectation.token.empty()) throw std::invalid_argument("login expectation without a token");
  validate_checks(expectation.info, "info");
  add_secret(expectation.token);
  std::lock_guard lock(mutex_);
  owners_[expectation.token] = expectation.owner;
  Entry e;
  e.login = true;
  e.login_expectation = std::move(expectation);
  ExpectationId id = next_id_++;
  entries_.emplace(id, std::move(e));
  return id;
}

void Registry::claim(const std::string& token, const std::string& owner) {
  add_secret(token);
  std::lock_guard lock(mutex_);
  owners_[token] = owner;
}

void Registry::arm(ConnectionFault fault) {
  std::lock_guard lock(mutex_);
  faults_.push_back(std::move(fault));
}

std::optional<ConnectionFault> Registry::take_connection_fault(const std::string& sni,
                                                               const std::string& client_address,
                                                               bool before_handshake) {
  std::lock_guard lock(mutex_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    bool stall = it->kind == ConnectionFault::Kind::stall_handshake;
    if (stall != before_handshake) continue;
    if (!it->sni.empty() && (before_handshake || it->sni != sni)) continue;
    if (!it->client_address.empty() && it->client_address != client_address) continue;
    ConnectionFault taken = *it;
    if (--it->count <= 0) faults_.erase(it);
    return taken;
  }
  return std::nullopt;
}

Registry::Entry& Registry::entry(ExpectationId id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) throw std::invalid_argument(fmt::format("no expectation with id {}", id));
  return it->second;
}

ProvisionDecision Registry::decide_provision(const ProvisionRequest& request) {
  ProvisionDecision decision;
  std::string token = request.token.value_or("");
  add_seen_token(token);
  std::lock_guard lock(mutex_);
  if (auto owner = owners_.find(token); owner != owners_.end()) {
    decision.owner = owner->second;
    decision.token_known = true;
  }
  for (auto& [id, e] : entries_) {
    if (e.login || !e.active || e.provision.token != token) continue;
    decision.id = id;
    decision.expected = true;
    decision.owner = e.provision.owner;
    decision.ordinal = ++e.arrived;
    decision.verdicts = run_builtin_checks(request, e.provision.builtin);
    for (const auto& check : e.provision.query)
      decision.verdicts.push_back(run_value_check(check, request.param(check.name), "query"));
    for (const auto& check : e.provision.headers)
      decision.verdicts.push_back(run_value_check(check, request.header(check.name), "header"));
    const Answer* chosen = nullptr;
    for (const auto& answer : e.provision.answers)
      if (answer.nth && *answer.nth == decision.ordinal) {
        chosen = &answer;
        break;
      }
    if (!chosen)
      for (const auto& answer : e.provision.answers)
        if (!answer.nth) {
          chosen = &answer;
          break;
        }
    if (chosen) decision.answer = *chosen;
    break;
  }
  if (!decision.expected) decision.verdicts = run_builtin_checks(request, BuiltinChecks{});
  return decision;
}

LoginDecision Registry::decide_login(const std::string& token) {
  LoginDecision decision;
  add_seen_token(token);
  std::lock_guard lock(mutex_);
  if (auto owner = owners_.find(token); owner != owners_.end()) {
    decision.owner = owner->second;
    decision.accept = true;  // a token some scenario registered
  }
  for (auto& [id, e] : entries_) {
    if (!e.login || !e.active || e.login_expectation.token != token) continue;
    decision.id = id;
    decision.expected = true;
    decision.owner = e.login_expectation.owner;
    decision.accept = e.login_expectation.accept;
    ++e.arrived;
    break;
  }
  return decision;
}

std::vector<CheckVerdict> Registry::check_login_info(
    std::optional<ExpectationId> id, const std::vector<std::pair<std::string, std::string>>& info) {
  std::vector<CheckVerdict> out;
  if (!id) return out;
  std::lock_guard lock(mutex_);
  for (const auto& check : entry(*id).login_expectation.info) {
    std::optional<std::string> value;
    for (const auto& [k, v] : info)
      if (k == check.name) {
        value = v;
        break;
      }
    out.push_back(run_value_check(check, value, "info"));
  }
  return out;
}

void Registry::record(Exchange exchange, std::optional<ExpectationId> id) {
  {
    std::lock_guard lock(mutex_);
    exchange.id = next_exchange_id_++;
    bool keep = true;
    if (!id && exchange.owner.empty()) keep = unowned_kept_[exchange.kind]++ < unowned_kept_per_kind;
    if (keep) {
      exchanges_.push_back(exchange);
      if (id) entry(*id).exchanges.push_back(exchanges_.size() - 1);
    }
  }
  arrived_.notify_all();
  if (!journal_path_.empty()) append_to_journal(exchange.to_json_line(masker_));
  if (on_exchange_) on_exchange_(exchange);
}

WaitResult Registry::result_locked(const Entry& e, bool timed_out) const {
  WaitResult result;
  result.count = static_cast<int>(e.exchanges.size());
  result.satisfied = holds(rule_of(e), result.count);
  result.timed_out = timed_out;
  for (auto index : e.exchanges)
    result.exchanges.push_back(exchanges_[index]);
  const std::string& owner = owner_of(e);
  for (const auto& x : exchanges_)
    if (!x.expected && !owner.empty() && x.owner == owner) result.unexpected.push_back(x);
  int failed_checks = 0;
  for (const auto& x : result.exchanges)
    for (const auto& v : x.verdicts)
      failed_checks += v.passed ? 0 : 1;
  result.summary = fmt::format(
      "expected {} {} request(s) for {}, got {}{}{}{}", rule_text(rule_of(e)),
      e.login ? "login" : "provision", owner.empty() ? "(no owner)" : owner, result.count,
      timed_out && !result.satisfied ? " before the deadline" : "",
      failed_checks ? fmt::format("; {} check(s) failed", failed_checks) : "",
      result.unexpected.empty() ? "" : fmt::format("; {} unexpected request(s)", result.unexpected.size()));
  return result;
}

WaitResult Registry::wait(ExpectationId id, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  Entry& e = entry(id);
  bool done = arrived_.wait_until(lock, deadline,
                                  [&] { return decided(rule_of(e), static_cast<int>(e.exchanges.size())); });
  return result_locked(e, !done);
}

WaitResult Registry::finish(ExpectationId id) {
  std::lock_guard lock(mutex_);
  Entry& e = entry(id);
  e.active = false;
  return result_locked(e, false);
}

std::vector<Exchange> Registry::select(const std::function<bool(const Exchange&)>& keep) const {
  std::lock_guard lock(mutex_);
  std::vector<Exchange> out;
  for (const auto& x : exchanges_)
    if (keep(x)) out.push_back(x);
  return out;
}

std::string Registry::lines(const std::function<bool(const Exchange&)>& keep) const {
  std::string out;
  for (const auto& x : select(keep))
    out += x.to_json_line(masker_) + "\n";
  return out;
}

}  // namespace provhil::intercept
