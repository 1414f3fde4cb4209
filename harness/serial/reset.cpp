#include "serial/reset.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace provhil::serial {

std::string_view to_string(ResetKind kind) {
  switch (kind) {
    case ResetKind::none:
      return "none";
    case ResetKind::esp32_dtr_rts:
      return "esp32-dtr-rts";
    case ResetKind::dtr_pulse:
      return "dtr-pulse";
    case ResetKind::console:
      return "console";
    case ResetKind::command:
      return "command";
    case ResetKind::signal:
      return "signal";
  }
  return "unknown";
}

namespace {

constexpr std::string_view accepted_strategies =
    "accepted: esp32-dtr-rts, dtr-pulse, console[:COMMAND], command:PROGRAM [ARGS] ({board} is the board "
    "name), signal[:NAME], none";

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words)
    text += (text.empty() ? "" : " ") + word;
  return text;
}

int parse_signal(std::string_view text) {
  int number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error == std::errc() && end == text.data() + text.size() && number > 0 && number < NSIG) return number;
  std::string_view name = text.starts_with("SIG") ? text.substr(3) : text;
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  throw std::invalid_argument(
      fmt::format("reset signal \"{}\": not a signal name (SIGUSR1, USR2, ...) or number", text));
}

std::chrono::milliseconds parse_ms(std::string_view key, std::string_view text) {
  long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0 || value > 600'000)
    throw std::invalid_argument(
        fmt::format("reset option {}: \"{}\" is not a number of milliseconds (0..600000)", key, text));
  return std::chrono::milliseconds(value);
}

bool parse_bool(std::string_view key, std::string_view text) {
  if (text == "true" || text == "yes" || text == "1" || text == "on") return true;
  if (text == "false" || text == "no" || text == "0" || text == "off") return false;
  throw std::invalid_argument(fmt::format("reset option {}: \"{}\" is not true or false", key, text));
}

std::string parse_line_ending(std::string_view text) {
  if (text == "crlf") return "\r\n";
  if (text == "lf") return "\n";
  if (text == "cr") return "\r";
  throw std::invalid_argument(fmt::format("reset option line_ending: \"{}\" is not crlf, lf or cr", text));
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  char quote = 0;
  bool in_word = false;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote)
        quote = 0;
      else
        current += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(current));
      current.clear();
      in_word = false;
    } else {
      current += c;
      in_word = true;
    }
  }
  if (quote != 0) throw std::invalid_argument(fmt::format("reset command \"{}\": unterminated quote", text));
  if (in_word) words.push_back(std::move(current));
  return words;
}

void sleep_for(std::chrono::milliseconds duration) {
  // sleep_for measures on the steady clock.
  std::this_thread::sleep_for(duration);
}

