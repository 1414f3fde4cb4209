#include "runner/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/color.hpp"
#include "common/exit_codes.hpp"
#include "common/run_clock.hpp"
#include "common/version.hpp"
#include "intercept/interceptor.hpp"
#include "intercept/lab_ca.hpp"
#include "report/writer.hpp"
#include "runner/board_session.hpp"
#include "runner/case_runner.hpp"
#include "runner/plan.hpp"
#include "runner/progress.hpp"
#include "runner/work_dir.hpp"
#include "scenario/loader.hpp"
#include "scenario/variables.hpp"

namespace provhil::runner {

namespace {

using Clock = std::chrono::steady_clock;

std::string make_run_id() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::random_device random;
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:06x}", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, random() & 0xFFFFFF);
}

void print_diagnostics(std::ostream& err, const std::vector<scenario::Diagnostic>& diagnostics) {
  for (const auto& d : diagnostics)
    err << d.to_string() << "\n";
}

std::filesystem::path self_binary() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("provhil") : path;
}

// Writes the masked copy of a finished raw serial log (kept unmasked only in the run's private work
// folder) into the report folder. Secrets never span lines (the firmware prints each on one), so line
// by line keeps memory bounded by the longest line. With --show-secrets the copy is exact.
void copy_masked(const std::filesystem::path& from, const std::filesystem::path& to,
                 const SecretMasker& masker) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return;
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  std::string line;
  while (std::getline(in, line)) {
    out << masker.mask(line);
    if (!in.eof()) out << '\n';
  }
}

report::CaseResult skipped_case(const PlannedPair& pair, const std::string& board, report::SkipReason code,
                                const std::string& reason, const RunClock& clock) {
  report::CaseResult result;
  result.scenario = pair.scenario->name;
  result.scenario_file = pair.scenario->file;
  result.board = board;
  result.outcome = report::Outcome::skipped;
  result.skip_code = code;
  result.skip_reason = reason;
  result.message = reason;
  result.started = clock.wall_now();
  return result;
}

report::CaseResult error_case(const PlannedPair& pair, const std::string& board, report::ErrorReason code,
                              const std::string& message, const RunClock& clock) {
  report::CaseResult result = skipped_case(pair, board, {}, {}, clock);
  result.outcome = report::Outcome::error;
  result.skip_code.reset();
  result.error_code = code;
  result.message = message;
  return result;
}

struct BoardWork {
  const scenario::Board* board = nullptr;
  std::string token;
  std::vector<const PlannedPair*> pairs;  // the units only this board runs, in plan order
};

// "any of sim-1, sim-2": a pooled unit's boards, for --list and messages.
std::string pool_text(const PlannedPair& pair) {
  std::vector<std::string> names;
  for (const auto* b : pair.pool)
    names.push_back(b->name);
  return fmt::format("any of {}", fmt::join(names, ", "));
}

void print_summary(std::ostream& out, const std::vector<report::CaseResult>& results,
                   const report::ReportWriter& writer, Clock::duration wall) {
  std::size_t width_s = 8;
  std::size_t width_b = 5;
  for (const auto& r : results) {
    width_s = std::max(width_s, r.scenario.size());
    width_b = std::max(width_b, r.board.size());
  }
  out << fmt::format("\n{:<{}}  {:<{}}  {:<6} {:>8}\n", "scenario", width_s, "board", width_b, "result",
                     "time");
  std::map<report::Outcome, int> counts;
  int flaky_count = 0;
  for (const auto& r : results) {
    ++counts[r.outcome];
    bool is_flaky = r.outcome == report::Outcome::passed && !r.earlier_attempts.empty();
    flaky_count += is_flaky ? 1 : 0;
    std::string flaky = is_flaky ? " (flaky)" : "";
    out << fmt::format("{:<{}}  {:<{}}  {:<6} {:>7.2f}s{}\n", r.scenario, width_s, r.board, width_b,
                       outcome_word(r.outcome), std::chrono::duration<double>(r.duration).count(), flaky);
  }
  // "N passed, ..." stays the line's start (scripts read it); flaky passes are named after the counts.
  out << fmt::format("\n{} passed, {} failed, {} errors, {} skipped{} in {:.1f}s\n",
                     counts[report::Outcome::passed], counts[report::Outcome::failed],
                     counts[report::Outcome::error], counts[report::Outcome::skipped],
                     flaky_count > 0 ? fmt::format(" ({} flaky)", flaky_count) : std::string(),
                     std::chrono::duration<double>(wall).count());
  out << fmt::format("Reports: {}, {} and {} (open it in a browser)\n", writer.junit_path().string(),
                     writer.results_path().string(), writer.html_path().string());
}

