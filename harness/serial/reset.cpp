#include "serial/reset.hpp"

#include <signal.h>
#include <string.h>

#include <charconv>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/process.hpp"

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
  ProcessOptions options;
  for (auto arg : strategy.command) {
    for (auto at = arg.find("{board}"); at != std::string::npos;
         at = arg.find("{board}", at + board_name.size()))
      arg.replace(at, 7, board_name);
    options.argv.push_back(std::move(arg));
  }
  options.env["PROVHIL_BOARD"] = std::string(board_name);
  auto result =
      run_process(options, std::chrono::steady_clock::now() + strategy.command_timeout, nullptr, 8192);
  auto command = fmt::format("{}", fmt::join(options.argv, " "));
  if (!result.started) throw ResetError(fmt::format("reset command \"{}\": {}", command, result.output));
  auto& output = result.output;
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
    output.pop_back();
  auto tail = output.empty() ? std::string() : fmt::format("; its output: {}", output);
  if (result.timed_out)
    throw ResetError(fmt::format("reset command \"{}\" did not finish within {} ms and was killed{}", command,
                                 strategy.command_timeout.count(), tail));
  if (result.status.signal != 0)
    throw ResetError(
        fmt::format("reset command \"{}\" was killed by signal {}{}", command, result.status.signal, tail));
  if (result.status.code != 0)
    throw ResetError(
        fmt::format("reset command \"{}\" failed with exit status {}{}", command, result.status.code, tail));
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
      return fmt::format("command \"{}\"", fmt::join(command, " "));
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
      if (kind == PortKind::device || kind == PortKind::usb || kind == PortKind::rfc2217) return {};
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
  // What the board printed before the reset and still waits in a buffer on the way must not arrive
  // after it (a remote port's server buffers; a no-op elsewhere).
  if (strategy.kind != ResetKind::none) port.purge();
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