void run_reset_command(const ResetStrategy& strategy, std::string_view board_name) {
  std::vector<std::string> argv;
  for (auto arg : strategy.command) {
    for (auto at = arg.find("{board}"); at != std::string::npos;
         at = arg.find("{board}", at + board_name.size()))
      arg.replace(at, 7, board_name);
    argv.push_back(std::move(arg));
  }
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry)
    if (!std::string_view(*entry).starts_with("PROVHIL_BOARD=")) env_storage.emplace_back(*entry);
  env_storage.push_back(fmt::format("PROVHIL_BOARD={}", board_name));
  std::vector<char*> envp;
  for (auto& item : env_storage)
    envp.push_back(item.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(arg.data());
  args.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw ResetError(fmt::format("reset command: pipe: {}", strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw ResetError(fmt::format("reset command \"{}\": cannot run: {}", join(argv), strerror(rc)));
  }
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + strategy.command_timeout;
  bool timed_out = false;
  for (;;) {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long>(left, 60'000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
    if (output.size() > 8192) output.erase(0, output.size() - 8192);  // keep the tail
  }
  ::close(out[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
    output.pop_back();
  auto tail = output.empty() ? std::string() : fmt::format("; its output: {}", output);
  if (timed_out)
    throw ResetError(fmt::format("reset command \"{}\" did not finish within {} ms and was killed{}",
                                 join(argv), strategy.command_timeout.count(), tail));
  if (WIFSIGNALED(status))
    throw ResetError(
        fmt::format("reset command \"{}\" was killed by signal {}{}", join(argv), WTERMSIG(status), tail));
  if (WEXITSTATUS(status) != 0)
    throw ResetError(fmt::format("reset command \"{}\" failed with exit status {}{}", join(argv),
                                 WEXITSTATUS(status), tail));
}

}  // namespace

std::string ResetStrategy::describe() const {
  switch (kind) {
    case ResetKind::esp32_dtr_rts:
      return fmt::format("esp32-dtr-rts (EN low {} ms{})", pulse.count(), bootloader ? ", bootloader" : "");
    case ResetKind::dtr_pulse:
      return fmt::format("dtr-pulse ({} ms)", pulse.count());
    case ResetKind::console:
      return fmt::format("console \"{}\"", console_command);
    case ResetKind::command:
      return fmt::format("command \"{}\"", join(command));
    case ResetKind::signal:
      return fmt::format("signal {}", ::sigabbrev_np(signal_number) ? ::sigabbrev_np(signal_number) : "?");
    case ResetKind::none:
      break;
  }
  return "none";
}

ResetStrategy parse_reset_strategy(std::string_view text, const std::map<std::string, std::string>& options) {
  ResetStrategy strategy;
  auto colon = text.find(':');
  auto name = text.substr(0, colon);
  std::string_view argument = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  bool takes_argument = false;
  if (name == "none") {
    strategy.kind = ResetKind::none;
  } else if (name == "esp32-dtr-rts") {
    strategy.kind = ResetKind::esp32_dtr_rts;
  } else if (name == "dtr-pulse") {
    strategy.kind = ResetKind::dtr_pulse;
  } else if (name == "console") {
    strategy.kind = ResetKind::console;
    takes_argument = true;
    if (!argument.empty()) strategy.console_command = std::string(argument);
  } else if (name == "command") {
    strategy.kind = ResetKind::command;
    takes_argument = true;
    strategy.command = split_words(argument);
  } else if (name == "signal") {
    strategy.kind = ResetKind::signal;
    takes_argument = true;
    if (!argument.empty()) strategy.signal_number = parse_signal(argument);
  } else {
    throw std::invalid_argument(
        fmt::format("reset \"{}\": unknown strategy ({})", text, accepted_strategies));
  }
  if (!takes_argument && colon != std::string_view::npos)
    throw std::invalid_argument(
        fmt::format("reset \"{}\": {} takes no \":argument\" ({})", text, name, accepted_strategies));

  for (const auto& [key, value] : options) {
    if (key == "pulse_ms") {
      strategy.pulse = parse_ms(key, value);
    } else if (key == "bootloader") {
      strategy.bootloader = parse_bool(key, value);
    } else if (key == "bootloader_hold_ms") {
      strategy.bootloader_hold = parse_ms(key, value);
    } else if (key == "command") {
      if (strategy.kind == ResetKind::console)
        strategy.console_command = value;
      else
        strategy.command = split_words(value);
    } else if (key == "line_ending") {
      strategy.line_ending = parse_line_ending(value);
    } else if (key == "timeout_ms") {
      strategy.command_timeout = parse_ms(key, value);
    } else if (key == "signal") {
      strategy.signal_number = parse_signal(value);
    } else {
      throw std::invalid_argument(
          fmt::format("reset option \"{}\": unknown (accepted: pulse_ms, bootloader, bootloader_hold_ms, "
                      "command, line_ending, "
                      "timeout_ms, signal)",
                      key));
    }
  }
  if (strategy.kind == ResetKind::command && strategy.command.empty())
    throw std::invalid_argument(fmt::format(
        "reset \"{}\": command needs a program, e.g. command:uhubctl -l 1-1 -p 2 -a cycle", text));
  if (strategy.kind == ResetKind::console && strategy.console_command.empty())
    throw std::invalid_argument(fmt::format("reset \"{}\": console needs a command line", text));
  return strategy;
}

std::string reset_unsupported_reason(const ResetStrategy& strategy, PortKind kind) {
  switch (strategy.kind) {
    case ResetKind::esp32_dtr_rts:
    case ResetKind::dtr_pulse:
      if (kind == PortKind::device || kind == PortKind::usb) return {};
      return fmt::format("{} needs DTR/RTS lines, which a {} port does not have{}", to_string(strategy.kind),
                         to_string(kind),
                         kind == PortKind::pty ? " (use signal for the simulator)"
                                               : " (use command with a power switch or relay)");
    case ResetKind::signal:
      if (kind == PortKind::pty) return {};
      return fmt::format("signal needs a spawned child process (a pty port), not a {} port", to_string(kind));
    case ResetKind::console:
      if (kind == PortKind::replay) return "console needs a port that can be written to, not a replay";
      return {};
    case ResetKind::command:
    case ResetKind::none:
      return {};
  }
  return "unknown strategy";
}

void perform_reset(const ResetStrategy& strategy, Port& port, std::string_view board_name) {
  switch (strategy.kind) {
    case ResetKind::none:
      return;
    case ResetKind::esp32_dtr_rts:
      // esptool's classic reset: RTS drives EN, DTR drives IO0 (both inverted by the transistor pair).
      port.set_dtr(false);  // IO0 high
      port.set_rts(true);   // EN low: chip in reset
      sleep_for(strategy.pulse);
      if (strategy.bootloader) port.set_dtr(true);  // IO0 low while EN rises: download mode
      port.set_rts(false);                          // EN high: run
      if (strategy.bootloader) {
        sleep_for(strategy.bootloader_hold);
        port.set_dtr(false);
      }
      return;
    case ResetKind::dtr_pulse:
      port.set_dtr(true);
      sleep_for(strategy.pulse);
      port.set_dtr(false);
      return;
    case ResetKind::console:
      port.write(strategy.console_command + strategy.line_ending);
      return;
    case ResetKind::command:
      run_reset_command(strategy, board_name);
      return;
    case ResetKind::signal:
      port.send_signal(strategy.signal_number);
      return;
  }
}

}  // namespace provhil::serial