std::string nothing_ran_reason(const RunOptions& options, std::size_t scenario_count,
                               const scenario::Inventory& inventory) {
  std::size_t boards = inventory.boards.size();
  if (!options.filters.empty()) {
    std::string list;
    for (const auto& f : options.filters)
      list += (list.empty() ? "'" : ", '") + f + "'";
    return fmt::format("--filter {} matched no name or tag of the {} scenario(s) found", list,
                       scenario_count);
  }
  if (options.shard.count > 1)
    return fmt::format("shard {}/{} got none of the runnable units (fewer units than shards?)",
                       options.shard.index, options.shard.count);
  return fmt::format("no scenario matched any of the {} board(s) of {} (see the skip reasons above)", boards,
                     options.inventory.string());
}

}  // namespace

std::optional<Shard> parse_shard(const std::string& text, std::string& error) {
  auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    std::size_t used = 0;
    int index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("index");
    auto rest = text.substr(slash + 1);
    int count = std::stoi(rest, &used);
    if (used != rest.size()) throw std::invalid_argument("count");
    if (count < 1 || index < 1 || index > count) throw std::invalid_argument("range");
    return Shard{index, count};
  } catch (const std::exception&) {
    error = fmt::format("--shard '{}': expected K/N with 1 <= K <= N, e.g. 2/4", text);
    return std::nullopt;
  }
}

namespace {

// ---- plan: the inventory, its dialects and the scenarios, paired; any error stops the run here ----
struct Plan {
  scenario::Inventory inventory;
  scenario::DialectSet dialects;
  std::vector<scenario::Scenario> scenarios;
  std::vector<PlannedPair> pairs;  // point into inventory and scenarios: a Plan does not move
};

std::optional<ExitCode> load_scenarios(const RunOptions& options, Plan& plan, std::ostream& err) {
  std::vector<scenario::Diagnostic> diagnostics;
  auto files = scenario::find_scenario_files(options.paths, diagnostics);
  for (const auto& file : files) {
    if (scenario::detect_file_kind(file) != scenario::FileKind::scenario) continue;
    auto loaded = scenario::load_scenario(file);
    diagnostics.insert(diagnostics.end(), loaded.diagnostics.begin(), loaded.diagnostics.end());
    if (!loaded.value) continue;
    for (auto& d : scenario::check_scenario(*loaded.value, plan.inventory, plan.dialects)) {
      // A scenario no board of this inventory can run is reported as skipped, not as an invalid file.
      if (d.code == scenario::Diagnostic::Code::no_matching_board) continue;
      diagnostics.push_back(std::move(d));
    }
    plan.scenarios.push_back(std::move(*loaded.value));
  }
  print_diagnostics(err, diagnostics);
  if (scenario::has_errors(diagnostics)) {
    err << "provhil run: invalid scenario files; nothing was run (provhil validate checks them)\n";
    return ExitCode::usage;
  }
  if (plan.scenarios.empty()) {
    err << "provhil run: no scenario files found\n";
    return ExitCode::usage;
  }
  return std::nullopt;
}

std::variant<std::unique_ptr<Plan>, ExitCode> make_plan(const RunOptions& options, std::ostream& err) {
  auto plan = std::make_unique<Plan>();
  scenario::InventoryOptions inventory_options;
  inventory_options.require_secrets = true;
  auto inventory_loaded = scenario::load_inventory(options.inventory, inventory_options);
  print_diagnostics(err, inventory_loaded.diagnostics);
  if (!inventory_loaded.ok()) {
    err << fmt::format("provhil run: the inventory {} is invalid\n", options.inventory.string());
    return ExitCode::usage;
  }
  plan->inventory = std::move(*inventory_loaded.value);
  auto dialects_loaded = scenario::load_dialects(plan->inventory.dialects_dir);
  print_diagnostics(err, dialects_loaded.diagnostics);
  if (!dialects_loaded.ok()) return ExitCode::usage;
  plan->dialects = std::move(*dialects_loaded.value);
  auto inventory_diagnostics = scenario::check_inventory(plan->inventory, plan->dialects);
  print_diagnostics(err, inventory_diagnostics);
  if (scenario::has_errors(inventory_diagnostics)) return ExitCode::usage;
  if (auto code = load_scenarios(options, *plan, err)) return *code;
  PlanOptions plan_options;
  plan_options.filters = options.filters;
  plan_options.one_board = options.one_board;
  plan_options.run_on = options.run_on;
  plan->pairs = shard_pairs(plan_pairs(plan->scenarios, plan->inventory.boards, plan_options),
                            options.shard.index, options.shard.count);
  return plan;
}

// ---- execute: what the board threads share ----
class Execution {
 public:
  Execution(const RunOptions& options, const Plan& plan, const RunClock& clock, std::ostream& out,
            std::ostream& err)
      : options_(options), plan_(plan), clock_(clock), out_(out), err_(err) {}

