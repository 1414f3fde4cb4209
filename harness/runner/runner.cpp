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

#include <fmt/format.h>

#include "common/exit_codes.hpp"
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

report::CaseResult skipped_case(const PlannedPair& pair, const std::string& board,
                                const std::string& reason) {
  report::CaseResult result;
  result.scenario = pair.scenario->name;
  result.scenario_file = pair.scenario->file;
  result.board = board;
  result.outcome = report::Outcome::skipped;
  result.skip_reason = reason;
  result.message = reason;
  result.started = std::chrono::system_clock::now();
  return result;
}

report::CaseResult error_case(const PlannedPair& pair, const std::string& message) {
  report::CaseResult result = skipped_case(pair, pair.board->name, {});
  result.outcome = report::Outcome::error;
  result.skip_reason.clear();
  result.message = message;
  return result;
}

struct BoardWork {
  const scenario::Board* board = nullptr;
  std::string token;
  std::vector<const PlannedPair*> pairs;
};

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
  for (const auto& r : results) {
    ++counts[r.outcome];
    std::string flaky = r.outcome == report::Outcome::passed && !r.earlier_attempts.empty() ? " (flaky)" : "";
    out << fmt::format("{:<{}}  {:<{}}  {:<6} {:>7.2f}s{}\n", r.scenario, width_s, r.board, width_b,
                       outcome_word(r.outcome), std::chrono::duration<double>(r.duration).count(), flaky);
  }
  out << fmt::format("\n{} passed, {} failed, {} errors, {} skipped in {:.1f}s\n",
                     counts[report::Outcome::passed], counts[report::Outcome::failed],
                     counts[report::Outcome::error], counts[report::Outcome::skipped],
                     std::chrono::duration<double>(wall).count());
  out << fmt::format("Reports: {} and {}\n", writer.junit_path().string(), writer.results_path().string());
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

