// Writes the report of a synthetic run and prints its time and peak RSS. Not a test.
//   bench_report [--cases N] [--log-mb MB] [--boards B] [--dir DIR] [--keep]
// The logs (MB in all, spread over the cases) are written first and not timed; then B threads, one
// per board, add the cases as a runner would, and finish() writes results.json. Target for
// 10,000 cases and 1 GB of logs: at most 5 s and 64 MB peak RSS.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/json/value.hpp>

#include "report/writer.hpp"

namespace fs = std::filesystem;
using namespace provhil::report;

namespace {

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// One text log of `bytes`, timestamped lines like a board's, with ANSI colours and a token.
void write_log(const fs::path& path, std::size_t bytes, int seed) {
  std::ofstream out(path, std::ios::binary);
  std::string line;
  std::size_t written = 0;
  for (int i = 0; written < bytes; ++i) {
    line = fmt::format("[t+{:7}ms] \x1B[0;32m[{}] WAIT_CONFIG => CONNECTING_NET token=BenchToken{}\x1B[0m\n",
                       i * 10, seed, seed);
    out << line;
    written += line.size();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t cases = 10000;
  std::size_t log_mb = 1024;
  int boards = 4;
  fs::path dir = fs::temp_directory_path() / "provhil-bench-report";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_report: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--cases") {
      cases = std::stoul(next());
    } else if (arg == "--log-mb") {
      log_mb = std::stoul(next());
    } else if (arg == "--boards") {
      boards = std::stoi(next());
    } else if (arg == "--dir") {
      dir = next();
    } else if (arg == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench_report [--cases N] [--log-mb MB] [--boards B] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  if (cases == 0 || boards < 1) {
    std::fprintf(stderr, "bench_report: --cases and --boards must be positive\n");
    return 2;
  }
  fs::remove_all(dir);
  fs::create_directories(dir / "logs");
  std::size_t per_log = log_mb * 1024 * 1024 / cases;
  auto setup_start = std::chrono::steady_clock::now();
  // One log per case; written before timing (a real run writes them as it goes).
  for (std::size_t i = 0; i < cases; ++i)
    write_log(dir / "logs" / fmt::format("{}.txt", i), per_log, static_cast<int>(i));
  double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  long rss_after_setup = peak_rss_kib();

  provhil::SecretMasker masker;
  for (int b = 0; b < boards; ++b)
    masker.add(fmt::format("BenchToken{}", b), "token");
  RunInfo run;
  run.run_id = "bench";
  run.harness_version = "bench";
  run.started = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < cases; ++i) {
    run.plan.push_back({fmt::format("scenario-{}", i / static_cast<std::size_t>(boards)),
                        fmt::format("scenarios/suite-{}.yaml", i % 50),
                        fmt::format("board-{}", i % boards),
                        {}});
  }
  ReportOptions options;
  options.output_dir = dir / "reports";
  options.attachment_base = dir;

  auto start = std::chrono::steady_clock::now();
  double adds_s = 0;
  {
    ReportWriter writer(options, run, masker);
    std::atomic<std::size_t> next_case{0};
    std::vector<std::thread> threads;
    for (int b = 0; b < boards; ++b) {
      threads.emplace_back([&] {
        for (std::size_t i = next_case++; i < cases; i = next_case++) {
          CaseResult c;
          c.scenario = run.plan[i].scenario;
          c.scenario_file = run.plan[i].scenario_file;
          c.board = run.plan[i].board;
          c.outcome = i % 10 == 0 ? Outcome::failed : Outcome::passed;
          c.message = c.outcome == Outcome::failed ? "expect state RUNNING: timed out after 30s" : "";
          c.detail = c.outcome == Outcome::failed ? std::string(6000, 'd') : "";
          c.failure_location = {c.scenario_file, 12, 5};
          c.started = std::chrono::system_clock::now();
          c.duration = std::chrono::milliseconds(1000 + static_cast<long>(i % 977));
          c.properties = {
              {"port", "/dev/ttyUSB0"}, {"mac", "24:6F:28:AA:BB:CC"}, {"firmware_version", "1.2.3"}};
          // A case as a shipped scenario gives one: eight steps, twenty serial marks, four exchanges.
          for (int s = 0; s < 8; ++s) {
            bool last = s == 7;
            c.steps.push_back({fmt::format("expect state STEP_{}", s),
                               s == 0 ? "reset" : "expect",
                               {c.scenario_file, 5 + s * 2, 5},
                               last ? c.outcome : Outcome::passed,
                               last ? c.message : "",
                               c.started + std::chrono::milliseconds(s * 120),
                               std::chrono::milliseconds(110)});
          }
          for (int m = 0; m < 20; ++m) {
            c.serial_marks.push_back({m % 4 == 0 ? SerialMark::Kind::state : SerialMark::Kind::event,
                                      static_cast<std::int64_t>(i * 1000 + m * 50),
                                      m % 4 == 0 ? "CONNECTING_NET" : "wifi_connecting",
                                      fmt::format("[{}] WAIT_CONFIG => CONNECTING_NET", 1000 + m),
                                      static_cast<std::size_t>(10 + m * 7)});
          }
          for (int x = 0; x < 4; ++x) {
            c.exchanges.push_back(boost::json::object{
                {"kind", x < 2 ? "provision" : "login"},
                {"t_ms", static_cast<std::int64_t>(i * 1000 + 300 + x * 40)},
                {"method", "GET"},
                {"target", "/external/api/provision?token=[MASKED:token]&templateId=TMPL8sRFwcfqL"},
                {"status", 200},
                {"answered_by", "mock"},
                {"answer_body", R"({"host":"127.0.0.1","port":443})"},
                {"duration_us", 1200}});
          }
          if (c.outcome == Outcome::failed) {
            c.expected = "a line matching /RUNNING/ within 30s";
            c.actual = std::string(600, 'a');
          }
          c.attachments.text_log = dir / "logs" / fmt::format("{}.txt", i);
          writer.add_case(c);
        }
      });
    }
    for (auto& thread : threads)
      thread.join();
    adds_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    writer.finish();
  }
  double report_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto junit_bytes = fs::file_size(dir / "reports" / "junit.xml");
  auto results_bytes = fs::file_size(dir / "reports" / "results.json");
  auto html_bytes = fs::file_size(dir / "reports" / "index.html");
  std::printf("bench_report: %zu cases, %zu MB of logs (%zu bytes each), %d board threads\n", cases, log_mb,
              per_log, boards);
  std::printf("  log setup (untimed):  %.2f s, peak RSS so far %.1f MB\n", setup_s, rss_after_setup / 1024.0);
  std::printf("  report:               %.2f s (target <= 5 s): add_case %.2f s, finish %.2f s\n", report_s,
              adds_s, report_s - adds_s);
  std::printf("  peak RSS:             %.1f MB (target <= 64 MB)\n", peak_rss_kib() / 1024.0);
  std::printf("  junit.xml:            %.1f MB (GitLab limit 30 MB)\n",
              static_cast<double>(junit_bytes) / (1 << 20));
  std::printf("  results.json:         %.1f MB\n", static_cast<double>(results_bytes) / (1 << 20));
  std::printf("  index.html:           %.1f MB (target <= 40 MB at 10,000 cases: 4 KB a case)\n",
              static_cast<double>(html_bytes) / (1 << 20));
  if (!keep) fs::remove_all(dir);
  bool ok = report_s <= 5.0 && peak_rss_kib() <= 64 * 1024 && junit_bytes < 30u * 1024 * 1024 &&
            html_bytes <= cases * 4096;
  std::printf("  %s\n", ok ? "within targets" : "OVER TARGET");
  return ok ? 0 : 1;
}