  // Secrets, the boards' work, the report writer and the progress display. An exit code: the reports
  // cannot be written (said on err).
  std::optional<ExitCode> prepare();
  // The interceptor, the boards in parallel, the reports; the exit code.
  int execute();

 private:
  bool interrupted() const { return options_.interrupted != nullptr && options_.interrupted->load(); }
  // Nothing new starts after an interrupt or the first failed write to the reports (a full disk).
  bool stop_starting() const { return interrupted() || reports_failed_.load(); }
  void record(report::CaseResult result);
  void record_all_errors(report::ErrorReason code, const std::string& message);
  void record_done(report::CaseResult result);  // shown by the progress display, then recorded
  intercept::InterceptorConfig interceptor_config(const std::filesystem::path& work_dir);
  void run_boards(const SimLaunch& sim);
  void run_board(const std::string& name, const BoardWork& work, const SimLaunch& sim);
  // The pool's work queue: the first unit not yet taken whose pool holds `board` (null: none left).
  const PlannedPair* take_pooled(const scenario::Board& board);
  bool pooled_work_for(const scenario::Board& board);
  // A board takes no more work (its port could not be opened, or vanished): why, for units it leaves.
  void board_gone(const std::string& name, const std::string& why);
  // Pooled units no board took: every board of their pool was gone, or the run stopped starting work.
  void record_leftovers();
  report::CaseResult run_pair(const std::string& name, const BoardWork& work, const PlannedPair& pair,
                              BoardSession& session);
  int exit_code(const std::vector<intercept::Exchange>& strays);

