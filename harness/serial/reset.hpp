#pragma once
// How a board is reset: modem lines (ESP32 auto-reset, DTR pulse), a console command, an external program
// (USB hub power switch, relay), a signal to the simulator, or nothing. Parsed from the inventory and checked
// against the port kind when the inventory is loaded, so a strategy the port cannot do fails up front.
#include <chrono>
#include <csignal>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "serial/port.hpp"

namespace provhil::serial {

enum class ResetKind {
  none,           // "none"
  esp32_dtr_rts,  // "esp32-dtr-rts": esptool's classic reset (RTS drives EN, DTR drives IO0)
  dtr_pulse,      // "dtr-pulse": DTR on, wait, off (Arduino-style)
  console,        // "console" / "console:reboot": a command line sent to the board's console
  command,        // "command:/path/to/power-cycle {board}": an external program
  signal,         // "signal" / "signal:SIGUSR2": a signal to the pty child (the simulator's EN pin)
};
std::string_view to_string(ResetKind kind);

struct ResetStrategy {
  ResetKind kind = ResetKind::none;
  // esp32-dtr-rts: how long EN is held low; dtr-pulse: how long DTR is on.
  std::chrono::milliseconds pulse{100};
  // esp32-dtr-rts: hold IO0 low while EN rises (download mode) and release it after `bootloader_hold`.
  bool bootloader = false;
  std::chrono::milliseconds bootloader_hold{50};
  std::string console_command = "reboot";  // console
  std::string line_ending = "\r\n";        // console
  // command: argv; "{board}" in any argument becomes the board name (also in env PROVHIL_BOARD).
  std::vector<std::string> command;
  std::chrono::milliseconds command_timeout{std::chrono::seconds(30)};
  int signal_number = SIGUSR1;  // signal

  std::string describe() const;
};

// Parses an inventory reset value plus its options, e.g. ("esp32-dtr-rts", {{"pulse_ms","200"}}),
// ("console:restart"), ("command:hubctl -p 3 -a cycle"), ("signal:SIGUSR2").
// Options: pulse_ms, bootloader (true/false), bootloader_hold_ms, command (console/command),
// line_ending (crlf, lf, cr), timeout_ms, signal (name or number).
// Throws std::invalid_argument naming the bad value and the accepted ones.
ResetStrategy parse_reset_strategy(std::string_view text,
                                   const std::map<std::string, std::string>& options = {});

// Empty when `strategy` can run on a port of `kind`; otherwise why not (for the inventory loader's error),
// e.g. "esp32-dtr-rts needs DTR/RTS lines, which a pty port does not have".
std::string reset_unsupported_reason(const ResetStrategy& strategy, PortKind kind);

class ResetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs the strategy on an open port. Blocking; the external command has its own deadline.
// Throws ResetError (command failed or timed out) or PortError (the port cannot do it).
void perform_reset(const ResetStrategy& strategy, Port& port, std::string_view board_name);

}  // namespace provhil::serial
