#pragma once
// Debian's ser2net for tests, run with the configuration docs/remote-boards.md gives a lab: the page's
// YAML block with only its address, TCP port and device replaced (each must occur exactly once, so the
// page and the tests cannot drift apart). Header-only: the suites that use it link provhil::common.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/process.hpp"
#include "support/loopback.hpp"
#include "support/temp_dir.hpp"

namespace provhil::test {

// What the page's block says, and what the tests put in its place.
inline constexpr std::string_view doc_ser2net_address = "0.0.0.0";
inline constexpr std::string_view doc_ser2net_port = "4001";
inline constexpr std::string_view doc_ser2net_device =
    "/dev/serial/by-id/usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0001-if00-port0";

// What the board's side of the pty (`master`) received until `needle` arrived or `within` passed: what
// the harness sent through ser2net.
inline std::string read_master(int master, const std::string& needle, std::chrono::milliseconds within) {
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + within;
  while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{master, POLLIN, 0};
    if (::poll(&pfd, 1, 50) == 1) {
      char buffer[256];
      auto n = ::read(master, buffer, sizeof buffer);
      if (n > 0) seen.append(buffer, static_cast<std::size_t>(n));
    }
  }
  return seen;
}

inline std::string find_ser2net() {
  for (const char* dir : {"/usr/sbin", "/usr/bin"}) {
    auto path = std::string(dir) + "/ser2net";
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

// The yaml block after the "<!-- ser2net-config" marker in docs/remote-boards.md.
inline std::string doc_ser2net_config() {
  auto page = read_file(std::filesystem::path(PROVHIL_SOURCE_DIR) / "docs" / "remote-boards.md");
  auto marker = page.find("<!-- ser2net-config");
  if (marker == std::string::npos)
    throw std::runtime_error("docs/remote-boards.md: no ser2net-config marker");
  auto open = page.find("```yaml\n", marker);
  auto close = page.find("\n```", open);
  if (open == std::string::npos || close == std::string::npos)
    throw std::runtime_error("docs/remote-boards.md: no yaml block after the ser2net-config marker");
  open += 8;
  return page.substr(open, close - open + 1);
}

inline void replace_once(std::string& text, std::string_view from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos)
    throw std::runtime_error("docs/remote-boards.md's ser2net block must hold \"" + std::string(from) +
                             "\" exactly once:\n" + text);
  text.replace(at, from.size(), to);
}

// The page's configuration for `device` on 127.0.0.1:`port`.
inline std::string ser2net_config(const std::string& device, std::uint16_t port) {
  auto config = doc_ser2net_config();
  replace_once(config, doc_ser2net_address, "127.0.0.1");
  replace_once(config, doc_ser2net_port, std::to_string(port));
  replace_once(config, doc_ser2net_device, device);
  return config;
}

// A free loopback port: bound, read, released (ser2net binds it a moment later).
inline std::uint16_t free_loopback_port() {
  LoopbackListener reserved;
  return reserved.port;
}

// True once something accepts connections on 127.0.0.1:`port` (a probe that connects and closes).
inline bool wait_until_listening(std::uint16_t port, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// ser2net in the foreground (-n -d) with `config` written to `dir`, a private pid file; stopped
// (SIGTERM, then SIGKILL) on destruction.
class Ser2net {
 public:
  Ser2net(const std::filesystem::path& dir, const std::string& config, const std::string& name = "ser2net") {
    auto binary = find_ser2net();
    if (binary.empty())
      throw std::runtime_error("ser2net is not installed: apt-get install ser2net (scripts/setup.sh does)");
    auto file = write_file(dir / (name + ".yaml"), config);
    provhil::ProcessOptions options;
    options.argv = {binary, "-n", "-d", "-c", file.string(), "-P", (dir / (name + ".pid")).string()};
    child_.emplace(options);
  }
  provhil::Child& child() { return *child_; }
  void stop() {
    if (child_) child_->terminate(std::chrono::seconds(2));
  }
  ~Ser2net() { stop(); }
  Ser2net(const Ser2net&) = delete;
  Ser2net& operator=(const Ser2net&) = delete;

 private:
  std::optional<provhil::Child> child_;
};

}  // namespace provhil::test
