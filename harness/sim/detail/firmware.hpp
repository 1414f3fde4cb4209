#pragma once
// Internal to the sim module: one boot of the simulated Edgent firmware, from reset to the next reset.

#include <string_view>

#include "sim/detail/state.hpp"
#include "sim/profile.hpp"
#include "sim/simulator.hpp"

namespace provhil::sim {

// The serial side's output; outlives boots (a UART does not go away when the chip resets).
class SerialOut {
 public:
  explicit SerialOut(int fd) : fd_(fd) {}
  // Writes everything, waiting while the reader is slow; returns false once the other side is gone.
  bool write(std::string_view bytes);
  bool gone() const { return gone_; }

 private:
  int fd_;
  bool gone_ = false;
};

enum class ResetReason { power_on, software, panic };

struct BootResult {
  bool reboot = false;  // false: the process ends with exit_code
  ResetReason next_reason = ResetReason::software;
  int exit_code = 0;
};

// Runs one boot until the firmware resets or the simulator must end. `signal_fd` is the read end of
// the self-pipe that carries SIGUSR1 (reset) and SIGTERM/SIGINT (end) as one byte each.
BootResult run_firmware(const Profile& profile, const SimOptions& options, StateStore& store, SerialOut& out,
                        int signal_fd, ResetReason reason);

}  // namespace provhil::sim
