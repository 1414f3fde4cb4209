#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace provhil::sim {

// `--resolve NAME:PORT=ADDR:PORT`, like curl's: connections to NAME:PORT go to ADDR:PORT, while TLS
// still sends NAME as SNI and verifies the certificate against NAME.
struct ResolveEntry {
  std::string host;
  std::uint16_t port = 0;
  std::string address;
  std::uint16_t address_port = 0;
};
// Parses one entry; on bad input returns nullopt and says why in `error`.
std::optional<ResolveEntry> parse_resolve(std::string_view text, std::string& error);

struct SimOptions {
  std::filesystem::path profile;  // required (YAML, see docs/sim.md)
  // The board's flash: config survives reboots and restarts of the process. Empty: kept in memory
  // only (survives in-process reboots, lost on exit).
  std::filesystem::path state_file;
  std::optional<std::filesystem::path> ca_file;  // the lab CA PEM; overrides the profile's
  std::optional<double> time_scale;              // overrides the profile's; 0 = no artificial delays
  std::vector<ResolveEntry> resolve;
  std::string source_address;  // its TLS connections come from this local address (empty: any)
  // Written with "127.0.0.1:PORT" while the setup AP's HTTP server is up, removed when it goes down.
  std::filesystem::path ap_endpoint_file;
  int input_fd = 0;   // the serial side: what the harness types
  int output_fd = 1;  // the serial side: what the board prints
};

// Runs one simulated board until the serial side closes (EOF on input_fd, or the output goes away),
// SIGTERM/SIGINT, or a fault switch ends it. Reset: SIGUSR1 (stands in for the EN pin) restarts the
// firmware in-process, keeping the state file. Returns a process exit code: 0 normal end, 2 invalid
// options or profile (message on stderr), 3 infrastructure (cannot bind, cannot read the state file).
int run_simulator(const SimOptions& options);

}  // namespace provhil::sim