int run(const RunOptions& options, std::ostream& out, std::ostream& err) {
  auto run_started = Clock::now();
  // ---- load everything; any error stops the run before a board is touched ----
  scenario::InventoryOptions inventory_options;
  inventory_options.require_secrets = true;
  auto inventory_loaded = scenario::load_inventory(options.inventory, inventory_options);
  print_diagnostics(err, inventory_loaded.diagnostics);
  if (!inventory_loaded.ok()) {
    err << fmt::format("provhil run: the inventory {} is invalid\n", options.inventory.string());
    return to_int(ExitCode::usage);
  }
  const auto& inventory = *inventory_loaded.value;
  auto dialects_loaded = scenario::load_dialects(inventory.dialects_dir);
  print_diagnostics(err, dialects_loaded.diagnostics);
  if (!dialects_loaded.ok()) return to_int(ExitCode::usage);
  const auto& dialects = *dialects_loaded.value;
  auto inventory_diagnostics = scenario::check_inventory(inventory, dialects);
  print_diagnostics(err, inventory_diagnostics);
  if (scenario::has_errors(inventory_diagnostics)) return to_int(ExitCode::usage);

  std::vector<scenario::Diagnostic> diagnostics;
  auto files = scenario::find_scenario_files(options.paths, diagnostics);
  std::vector<scenario::Scenario> scenarios;
  for (const auto& file : files) {
    if (scenario::detect_file_kind(file) != scenario::FileKind::scenario) continue;
    auto loaded = scenario::load_scenario(file);
    diagnostics.insert(diagnostics.end(), loaded.diagnostics.begin(), loaded.diagnostics.end());
    if (!loaded.value) continue;
    for (auto& d : scenario::check_scenario(*loaded.value, inventory, dialects)) {
      // A scenario no board of this inventory can run is reported as skipped, not as an invalid file.
      if (d.message.find("matches no board") != std::string::npos) continue;
      diagnostics.push_back(std::move(d));
    }
    scenarios.push_back(std::move(*loaded.value));
  }
  print_diagnostics(err, diagnostics);
  if (scenario::has_errors(diagnostics)) {
    err << "provhil run: invalid scenario files; nothing was run (provhil validate checks them)\n";
    return to_int(ExitCode::usage);
  }
  if (scenarios.empty()) {
    err << "provhil run: no scenario files found\n";
    return to_int(ExitCode::usage);
  }

  auto pairs = shard_pairs(plan_pairs(scenarios, inventory.boards, options.filters, options.one_board),
                           options.shard.index, options.shard.count);
  if (options.list_only) {
    for (const auto& p : pairs) {
      out << fmt::format("{}  {}  {}\n", p.scenario->file.string(), p.scenario->name,
                         p.board ? "[" + p.board->name + "]" : "(skipped: " + p.skip_reason + ")");
    }
    return to_int(ExitCode::passed);
  }

  // ---- secrets, reports ----
  SecretMasker masker;
  scenario::register_secrets(inventory, masker);
  masker.set_enabled(!options.show_secrets);

  std::map<std::string, BoardWork> work;
  for (const auto& p : pairs) {
    if (p.board == nullptr) continue;
    auto& w = work[p.board->name];
    if (w.board == nullptr) {
      w.board = p.board;
      w.token = p.board->token && p.board->token->value ? *p.board->token->value : scenario::generate_token();
      masker.add(w.token, "token");
    }
    w.pairs.push_back(&p);
  }

  report::RunInfo info;
  info.run_id = make_run_id();
  info.harness_version = full_version();
  if (options.shard.count > 1) info.shard = fmt::format("{}/{}", options.shard.index, options.shard.count);
  info.started = std::chrono::system_clock::now();
  info.properties.push_back({"inventory", options.inventory.string()});
  for (const auto& [name, w] : work) {
    report::BoardInfo board_info{name, {{"dialect", w.board->dialect}}};
    board_info.properties.push_back(
        {"port", w.board->simulated() ? "sim:" + w.board->sim_profile->string() : w.board->port});
    info.boards.push_back(std::move(board_info));
  }
  for (const auto& p : pairs)
    info.plan.push_back({p.scenario->name, p.scenario->file, p.board ? p.board->name : ""});
  report::ReportOptions report_options;
  report_options.output_dir = options.report_dir;
  report_options.junit_path = options.junit_path;
  std::unique_ptr<report::ReportWriter> writer;
  try {
    writer = std::make_unique<report::ReportWriter>(report_options, info, masker);
  } catch (const report::ReportFolderInUse& e) {
    err << fmt::format("provhil run: {}\n", e.what());
    return to_int(ExitCode::usage);
  } catch (const report::ReportError& e) {
    err << fmt::format("provhil run: {}\n", e.what());
    return to_int(ExitCode::infrastructure);
  }

  std::vector<std::string> board_names;
  for (const auto& [name, w] : work)
    board_names.push_back(name);
  bool terminal = ::isatty(STDOUT_FILENO) != 0 && &out == &std::cout;
  bool color = terminal && std::getenv("NO_COLOR") == nullptr;
  Progress progress(out, terminal, color, options.verbosity, board_names);

  std::mutex results_mutex;
  std::vector<report::CaseResult> results;
  bool infrastructure_failed = false;
  // The first failed write to the reports (a full disk): nothing new starts, as after an interrupt,
  // what was written stays valid, and the run exits 3 with the path and reason.
  std::atomic<bool> reports_failed{false};
  std::string reports_failure;
  auto record = [&](report::CaseResult result) {
    bool written = true;
    try {
      writer->add_case(result);
    } catch (const report::ReportError& e) {
      written = false;
      std::lock_guard lock(results_mutex);
      if (!reports_failed.exchange(true)) {
        reports_failure = e.what();
        err << "provhil run: " << e.what() << "; no new scenario starts\n";
      }
    }
    std::lock_guard lock(results_mutex);
    if (result.outcome == report::Outcome::error || !written) infrastructure_failed = true;
    results.push_back(std::move(result));
  };
  for (const auto& p : pairs) {
    if (p.board == nullptr) {
      auto result = skipped_case(p, "", p.skip_reason);
      progress.case_done(result, 1);
      record(std::move(result));
    }
  }

  // The run's private folder: simulator state files, AP endpoint files, unmasked raw logs, and the
  // throwaway CA of a run on simulated boards only. What a killed run left (secrets included) goes first.
  remove_dead_work_dirs();
  std::string work_dir_error;
  auto work_dir_holder = WorkDir::create(work_dir_error);
  if (!work_dir_holder) {
    err << "provhil run: " << work_dir_error << "\n";
    for (const auto& [name, w] : work)
      for (const auto* p : w.pairs)
        record(error_case(*p, work_dir_error));
    writer->finish();
    return to_int(ExitCode::infrastructure);
  }
  const std::filesystem::path work_dir = work_dir_holder->path();

  // ---- the interceptor: one for the run ----
  intercept::InterceptorConfig config;
  {
    const auto& settings = inventory.interceptor;
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
        std::all_of(work.begin(), work.end(), [](const auto& w) { return w.second.board->simulated(); });
    if (options.ca_dir)
      config.ca_dir = *options.ca_dir;
    else if (auto from_env = intercept::ca_dir_from_environment())
      config.ca_dir = *from_env;
    else if (settings.ca_dir)
      config.ca_dir = *settings.ca_dir;
    else if (all_simulated)
      config.ca_dir = work_dir / "ca";
    config.journal_path = options.report_dir / "interceptor.jsonl";
    config.masker = &masker;
  }
  std::unique_ptr<intercept::Interceptor> interceptor;
  try {
    try {
      if (config.ca_dir.empty()) config.ca_dir = intercept::default_ca_dir();
      intercept::ensure_lab_ca(config.ca_dir);
    } catch (const intercept::LabCaError& e) {
      throw intercept::LabCaError(fmt::format("{}; {}", e.what(), intercept::ca_dir_options()));
    }
    interceptor = std::make_unique<intercept::Interceptor>(config);
  } catch (const std::exception& e) {
    err << fmt::format("provhil run: the interceptor could not start: {}\n", e.what());
    for (const auto& [name, w] : work)
      for (const auto* p : w.pairs)
        record(error_case(*p, fmt::format("the interceptor could not start: {}", e.what())));
    writer->finish();
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);
    return to_int(ExitCode::infrastructure);
  }

  // ---- boards in parallel, each board's pairs in order ----
  SimLaunch sim;
  sim.provhil_binary = options.provhil_binary.empty() ? self_binary() : options.provhil_binary;
  sim.work_dir = work_dir;
  sim.ca_file = interceptor->ca_certificate_path();
  sim.interceptor_address = config.listen_address == "0.0.0.0" ? "127.0.0.1" : config.listen_address;
  sim.interceptor_port = interceptor->port();
  sim.time_scale = options.sim_time_scale;

  auto interrupted = [&] { return options.interrupted != nullptr && options.interrupted->load(); };
  auto stop_starting = [&] { return interrupted() || reports_failed.load(); };
  std::vector<std::thread> threads;
  for (auto& [board_name, board_work] : work) {
    threads.emplace_back([&, name = board_name, &w = board_work] {
      std::unique_ptr<BoardSession> session;
      try {
        BoardWait wait;
        wait.limit = options.wait_for_boards;
        wait.interrupted = interrupted;
        wait.on_waiting = [&progress, name](const std::string& holders) {
          progress.board_waiting(name, holders);
        };
        session = open_board_session(*w.board, sim, masker, wait);
        if (!session) {
          for (const auto* p : w.pairs) {
            auto result =
                skipped_case(*p, name, "not started: the run was interrupted while waiting for the board");
            progress.case_done(result, 1);
            record(std::move(result));
          }
          progress.board_idle(name);
          return;
        }
      } catch (const std::exception& e) {
        for (const auto* p : w.pairs) {
          auto result = error_case(*p, fmt::format("board {}: could not open its port: {}", name, e.what()));
          progress.case_done(result, 1);
          record(std::move(result));
        }
        return;
      }
      for (const auto* p : w.pairs) {
        // Whatever goes wrong with one pair (a full disk, a report folder gone) becomes that pair's error
        // and the board goes on: an exception must not end the process before the reports are written.
        try {
          if (stop_starting()) {
            auto result = skipped_case(*p, name,
                                       interrupted() ? "not started: the run was interrupted"
                                                     : "not started: the reports could not be written");
            progress.case_done(result, 1);
            record(std::move(result));
            continue;
          }
          auto case_dir = writer->case_dir(name, p->scenario->name);
          std::vector<report::Attempt> earlier;
          report::CaseResult result;
          for (int attempt = 1;; ++attempt) {
            progress.case_started(name, p->scenario->name);
            CaseInput input;
            input.scenario = p->scenario;
            input.inventory = &inventory;
            input.dialect = dialects.find(w.board->dialect);  // null for dialect auto
            input.dialects = &dialects;
            input.session = session.get();
            input.interceptor = interceptor.get();
            input.masker = &masker;
            input.board_token = w.token;
            input.owner = fmt::format("{} [{}]{}", p->scenario->name, name,
                                      attempt > 1 ? fmt::format(" #{}", attempt) : "");
            input.case_dir = case_dir;
            input.interrupted = options.interrupted;
            input.on_step_start = [&progress, name](const std::string& label) {
              progress.step_started(name, label);
            };
            input.on_step_done = [&progress, name](const report::StepResult& step) {
              progress.step_done(name, step);
            };
            if (options.verbosity == Verbosity::verbose) {
              input.on_serial_line = [&progress, name](const std::string& line) {
                progress.serial_line(name, line);
              };
            }
            input.raw_log = session->raw_log_path();
            result = run_case(input);
            copy_masked(input.raw_log, result.attachments.raw_serial_log, masker);
            progress.case_done(result, attempt);
            bool failed =
                result.outcome == report::Outcome::failed || result.outcome == report::Outcome::error;
            if (!failed || attempt > options.retries || stop_starting()) break;
            // Keep this attempt's evidence beside the next one's.
            auto keep = case_dir / fmt::format("attempt-{}", attempt);
            std::filesystem::create_directories(keep);
            report::Attempt previous{result.outcome, result.message,  result.detail,
                                     result.started, result.duration, {}};
            for (const auto& file : {result.attachments.raw_serial_log, result.attachments.text_log,
                                     result.attachments.exchanges, result.attachments.variables}) {
              std::error_code ec;
              if (!file.empty()) std::filesystem::rename(file, keep / file.filename(), ec);
            }
            previous.text_log = keep / result.attachments.text_log.filename();
            earlier.push_back(std::move(previous));
          }
          result.earlier_attempts = std::move(earlier);
          record(std::move(result));
        } catch (const std::exception& e) {
          auto result = error_case(*p, masker.mask(fmt::format("internal error: {}", e.what())));
          progress.case_done(result, 1);
          record(std::move(result));
        }
      }
      progress.board_idle(name);
    });
  }
  {
    // On a terminal the live lines' elapsed times move once a second; the ticker stops with the boards.
    std::mutex ticker_mutex;
    std::condition_variable ticker_wake;
    bool boards_done = false;
    std::thread ticker;
    if (terminal) {
      ticker = std::thread([&] {
        std::unique_lock lock(ticker_mutex);
        while (!ticker_wake.wait_for(lock, std::chrono::seconds(1), [&] { return boards_done; }))
          progress.tick();
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
  progress.finish();
  // Requests for tokens nobody owns fail the run.
  auto strays = interceptor->unowned_unexpected();
  interceptor.reset();
  work_dir_holder.reset();

  try {
    writer->finish();
  } catch (const report::ReportError& e) {
    std::lock_guard lock(results_mutex);
    if (!reports_failed.exchange(true)) reports_failure = e.what();
  }
  print_summary(out, results, *writer, Clock::now() - run_started);

  if (interrupted()) return to_int(ExitCode::interrupted);
  if (reports_failed) {
    err << fmt::format("provhil run: the reports are incomplete: {}\n", reports_failure);
    return to_int(ExitCode::infrastructure);
  }
  bool any_failed = false;
  for (const auto& x : strays) {
    // Connections that never got as far as a request (a board reset mid-handshake) are only journaled.
    if (x.kind != intercept::ExchangeKind::provision && x.kind != intercept::ExchangeKind::login) continue;
    err << "provhil run: a request for a token no scenario owns: " << x.to_json_line(&masker) << "\n";
    any_failed = true;
  }
  for (const auto& r : results) {
    if (r.outcome == report::Outcome::failed) any_failed = true;
    if (r.outcome == report::Outcome::skipped && r.skip_reason.rfind("setup failed", 0) == 0)
      any_failed = true;
  }
  if (any_failed) return to_int(ExitCode::failed);
  if (infrastructure_failed) return to_int(ExitCode::infrastructure);
  return to_int(ExitCode::passed);
}

}  // namespace provhil::runner
