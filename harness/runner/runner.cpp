#include "runner/runner.hpp"

#include <unistd.h>

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
#include "common/run_clock.hpp"
#include "common/version.hpp"
#include "intercept/interceptor.hpp"
#include "report/writer.hpp"
#include "runner/board_session.hpp"
#include "runner/case_runner.hpp"
#include "runner/plan.hpp"
#include "runner/progress.hpp"
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

report::CaseResult skipped_case(const PlannedPair& pair, const std::string& board, const std::string& reason,
                                const RunClock& clock) {
  report::CaseResult result;
  result.scenario = pair.scenario->name;
  result.scenario_file = pair.scenario->file;
  result.board = board;
  result.outcome = report::Outcome::skipped;
  result.skip_reason = reason;
  result.message = reason;
  result.started = clock.wall_now();
  return result;
}

report::CaseResult error_case(const PlannedPair& pair, const std::string& message, const RunClock& clock) {
  report::CaseResult result = skipped_case(pair, pair.board->name, {}, clock);
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
  int flaky_count = 0;
  for (const auto& r : results) {
    ++counts[r.outcome];
    bool is_flaky = r.outcome == report::Outcome::passed && !r.earlier_attempts.empty();
    flaky_count += is_flaky ? 1 : 0;
    std::string flaky = is_flaky ? " (flaky)" : "";
    out << fmt::format("{:<{}}  {:<{}}  {:<6} {:>7.2f}s{}\n", r.scenario, width_s, r.board, width_b,
                       outcome_word(r.outcome), std::chrono::duration<double>(r.duration).count(), flaky);
  }
  out << fmt::format("\n{} passed ({} flaky), {} failed, {} errors, {} skipped in {:.1f}s\n",
                     counts[report::Outcome::passed], flaky_count, counts[report::Outcome::failed],
                     counts[report::Outcome::error], counts[report::Outcome::skipped],
                     std::chrono::duration<double>(wall).count());
  out << fmt::format("Reports: {} and {}\n", writer.junit_path().string(), writer.results_path().string());
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
    return fmt::format("shard {}/{} got none of the runnable pairs (fewer pairs than shards?)",
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

int run(const RunOptions& options, std::ostream& out, std::ostream& err) {
  const RunClock clock;  // the run's one time base
  auto run_started = clock.steady_origin();
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
  info.started = clock.wall_origin();
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
  report_options.junit_strict = options.junit_strict;
  std::unique_ptr<report::ReportWriter> writer;
  try {
    writer = std::make_unique<report::ReportWriter>(report_options, info, masker);
  } catch (const report::ReportError& e) {
    err << fmt::format("provhil run: {}\n", e.what());
    return to_int(ExitCode::infrastructure);
  }

  std::vector<std::string> board_names;
  for (const auto& [name, w] : work)
    board_names.push_back(name);
  // Live lines redraw in place on a real terminal only; colour follows --color and the environment.
  auto env = ColorEnvironment::of_fd(STDOUT_FILENO);
  if (&out != &std::cout) env.is_terminal = false;
  bool terminal = can_redraw(env);
  bool color = use_color(options.color, env);
  Progress progress(out, terminal, color, options.verbosity, board_names);

  std::mutex results_mutex;
  std::vector<report::CaseResult> results;
  bool infrastructure_failed = false;
  auto record = [&](report::CaseResult result) {
    bool written = true;
    try {
      writer->add_case(result);
    } catch (const report::ReportError& e) {
      // The run goes on (the summary still shows the case); the exit code says the report is incomplete.
      written = false;
      std::lock_guard lock(results_mutex);
      err << "provhil run: " << e.what() << "\n";
    }
    std::lock_guard lock(results_mutex);
    if (result.outcome == report::Outcome::error || !written) infrastructure_failed = true;
    results.push_back(std::move(result));
  };
  for (const auto& p : pairs) {
    if (p.board == nullptr) {
      auto result = skipped_case(p, "", p.skip_reason, clock);
      progress.case_done(result, 1);
      record(std::move(result));
    }
  }
  if (work.empty()) {
    // Nothing selected is never success: a typo in --filter must not turn CI green.
    progress.finish();
    writer->finish();
    print_summary(out, results, *writer, Clock::now() - run_started);
    err << "provhil run: nothing ran: " << nothing_ran_reason(options, scenarios.size(), inventory) << "\n";
    return to_int(ExitCode::nothing_ran);
  }

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
    if (settings.ca_dir) config.ca_dir = *settings.ca_dir;
    config.journal_path = options.report_dir / "interceptor.jsonl";
    config.masker = &masker;
  }
  std::unique_ptr<intercept::Interceptor> interceptor;
  try {
    interceptor = std::make_unique<intercept::Interceptor>(config);
  } catch (const std::exception& e) {
    err << fmt::format("provhil run: the interceptor could not start: {}\n", e.what());
    for (const auto& [name, w] : work)
      for (const auto* p : w.pairs)
        record(error_case(*p, fmt::format("the interceptor could not start: {}", e.what()), clock));
    writer->finish();
    return to_int(ExitCode::infrastructure);
  }

  // ---- boards in parallel, each board's pairs in order ----
  // The run's private folder: simulator state files, AP endpoint files, unmasked raw logs.
  char temp_pattern[] = "/tmp/provhil-run-XXXXXX";
  if (::mkdtemp(temp_pattern) == nullptr) {
    std::string why =
        fmt::format("cannot create a work folder like {}: {}", temp_pattern, std::strerror(errno));
    err << "provhil run: " << why << "\n";
    for (const auto& [name, w] : work)
      for (const auto* p : w.pairs)
        record(error_case(*p, why, clock));
    writer->finish();
    return to_int(ExitCode::infrastructure);
  }
  const std::filesystem::path work_dir = temp_pattern;
  SimLaunch sim;
  sim.provhil_binary = options.provhil_binary.empty() ? self_binary() : options.provhil_binary;
  sim.work_dir = work_dir;
  sim.ca_file = interceptor->ca_certificate_path();
  sim.interceptor_address = config.listen_address == "0.0.0.0" ? "127.0.0.1" : config.listen_address;
  sim.interceptor_port = interceptor->port();
  sim.time_scale = options.sim_time_scale;
  sim.run_origin = clock.steady_origin();

  auto interrupted = [&] { return options.interrupted != nullptr && options.interrupted->load(); };
  std::vector<std::thread> threads;
  for (auto& [board_name, board_work] : work) {
    threads.emplace_back([&, name = board_name, &w = board_work] {
      std::unique_ptr<BoardSession> session;
      try {
        session = std::make_unique<BoardSession>(*w.board, sim, masker);
      } catch (const std::exception& e) {
        for (const auto* p : w.pairs) {
          auto result =
              error_case(*p, fmt::format("board {}: could not open its port: {}", name, e.what()), clock);
          progress.case_done(result, 1);
          record(std::move(result));
        }
        return;
      }
      for (const auto* p : w.pairs) {
        // Whatever goes wrong with one pair (a full disk, a report folder gone) becomes that pair's error
        // and the board goes on: an exception must not end the process before the reports are written.
        try {
          if (interrupted()) {
            auto result = skipped_case(*p, name, "not started: the run was interrupted", clock);
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
            input.file_prefix = report::attachment_prefix(name, p->scenario->name);
            input.interrupted = options.interrupted;
            input.clock = &clock;
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
            if (!failed || attempt > options.retries || interrupted()) break;
            // Keep this attempt's evidence beside the next one's, under names of its own (the final
            // attempt's files take the plain names; attachments are keyed by base name).
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
          record(std::move(result));
        } catch (const std::exception& e) {
          auto result = error_case(*p, masker.mask(fmt::format("internal error: {}", e.what())), clock);
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
  std::error_code ignored;
  std::filesystem::remove_all(work_dir, ignored);

  writer->finish();
  print_summary(out, results, *writer, Clock::now() - run_started);

  if (interrupted()) return to_int(ExitCode::interrupted);
  bool any_failed = false;
  for (const auto& x : strays) {
    // Connections that never got as far as a request (a board reset mid-handshake) are only journaled.
    if (x.kind != intercept::ExchangeKind::provision && x.kind != intercept::ExchangeKind::login) continue;
    err << "provhil run: a request for a token no scenario owns: " << x.to_json_line(&masker) << "\n";
    any_failed = true;
  }
  for (const auto& r : results) {
    if (r.outcome == report::Outcome::failed) any_failed = true;
    if (options.fail_on_flaky && r.outcome == report::Outcome::passed && !r.earlier_attempts.empty()) {
      err << fmt::format("provhil run: {} [{}] passed only on attempt {} (--fail-on-flaky)\n", r.scenario,
                         r.board, r.earlier_attempts.size() + 1);
      any_failed = true;
    }
    if (r.outcome == report::Outcome::skipped && r.skip_reason.rfind("setup failed", 0) == 0)
      any_failed = true;
  }
  if (any_failed) return to_int(ExitCode::failed);
  if (infrastructure_failed) return to_int(ExitCode::infrastructure);
  return to_int(ExitCode::passed);
}

}  // namespace provhil::runner