  const RunOptions& options_;
  const Plan& plan_;
  const RunClock& clock_;  // the run's one time base
  std::ostream& out_;
  std::ostream& err_;
  SecretMasker masker_;
  std::map<std::string, BoardWork> work_;
  // run_on: any units not yet taken, in plan order; each board's thread takes the next one it may run
  // once its own units are done. A taken unit is never handed back: it has one result, on the board
  // that took it (see run_board for a board that vanishes).
  std::mutex pool_mutex_;
  std::vector<const PlannedPair*> pooled_;
  std::map<std::string, std::string> gone_;  // board -> why it takes no more work
  std::unique_ptr<report::ReportWriter> writer_;
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<intercept::Interceptor> interceptor_;
  bool terminal_ = false;
  std::mutex results_mutex_;
  std::vector<report::CaseResult> results_;
  bool infrastructure_failed_ = false;
  // The first failed write to the reports: what was written stays valid, and the run exits 3 with the
  // path and reason.
  std::atomic<bool> reports_failed_{false};
  std::string reports_failure_;
};

std::optional<ExitCode> Execution::prepare() {
  scenario::register_secrets(plan_.inventory, masker_);
  masker_.set_enabled(!options_.show_secrets);
  auto work_of = [this](const scenario::Board* board) -> BoardWork& {
    auto& w = work_[board->name];
    if (w.board == nullptr) {
      w.board = board;
      w.token = board->token && board->token->value ? *board->token->value : scenario::generate_token();
      masker_.add(w.token, "token");
    }
    return w;
  };
  for (const auto& p : plan_.pairs) {
    if (p.board != nullptr) work_of(p.board).pairs.push_back(&p);
    if (!p.pooled()) continue;
    for (const auto* board : p.pool)
      work_of(board);
    pooled_.push_back(&p);
  }
  report::RunInfo info;
  info.run_id = make_run_id();
  info.harness_version = full_version();
  if (options_.shard.count > 1) info.shard = fmt::format("{}/{}", options_.shard.index, options_.shard.count);
  info.started = clock_.wall_origin();
  info.properties.push_back({"inventory", options_.inventory.string()});
  std::vector<std::string> board_names;
  for (const auto& [name, w] : work_) {
    report::BoardInfo board_info{name, {{"dialect", w.board->dialect}}};
    board_info.properties.push_back(
        {"port", w.board->simulated() ? "sim:" + w.board->sim_profile->string() : w.board->port});
    info.boards.push_back(std::move(board_info));
    board_names.push_back(name);
  }
  for (const auto& p : plan_.pairs) {
    report::PlannedCase planned{p.scenario->name, p.scenario->file, p.board ? p.board->name : "", {}};
    for (const auto* board : p.pool)
      planned.pool.push_back(board->name);
    info.plan.push_back(std::move(planned));
  }
  report::ReportOptions report_options;
  report_options.output_dir = options_.report_dir;
  report_options.junit_path = options_.junit_path;
  report_options.junit_strict = options_.junit_strict;
  try {
    writer_ = std::make_unique<report::ReportWriter>(report_options, info, masker_);
  } catch (const report::ReportFolderInUse& e) {
    err_ << fmt::format("provhil run: {}\n", e.what());
    return ExitCode::usage;
  } catch (const report::ReportError& e) {
    err_ << fmt::format("provhil run: {}\n", e.what());
    return ExitCode::infrastructure;
  }
  // Live lines redraw in place on a real terminal only; colour follows --color and the environment.
  auto env = ColorEnvironment::of_fd(STDOUT_FILENO);
  if (&out_ != &std::cout) env.is_terminal = false;
  terminal_ = can_redraw(env);
  bool color = use_color(options_.color, env);
  progress_ = std::make_unique<Progress>(out_, terminal_, color, options_.verbosity, board_names);
  return std::nullopt;
}

void Execution::record(report::CaseResult result) {
  bool written = true;
  try {
    writer_->add_case(result);
  } catch (const report::ReportError& e) {
    written = false;
    std::lock_guard lock(results_mutex_);
    if (!reports_failed_.exchange(true)) {
      reports_failure_ = e.what();
      err_ << "provhil run: " << e.what() << "; no new scenario starts\n";
    }
  }
  std::lock_guard lock(results_mutex_);
  if (result.outcome == report::Outcome::error || !written) infrastructure_failed_ = true;
  results_.push_back(std::move(result));
}

void Execution::record_done(report::CaseResult result) {
  progress_->case_done(result, 1);
  record(std::move(result));
}

void Execution::record_all_errors(report::ErrorReason code, const std::string& message) {
  for (const auto& [name, w] : work_)
    for (const auto* p : w.pairs)
      record(error_case(*p, name, code, message, clock_));
  for (const auto* p : pooled_)
    record(error_case(*p, "", code, message, clock_));
}

const PlannedPair* Execution::take_pooled(const scenario::Board& board) {
  std::lock_guard lock(pool_mutex_);
  auto it = std::find_if(pooled_.begin(), pooled_.end(), [&](const PlannedPair* p) {
    return std::find(p->pool.begin(), p->pool.end(), &board) != p->pool.end();
  });
  if (it == pooled_.end()) return nullptr;
  const auto* taken = *it;
  pooled_.erase(it);
  return taken;
}

bool Execution::pooled_work_for(const scenario::Board& board) {
  std::lock_guard lock(pool_mutex_);
  return std::any_of(pooled_.begin(), pooled_.end(), [&](const PlannedPair* p) {
    return std::find(p->pool.begin(), p->pool.end(), &board) != p->pool.end();
  });
}

void Execution::board_gone(const std::string& name, const std::string& why) {
  std::lock_guard lock(pool_mutex_);
  gone_[name] = why;
}

void Execution::record_leftovers() {
  std::vector<const PlannedPair*> left;
  std::map<std::string, std::string> gone;
  {
    std::lock_guard lock(pool_mutex_);
    left.swap(pooled_);
    gone = gone_;
  }
  for (const auto* p : left) {
    // No board ran it: the report names none, as for a scenario no board matches.
    if (interrupted()) {
      record_done(skipped_case(*p, "", report::SkipReason::run_interrupted,
                               "not started: the run was interrupted", clock_));
    } else if (reports_failed_) {
      record_done(skipped_case(*p, "", report::SkipReason::reports_unwritable,
                               "not started: the reports could not be written", clock_));
    } else {
      std::vector<std::string> reasons;
      for (const auto* board : p->pool) {
        auto it = gone.find(board->name);
        reasons.push_back(it != gone.end() ? it->second : fmt::format("board {}: took no work", board->name));
      }
      record_done(error_case(
          *p, "", report::ErrorReason::port,
          fmt::format("no board of its pool ({}) could run it: {}", pool_text(*p), fmt::join(reasons, "; ")),
          clock_));
    }
  }
}

intercept::InterceptorConfig Execution::interceptor_config(const std::filesystem::path& work_dir) {
  intercept::InterceptorConfig config;
  const auto& settings = plan_.inventory.interceptor;
  auto colon = settings.listen.rfind(':');
  config.listen_address = settings.listen.substr(0, colon);
  if (colon != std::string::npos)
    config.port = static_cast<std::uint16_t>(std::stoi(settings.listen.substr(colon + 1)));
  config.advertised_host = settings.advertise;
  config.mode = settings.mode == scenario::InterceptorSettings::Mode::proxy
                    ? intercept::InterceptorConfig::Mode::proxy
                    : intercept::InterceptorConfig::Mode::mock;
  config.upstream_url = settings.upstream;
  // The lab CA: named by flag, environment or inventory, in that order. Simulated boards trust any
  // CA they are handed, so a run on them alone needs none of the lab's (nor a writable home).
  bool all_simulated =
      std::all_of(work_.begin(), work_.end(), [](const auto& w) { return w.second.board->simulated(); });
  if (options_.ca_dir)
    config.ca_dir = *options_.ca_dir;
  else if (auto from_env = intercept::ca_dir_from_environment())
    config.ca_dir = *from_env;
  else if (settings.ca_dir)
    config.ca_dir = *settings.ca_dir;
  else if (all_simulated)
    config.ca_dir = work_dir / "ca";
  config.journal_path = options_.report_dir / "interceptor.jsonl";
  // The interceptor's journal is part of the reports: its failed write stops new work like any other.
  config.on_journal_error = [this](const std::string& error) {
    std::lock_guard lock(results_mutex_);
    if (!reports_failed_.exchange(true)) {
      reports_failure_ = error;
      err_ << "provhil run: " << error << "; no new scenario starts\n";
    }
  };
  config.masker = &masker_;
  return config;
}

int Execution::execute() {
  for (const auto& p : plan_.pairs)
    if (!p.runnable()) record_done(skipped_case(p, "", p.skip_code, p.skip_reason, clock_));
  if (work_.empty()) {
    // Nothing selected is never success: a typo in --filter must not turn CI green.
    progress_->finish();
    try {
      writer_->finish();
    } catch (const report::ReportError& e) {
      err_ << fmt::format("provhil run: the reports are incomplete: {}\n", e.what());
      return to_int(ExitCode::infrastructure);
    }
    print_summary(out_, results_, *writer_, Clock::now() - clock_.steady_origin());
    err_ << "provhil run: nothing ran: "
         << nothing_ran_reason(options_, plan_.scenarios.size(), plan_.inventory) << "\n";
    return to_int(ExitCode::nothing_ran);
  }

  // The run's private folder: simulator state files, AP endpoint files, unmasked raw logs, and the
  // throwaway CA of a run on simulated boards only. What a killed run left (secrets included) goes first.
  remove_dead_work_dirs();
  std::string work_dir_error;
  auto work_dir_holder = WorkDir::create(work_dir_error);
  if (!work_dir_holder) {
    err_ << "provhil run: " << work_dir_error << "\n";
    record_all_errors(report::ErrorReason::work_folder, work_dir_error);
    writer_->finish();
    return to_int(ExitCode::infrastructure);
  }
  const std::filesystem::path work_dir = work_dir_holder->path();
  // One interceptor for the run.
  auto config = interceptor_config(work_dir);
  try {
    try {
      if (config.ca_dir.empty()) config.ca_dir = intercept::default_ca_dir();
      intercept::ensure_lab_ca(config.ca_dir);
    } catch (const intercept::LabCaError& e) {
      throw intercept::LabCaError(fmt::format("{}; {}", e.what(), intercept::ca_dir_options()));
    }
    interceptor_ = std::make_unique<intercept::Interceptor>(config);
  } catch (const std::exception& e) {
    err_ << fmt::format("provhil run: the interceptor could not start: {}\n", e.what());
    record_all_errors(report::ErrorReason::interceptor,
                      fmt::format("the interceptor could not start: {}", e.what()));
    writer_->finish();
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);
    return to_int(ExitCode::infrastructure);
  }
  SimLaunch sim;
  sim.provhil_binary = options_.provhil_binary.empty() ? self_binary() : options_.provhil_binary;
  sim.work_dir = work_dir;
  sim.ca_file = interceptor_->ca_certificate_path();
  sim.interceptor_address = config.listen_address == "0.0.0.0" ? "127.0.0.1" : config.listen_address;
  sim.interceptor_port = interceptor_->port();
  sim.time_scale = options_.sim_time_scale;
  sim.run_origin = clock_.steady_origin();

