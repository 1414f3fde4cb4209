#include "sim/simulator.hpp"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>

#include "common/exit_codes.hpp"
#include "sim/detail/firmware.hpp"
#include "sim/detail/state.hpp"
#include "sim/profile.hpp"

namespace provhil::sim {

namespace {

int g_signal_write_fd = -1;

// Async-signal-safe: the boot's event loop reads the signal number from the pipe.
void on_signal(int number) {
  const int saved = errno;
  const char byte = static_cast<char>(number);
  [[maybe_unused]] auto n = ::write(g_signal_write_fd, &byte, 1);
  errno = saved;
}

bool parse_port(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

// A serial line carries bytes, not a terminal session: no echo, no CR/LF translation, no signals.
void make_raw(int fd) {
  if (!::isatty(fd)) return;
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return;
  ::cfmakeraw(&t);
  ::tcsetattr(fd, TCSANOW, &t);
}

}  // namespace

std::optional<ResolveEntry> parse_resolve(std::string_view text, std::string& error) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    error = fmt::format("--resolve '{}': expected NAME:PORT=ADDR:PORT", text);
    return std::nullopt;
  }
  const auto from = text.substr(0, eq);
  const auto to = text.substr(eq + 1);
  const auto from_colon = from.rfind(':');
  const auto to_colon = to.rfind(':');
  ResolveEntry entry;
  if (from_colon == std::string_view::npos || from_colon == 0 ||
      !parse_port(from.substr(from_colon + 1), entry.port)) {
    error = fmt::format("--resolve '{}': '{}' must be NAME:PORT", text, from);
    return std::nullopt;
  }
  if (to_colon == std::string_view::npos || to_colon == 0 ||
      !parse_port(to.substr(to_colon + 1), entry.address_port)) {
    error = fmt::format("--resolve '{}': '{}' must be ADDR:PORT", text, to);
    return std::nullopt;
  }
  entry.host = std::string(from.substr(0, from_colon));
  entry.address = std::string(to.substr(0, to_colon));
  if (entry.address.size() > 2 && entry.address.front() == '[' && entry.address.back() == ']')
    entry.address = entry.address.substr(1, entry.address.size() - 2);
  return entry;
}

int run_simulator(const SimOptions& options) {
  Profile profile;
  try {
    profile = load_profile(options.profile);
  } catch (const ProfileError& e) {
    fmt::print(stderr, "provhil sim: {}\n", e.what());
    return to_int(ExitCode::usage);
  }
  const auto ca = options.ca_file.value_or(profile.ca_file);
  if (!ca.empty() && !std::filesystem::is_regular_file(ca)) {
    fmt::print(stderr, "provhil sim: CA file {} does not exist{}\n", ca.string(),
               options.ca_file ? "" : fmt::format(" (named in {})", options.profile.string()));
    return to_int(ExitCode::usage);
  }
  if (options.time_scale && *options.time_scale < 0) {
    fmt::print(stderr, "provhil sim: --time-scale must be >= 0\n");
    return to_int(ExitCode::usage);
  }

  StateStore store(options.state_file);
  try {
    (void)store.load();
  } catch (const std::exception& e) {
    fmt::print(stderr, "provhil sim: {}\n", e.what());
    return to_int(ExitCode::usage);
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    fmt::print(stderr, "provhil sim: pipe: {}\n", std::strerror(errno));
    return to_int(ExitCode::infrastructure);
  }
  g_signal_write_fd = pipe_fds[1];
  struct sigaction action {};
  action.sa_handler = on_signal;
  ::sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int number : {SIGUSR1, SIGTERM, SIGINT, SIGHUP})
    ::sigaction(number, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  make_raw(options.input_fd);
  make_raw(options.output_fd);

  SerialOut out(options.output_fd);
  ResetReason reason = ResetReason::power_on;
  int exit_code = 0;
  for (;;) {
    const auto result = run_firmware(profile, options, store, out, pipe_fds[0], reason);
    if (!result.reboot) {
      exit_code = result.exit_code;
      break;
    }
    reason = result.next_reason;
  }
  // Leave the signals to their defaults again before the pipe goes away.
  for (int number : {SIGUSR1, SIGTERM, SIGINT, SIGHUP})
    ::signal(number, SIG_DFL);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  g_signal_write_fd = -1;
  return exit_code;
}

}  // namespace provhil::sim
