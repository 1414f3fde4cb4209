#pragma once
// Internal to the sim module: the board's flash (Edgent's ConfigStore), kept in a YAML file.

#include <filesystem>
#include <optional>
#include <string>

namespace provhil::sim {

struct BoardConfig {
  bool valid = false;  // CONFIG_FLAG_VALID: provisioning completed, boot goes straight to CONNECTING_NET
  std::string ssid;
  std::string pass;
  std::string token;
  std::string host = "blynk.cloud";
  int port = 443;
  int last_error = 0;  // Edgent's last error code (701 WiFi, 703 token, ...; docs/sim.md)
};

// Reads and writes the state file atomically. With an empty path the "flash" lives in memory.
class StateStore {
 public:
  explicit StateStore(std::filesystem::path path) : path_(std::move(path)) {}
  // Throws std::runtime_error with the file name and the reason when the file exists but is unreadable.
  BoardConfig load() const;
  void save(const BoardConfig& config);
  void erase();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::optional<BoardConfig> memory_;
};

}  // namespace provhil::sim