  run_boards(sim);
  record_leftovers();
  progress_->finish();
  // Requests for tokens nobody owns fail the run.
  auto strays = interceptor_->unowned_unexpected();
  interceptor_.reset();
  work_dir_holder.reset();
  try {
    writer_->finish();
  } catch (const report::ReportError& e) {
    std::lock_guard lock(results_mutex_);
    if (!reports_failed_.exchange(true)) reports_failure_ = e.what();
  }
  print_summary(out_, results_, *writer_, Clock::now() - clock_.steady_origin());
  return exit_code(strays);
}

// Boards in parallel, one thread each: a board runs its own units in order, then takes pooled units
// from the queue until none is left that it may run (a work queue with one worker per board).
void Execution::run_boards(const SimLaunch& sim) {
  std::vector<std::thread> threads;
  for (const auto& [board_name, board_work] : work_)
    threads.emplace_back([this, &sim, &name = board_name, &w = board_work] { run_board(name, w, sim); });
  // On a terminal the live lines' elapsed times move once a second; the ticker stops with the boards.
  std::mutex ticker_mutex;
  std::condition_variable ticker_wake;
  bool boards_done = false;
  std::thread ticker;
  if (terminal_) {
    ticker = std::thread([&] {
      std::unique_lock lock(ticker_mutex);
      while (!ticker_wake.wait_for(lock, std::chrono::seconds(1), [&] { return boards_done; }))
        progress_->tick();
    });
  }
  for (auto& t : threads)
    t.join();
  {
    std::lock_guard lock(ticker_mutex);
    boards_done = true;
  }
  ticker_wake.notify_all();
  if (ticker.joinable()) ticker.join();
}

