#pragma once
// One board for the whole run: its port (a spawned simulator on a pty, or a real port), the console
// engine over it, and how to reach its setup AP. Scenarios run on it one after another.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/secrets.hpp"
#include "console/console.hpp"
#include "scenario/model.hpp"
#include "serial/port.hpp"
#include "serial/reset.hpp"

namespace provhil::runner {

struct SimLaunch {
  std::filesystem::path provhil_binary;
  std::filesystem::path work_dir;  // state file and AP endpoint file go here
  std::filesystem::path ca_file;   // the interceptor's lab CA
  std::string interceptor_address;
  int interceptor_port = 0;
  std::optional<double> time_scale;
  // Every board's console stamps its text log from the run's start (one time base). Not only for
  // simulated boards: the session takes it from here for every port.
  std::optional<std::chrono::steady_clock::time_point> run_origin;
};

struct ApEndpoint {
  std::string host;
  int port = 0;
};

class BoardSession {
 public:
  // Opens the board's port (spawning the simulator for a simulated board) and starts its console.
  // Throws serial::PortError (infrastructure) or std::invalid_argument (bad port string).
  BoardSession(const scenario::Board& board, const SimLaunch& sim, const SecretMasker& masker);
  ~BoardSession();
  BoardSession(const BoardSession&) = delete;
  BoardSession& operator=(const BoardSession&) = delete;

  const scenario::Board& board() const { return board_; }
  console::Console& console() { return *console_; }
  std::string port_description() const;

  // `reset: hard`: the inventory's strategy (a simulated board: SIGUSR1, its EN pin). True when the
  // port was rewound (a replay): its log plays again from the first line, no boot line to wait for.
  bool hard_reset();
  // `reset: soft`: the console `reboot` command (a replay: rewound, as for hard).
  bool soft_reset();
  // A case starts: a replay plays its log again from the first line (every scenario sees all of it);
  // any other port is marked (lines from before the case do not count).
  void start_case();

  // Where the phone app reaches the board's setup AP. A simulated board announces its port in a file;
  // a real board is at 192.168.4.1:80 once the host has joined its AP (the inventory's `join`).
  // Waits for the simulator's file until `deadline`; throws std::runtime_error saying why not.
  ApEndpoint ap_endpoint(std::chrono::steady_clock::time_point deadline) const;

  // The address the board's connections to the interceptor come from, when the harness knows it: a
  // simulated board on a loopback interceptor gets its own (127.77.x.y) so that handshake faults and
  // journal entries are told apart by client. Empty: unknown (a real board).
  const std::string& client_address() const { return client_address_; }

  // Where this board's unmasked raw serial log goes while a case runs (the run's private folder).
  const std::filesystem::path& raw_log_path() const { return raw_log_path_; }

 private:
  scenario::Board board_;
  serial::ResetStrategy hard_reset_;
  std::filesystem::path ap_endpoint_file_;
  std::filesystem::path raw_log_path_;
  std::string client_address_;
  std::unique_ptr<serial::Port> port_;
  std::unique_ptr<console::Console> console_;
};

// How long to wait for a board another process holds (`provhil run --wait-for-boards`).
struct BoardWait {
  std::chrono::milliseconds limit{0};  // zero: a busy board fails at once
  // Called while waiting, whenever who holds the port changes ("pid 4242 (provhil)").
  std::function<void(const std::string& holders)> on_waiting;
  std::function<bool()> interrupted;  // stops the wait
  std::chrono::milliseconds poll{250};
};

// Opens a BoardSession; while its port is busy (serial::PortBusy: another process holds it) tries again
// until `wait.limit` has passed, then rethrows that PortBusy. Returns null when interrupted while
// waiting. Otherwise throws as BoardSession's constructor does.
std::unique_ptr<BoardSession> open_board_session(const scenario::Board& board, const SimLaunch& sim,
                                                 const SecretMasker& masker, const BoardWait& wait);

}  // namespace provhil::runner
