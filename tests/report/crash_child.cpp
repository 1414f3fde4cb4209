// Writes cases into a report and then waits to be killed (SIGKILL) by report_crash_test.cpp.
//   report_crash_child DIR flush N   add N cases, flush(), print "flushed N", then sleep
//   report_crash_child DIR stream    add cases without end, printing "added I" after each returns
//   report_crash_child DIR full N    files may grow to N bytes (RLIMIT_FSIZE: a full disk); add cases
//                                    until add_case throws, print "added I" and "failed: WHY", exit
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <thread>

#include "report/writer.hpp"
#include "sample.hpp"

using namespace provhil::report;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: report_crash_child DIR flush N | DIR stream\n");
    return 2;
  }
  std::filesystem::path dir = argv[1];
  std::string mode = argv[2];
  provhil::SecretMasker masker;
  masker.add(sample::token, "token");
  ReportOptions options;
  options.output_dir = dir / "reports";
  options.attachment_base = dir;
  if (mode == "full") {
    ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG, as on a full disk
    ReportWriter writer(options, sample::run_info(), masker);
    rlimit limit{std::stoul(argv[3]), RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    for (long i = 1;; ++i) {
      try {
        writer.add_case(sample::passed_case("scenario-" + std::to_string(i), "sim-1", dir / "logs"));
      } catch (const ReportError& e) {
        std::printf("failed: %s\n", e.what());
        break;
      }
      std::printf("added %ld\n", i);
    }
    try {
      writer.add_case(sample::passed_case("after", "sim-1", dir / "logs"));
      std::printf("added after the failure\n");
    } catch (const ReportError& e) {
      std::printf("refused: %s\n", e.what());
    }
    return 0;
  }
  ReportWriter writer(options, sample::run_info(), masker);
  long limit = mode == "flush" && argc > 3 ? std::stol(argv[3]) : 1'000'000;
  for (long i = 1; i <= limit; ++i) {
    writer.add_case(sample::passed_case("scenario-" + std::to_string(i), "sim-1", dir / "logs"));
    if (mode == "stream") std::printf("added %ld\n", i);
    std::fflush(stdout);
  }
  writer.flush();
  std::printf("flushed %ld\n", limit);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(120));  // killed long before
  return 0;
}