void Execution::run_board(const std::string& name, const BoardWork& w, const SimLaunch& sim) {
  std::unique_ptr<BoardSession> session;
  try {
    BoardWait wait;
    wait.limit = options_.wait_for_boards;
    // A board that serves pools only stops waiting once the other boards have taken all its pools' work.
    wait.interrupted = [this, &w] {
      return interrupted() || (w.pairs.empty() && !pooled_work_for(*w.board));
    };
    wait.on_waiting = [this, name](const std::string& holders) { progress_->board_waiting(name, holders); };
    session = open_board_session(*w.board, sim, masker_, wait);
    if (!session) {
      // Interrupted, or (a board of pools only) the other boards did all the work it waited for.
      for (const auto* p : w.pairs)
        record_done(skipped_case(*p, name, report::SkipReason::run_interrupted,
                                 "not started: the run was interrupted while waiting for the board", clock_));
      board_gone(name, fmt::format("board {}: held by another process all the while", name));
      progress_->board_idle(name);
      return;
    }
  } catch (const std::exception& e) {
    auto why = fmt::format("board {}: could not open its port: {}", name, e.what());
    for (const auto* p : w.pairs)
      record_done(error_case(*p, name, report::ErrorReason::port, why, clock_));
    board_gone(name, why);
    if (w.pairs.empty()) {
      // A board of pools only: the others do its share, so this is no case's error; say it all the same.
      std::lock_guard lock(results_mutex_);
      err_ << fmt::format("provhil run: warning: {}; its pool's scenarios run on the other boards\n",
                          masker_.mask(why));
    }
    return;
  }
  // Its own units first (only this board can run them), then the pool's, one at a time.
  std::size_t next_own = 0;
  bool take_pool_work = true;
  for (;;) {
    // A board whose port vanished runs nothing more: the case it was running is already its error,
    // its own units become errors too, and the pool's units stay in the queue for the other boards.
    if (auto gone = session->console().vanished()) {
      auto why = fmt::format("board {}: its port vanished: {}", name, *gone);
      board_gone(name, why);
      for (; next_own < w.pairs.size(); ++next_own)
        record_done(error_case(*w.pairs[next_own], name, report::ErrorReason::port,
                               why + " (before this scenario started)", clock_));
      break;
    }
    const PlannedPair* p = nullptr;
    if (next_own < w.pairs.size())
      p = w.pairs[next_own++];
    else if (take_pool_work && !stop_starting())
      p = take_pooled(*w.board);  // after a stop, the queue's units are skipped once, at the end
    if (p == nullptr) break;
    // A pooled unit this board did not start names no board, like the leftovers.
    std::string shown = p->pooled() ? std::string() : name;
    // Whatever goes wrong with one unit (a full disk, a report folder gone) becomes that unit's error
    // and the board goes on: an exception must not end the process before the reports are written.
    try {
      if (stop_starting()) {
        if (!interrupted()) {
          record_done(skipped_case(*p, shown, report::SkipReason::reports_unwritable,
                                   "not started: the reports could not be written", clock_));
          continue;
        }
        record_done(skipped_case(*p, shown, report::SkipReason::run_interrupted,
                                 "not started: the run was interrupted", clock_));
        continue;
      }
      auto result = run_pair(name, w, *p, *session);
      // A case that ended in port trouble (typed: ErrorReason::port; its port vanished, a write failed)
      // leaves the pool's work to the other boards, even before the console has noticed a vanish.
      if (take_pool_work && result.outcome == report::Outcome::error &&
          result.error_code == report::ErrorReason::port) {
        take_pool_work = false;
        board_gone(name,
                   fmt::format("board {}: port trouble in {}: {}", name, p->scenario->name, result.message));
      }
      record(std::move(result));
    } catch (const std::exception& e) {
      record_done(error_case(*p, name, report::ErrorReason::internal,
                             masker_.mask(fmt::format("internal error: {}", e.what())), clock_));
    }
  }
  progress_->board_idle(name);
}

