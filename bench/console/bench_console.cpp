// Console engine benchmark. Modes (run.sh runs them all and prints the ratios):
//   bench_console writer BYTES        the "board": writes BYTES of Edgent-like lines, then the end line, then
//   waits bench_console plain BYTES         baseline: a plain read loop on the same pty stream bench_console
//   console BYTES [--logs DIR]   the engine waiting on 10 patterns that match only at the end bench_console
//   latency COUNT       line written -> expect returned, COUNT times (a ping-pong over the pty) bench_console
//   latency-writer      the latency "board"
// Each reader prints one line: "mode=... bytes=... seconds=... mb_per_s=... peak_rss_kb=...".
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "console/console.hpp"

using namespace provhil;
using Clock = std::chrono::steady_clock;

namespace {

const char* const end_line = "[9999999] BENCH-DONE 4242\n";

// The ten patterns: each could plausibly be waited for in a scenario; only the last line matches one.
const std::vector<std::string> patterns = {
    R"(State: (?<state>PROVISION_DONE))",  R"(Guru Meditation Error)",
    R"(Backtrace: 0x[0-9a-f]+)",           R"(abort\(\) was called)",
    R"(Ready \(ping: (?<ping>\d+)ms\)\.)", R"(Invalid auth token)",
    R"(Connection refused: (?<why>.+))",   R"(OTA update finished)",
    R"(Configuration stored to flash)",    R"(BENCH-DONE (?<total>\d+))",
};

std::string body_block() {
  static const char* const templates[] = {
      "[{}] Connecting to WiFi: LabNet",
      "[{}] Using Dynamic IP: 192.168.50.{}",
      "[{}] Current time: Wed Nov 25 21:49:{:02} 2026",
      "[{}] Connecting to blynk.cloud:443",
      "[{}] Heartbeat: 45s, free heap: {} bytes",
      "[{}] State: RUNNING",
      "[{}] Sensor reading: temperature=21.{}C humidity=48%",
      "[{}] Virtual pin V{} written",
  };
  std::string block;
  unsigned millis = 1000;
  for (unsigned i = 0; block.size() < 1024 * 1024; ++i) {
    millis += 7 + i % 13;
    block += fmt::format(fmt::runtime(templates[i % 8]), millis, i % 60, i % 60);
    block += '\n';
  }
  return block;
}

std::uint64_t total_bytes(std::uint64_t body) {
  auto block = body_block().size();
  return ((body + block - 1) / block) * block + std::strlen(end_line);
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

void write_all(const char* data, std::size_t size) {
  while (size > 0) {
    auto n = ::write(STDOUT_FILENO, data, size);
    if (n <= 0) ::_exit(1);
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

int writer(std::uint64_t body) {
  termios settings{};
  if (::tcgetattr(STDOUT_FILENO, &settings) == 0) {
    ::cfmakeraw(&settings);
    ::tcsetattr(STDOUT_FILENO, TCSANOW, &settings);
  }
  auto block = body_block();
  for (std::uint64_t sent = 0; sent < body; sent += block.size())
    write_all(block.data(), block.size());
  write_all(end_line, std::strlen(end_line));
  ::sleep(120);  // keep the pty open until the reader is done (it ends us)
  return 0;
}

std::unique_ptr<serial::Port> spawn_self(std::vector<std::string> args) {
  serial::SpawnOptions options;
  options.argv = {std::filesystem::read_symlink("/proc/self/exe").string()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.terminate_grace = std::chrono::milliseconds(500);
  return serial::spawn_pty(options);
}

void report(const char* mode, std::uint64_t bytes, Clock::duration elapsed, const std::string& extra = {}) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  fmt::print("mode={} bytes={} seconds={:.3f} mb_per_s={:.1f} peak_rss_kb={}{}\n", mode, bytes, seconds,
             static_cast<double>(bytes) / 1e6 / seconds, peak_rss_kb(), extra);
}

int plain(std::uint64_t body) {
  auto expected = total_bytes(body);
  auto port = spawn_self({"writer", std::to_string(body)});
  std::vector<char> buffer(64 * 1024);
  std::uint64_t got = 0;
  auto start = Clock::now();
  while (got < expected) {
    auto result = port->read(buffer, Clock::now() + std::chrono::seconds(30));
    if (result.status != serial::ReadStatus::data) {
      fmt::print(stderr, "plain: {} after {} of {} bytes\n", result.reason, got, expected);
      return 1;
    }
    got += result.size;
  }
  report("plain", got, Clock::now() - start);
  return 0;
}

int console_mode(std::uint64_t body, const std::string& log_dir) {
  auto port = spawn_self({"writer", std::to_string(body)});
  console::ConsoleOptions options;
  SecretMasker masker;
  masker.add("bench-secret-token", "token");
  options.masker = &masker;
  if (!log_dir.empty()) {
    options.raw_log = std::filesystem::path(log_dir) / "bench.raw.log";
    options.text_log = std::filesystem::path(log_dir) / "bench.text.log";
  }
  console::Console console(*port, options);
  console::ExpectRequest request;
  for (const auto& text : patterns)
    request.any_of.push_back(console::Pattern::regex(text));
  auto start = Clock::now();
  request.deadline = start + std::chrono::minutes(5);
  auto result = console.expect(request);
  auto elapsed = Clock::now() - start;
  if (!result.ok() || result.pattern_index != 9) {
    fmt::print(stderr, "console: {}\n", result.describe());
    return 1;
  }
  report(log_dir.empty() ? "console" : "console+logs", console.bytes_received(), elapsed,
         fmt::format(" lines={}", console.lines_received()));
  return 0;
}

int latency_writer() {
  termios settings{};
  if (::tcgetattr(STDIN_FILENO, &settings) == 0) {
    ::cfmakeraw(&settings);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &settings);
  }
  char byte = 0;
  for (unsigned i = 0;; ++i) {
    if (::read(STDIN_FILENO, &byte, 1) != 1) return 0;
    if (byte != 'k') continue;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);  // the clock steady_clock reads on Linux
    auto line = fmt::format("[{}] tick {} ts={}\n", i, i, now.tv_sec * 1'000'000'000LL + now.tv_nsec);
    write_all(line.data(), line.size());
  }
}

int latency(unsigned count) {
  auto port = spawn_self({"latency-writer"});
  console::Console console(*port, {});
  auto pattern = console::Pattern::regex(R"(tick (?<i>\d+) ts=(?<ts>\d+))");
  std::vector<double> micros;
  micros.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    port->write("k");
    auto result = console.expect(pattern, std::chrono::seconds(10));
    auto returned = Clock::now();
    if (!result.ok()) {
      fmt::print(stderr, "latency: {}\n", result.describe());
      return 1;
    }
    auto written = Clock::time_point(std::chrono::nanoseconds(std::stoll(result.captures.at("ts"))));
    micros.push_back(std::chrono::duration<double, std::micro>(returned - written).count());
  }
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    return micros[static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1))];
  };
  fmt::print(
      "mode=latency matches={} p50_us={:.1f} p90_us={:.1f} p99_us={:.1f} max_us={:.1f} peak_rss_kb={}\n",
      count, at(0.5), at(0.9), at(0.99), micros.back(), peak_rss_kb());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() >= 2 && args[0] == "writer") return writer(std::stoull(args[1]));
    if (args.size() >= 1 && args[0] == "latency-writer") return latency_writer();
    if (args.size() >= 2 && args[0] == "plain") return plain(std::stoull(args[1]));
    if (args.size() >= 2 && args[0] == "console")
      return console_mode(std::stoull(args[1]), args.size() >= 4 && args[2] == "--logs" ? args[3] : "");
    if (args.size() >= 2 && args[0] == "latency") return latency(static_cast<unsigned>(std::stoul(args[1])));
    if (args.size() >= 2 && args[0] == "total") {
      fmt::print("{}\n", total_bytes(std::stoull(args[1])));
      return 0;
    }
  } catch (const std::exception& error) {
    fmt::print(stderr, "bench_console: {}\n", error.what());
    return 1;
  }
  fmt::print(
      stderr,
      "usage: bench_console plain|console BYTES [--logs DIR] | latency COUNT | writer BYTES | total BYTES\n");
  return 2;
}
