// Benchmark: validating 1,000 scenario files (the shipped suite, renamed) against the shipped inventory,
// in process (scenario::validate_paths) and, with --cli PATH, as `provhil validate DIR` in a child.
// Usage: bench_scenario [--files N] [--runs R] [--cli path/to/provhil]
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scenario/loader.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int files = 1000;
  int runs = 5;
  std::string cli;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--files" && i + 1 < argc)
      files = std::atoi(argv[++i]);
    else if (arg == "--runs" && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (arg == "--cli" && i + 1 < argc)
      cli = argv[++i];
    else {
      fmt::print(stderr, "usage: bench_scenario [--files N] [--runs R] [--cli path/to/provhil]\n");
      return 2;
    }
  }
  fs::path source = PROVHIL_SOURCE_DIR;
  std::vector<std::pair<std::string, std::string>> templates;  // name, text
  for (const auto& entry : fs::directory_iterator(source / "scenarios"))
    if (entry.path().extension() == ".yaml")
      templates.emplace_back(entry.path().stem().string(), read(entry.path()));
  std::sort(templates.begin(), templates.end());
  if (templates.empty()) {
    fmt::print(stderr, "no scenarios under {}\n", (source / "scenarios").string());
    return 3;
  }

  char pattern[] = "/tmp/provhil-bench-validate-XXXXXX";
  if (!::mkdtemp(pattern)) return 3;
  fs::path dir = pattern;
  std::size_t bytes = 0;
  for (int i = 0; i < files; ++i) {
    const auto& [name, text] = templates[static_cast<std::size_t>(i) % templates.size()];
    std::string renamed = text;
    auto at = renamed.find("scenario: " + name);
    renamed.replace(at, 10 + name.size(), fmt::format("scenario: {}-{:04}", name, i));
    std::ofstream(dir / fmt::format("{:04}-{}.yaml", i, name)) << renamed;
    bytes += renamed.size();
  }
  fmt::print("bench_scenario: {} scenario files ({} KiB) in {}, inventory fixtures/boards.yaml\n", files,
             bytes / 1024, dir.string());

  std::vector<double> in_process;
  bool ok = true;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    auto report = provhil::scenario::validate_paths({dir}, source / "fixtures/boards.yaml");
    in_process.push_back(seconds_since(start));
    if (!report.ok() || report.scenarios != files) {
      ok = false;
      for (const auto& d : report.diagnostics)
        fmt::print(stderr, "{}\n", d.to_string());
    }
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  fmt::print("in process : median {:.3f} s, best {:.3f} s over {} runs ({:.0f} files/s), peak RSS {} MiB\n",
             median(in_process), *std::min_element(in_process.begin(), in_process.end()), runs,
             files / median(in_process), usage.ru_maxrss / 1024);

  if (!cli.empty()) {
    std::vector<double> child;
    for (int r = 0; r < runs; ++r) {
      auto start = Clock::now();
      std::fflush(stdout);
      pid_t pid = ::fork();
      if (pid == 0) {
        ::chdir(PROVHIL_SOURCE_DIR);
        std::freopen("/dev/null", "w", stdout);
        ::execl(cli.c_str(), cli.c_str(), "validate", "--quiet", dir.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
      int status = 0;
      ::waitpid(pid, &status, 0);
      child.push_back(seconds_since(start));
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ok = false;
        fmt::print(stderr, "provhil validate exited with status {}\n", status);
      }
    }
    fmt::print("provhil validate (child process): median {:.3f} s, best {:.3f} s over {} runs\n",
               median(child), *std::min_element(child.begin(), child.end()), runs);
    in_process.insert(in_process.end(), child.begin(), child.end());
  }
  fs::remove_all(dir);
  double worst_median = median(in_process);
  fmt::print("target <= 1 s for {} files: {}\n", files, ok && worst_median <= 1.0 ? "met" : "NOT met");
  return ok ? 0 : 1;
}