// One pair, run again after a failure up to --retries times; earlier attempts keep their evidence.
report::CaseResult Execution::run_pair(const std::string& name, const BoardWork& w, const PlannedPair& pair,
                                       BoardSession& session) {
  auto case_dir = writer_->case_dir(name, pair.scenario->name);
  std::vector<report::Attempt> earlier;
  report::CaseResult result;
  for (int attempt = 1;; ++attempt) {
    progress_->case_started(name, pair.scenario->name);
    CaseInput input;
    input.scenario = pair.scenario;
    input.inventory = &plan_.inventory;
    input.dialect = plan_.dialects.find(w.board->dialect);  // null for dialect auto
    input.dialects = &plan_.dialects;
    input.session = &session;
    input.interceptor = interceptor_.get();
    input.masker = &masker_;
    input.board_token = w.token;
    input.owner =
        fmt::format("{} [{}]{}", pair.scenario->name, name, attempt > 1 ? fmt::format(" #{}", attempt) : "");
    input.case_dir = case_dir;
    input.file_prefix = report::attachment_prefix(name, pair.scenario->name);
    input.interrupted = options_.interrupted;
    input.clock = &clock_;
    input.on_step_start = [this, name](const std::string& label) { progress_->step_started(name, label); };
    input.on_step_done = [this, name](const report::StepResult& step) { progress_->step_done(name, step); };
    if (options_.verbosity == Verbosity::verbose)
      input.on_serial_line = [this, name](const std::string& line) { progress_->serial_line(name, line); };
    input.raw_log = session.raw_log_path();
    result = run_case(input);
    copy_masked(input.raw_log, result.attachments.raw_serial_log, masker_);
    progress_->case_done(result, attempt);
    bool failed = result.outcome == report::Outcome::failed || result.outcome == report::Outcome::error;
    if (!failed || attempt > options_.retries || stop_starting()) break;
    // Keep this attempt's evidence beside the next one's, under names of its own (the final attempt's
    // files take the plain names; attachments are keyed by base name).
    auto keep = case_dir / fmt::format("attempt-{}", attempt);
    std::filesystem::create_directories(keep);
    report::Attempt previous{
        result.outcome, result.message, result.detail, result.started, result.duration, {}, {}};
    std::string renamed_prefix = fmt::format("{}attempt-{}.", input.file_prefix, attempt);
    for (const auto& file : {result.attachments.text_log, result.attachments.raw_serial_log,
                             result.attachments.exchanges, result.attachments.variables}) {
      if (file.empty()) continue;
      std::string base = file.filename().string();
      if (base.rfind(input.file_prefix, 0) == 0) base = base.substr(input.file_prefix.size());
      auto target = keep / (renamed_prefix + base);
      std::error_code ec;
      std::filesystem::rename(file, target, ec);
      if (!ec) previous.files.push_back(target);
      if (!ec && file == result.attachments.text_log) previous.text_log = target;
    }
    earlier.push_back(std::move(previous));
  }
  result.earlier_attempts = std::move(earlier);
  return result;
}

// ---- report: the exit code, from outcomes and reasons ----
int Execution::exit_code(const std::vector<intercept::Exchange>& strays) {
  if (interrupted()) return to_int(ExitCode::interrupted);
  if (reports_failed_) {
    err_ << fmt::format("provhil run: the reports are incomplete: {}\n", reports_failure_);
    return to_int(ExitCode::infrastructure);
  }
  bool any_failed = false;
  for (const auto& x : strays) {
    // Connections that never got as far as a request (a board reset mid-handshake) are only journaled.
    if (x.kind != intercept::ExchangeKind::provision && x.kind != intercept::ExchangeKind::login) continue;
    err_ << "provhil run: a request for a token no scenario owns: " << x.to_json_line(&masker_) << "\n";
    any_failed = true;
  }
  for (const auto& r : results_) {
    if (r.outcome == report::Outcome::failed) any_failed = true;
    if (options_.fail_on_flaky && r.outcome == report::Outcome::passed && !r.earlier_attempts.empty()) {
      err_ << fmt::format("provhil run: {} [{}] passed only on attempt {} (--fail-on-flaky)\n", r.scenario,
                          r.board, r.earlier_attempts.size() + 1);
      any_failed = true;
    }
    if (r.outcome == report::Outcome::skipped && r.skip_code == report::SkipReason::setup_failed)
      any_failed = true;
  }
  if (any_failed) return to_int(ExitCode::failed);
  if (infrastructure_failed_) return to_int(ExitCode::infrastructure);
  return to_int(ExitCode::passed);
}

}  // namespace

int run(const RunOptions& options, std::ostream& out, std::ostream& err) {
  const RunClock clock;  // the run's one time base
  auto planned = make_plan(options, err);
  if (const auto* code = std::get_if<ExitCode>(&planned)) return to_int(*code);
  const auto& plan = *std::get<std::unique_ptr<Plan>>(planned);
  if (options.list_only) {
    for (const auto& p : plan.pairs) {
      out << fmt::format("{}  {}  {}\n", p.scenario->file.string(), p.scenario->name,
                         p.board      ? "[" + p.board->name + "]"
                         : p.pooled() ? "[" + pool_text(p) + "]"
                                      : "(skipped: " + p.skip_reason + ")");
    }
    return to_int(ExitCode::passed);
  }
  Execution execution(options, plan, clock, out, err);
  if (auto code = execution.prepare()) return to_int(*code);
  return execution.execute();
}

}  // namespace provhil::runner
