// RFC 2217 against raw TCP through the same ser2net, on loopback (issue 14's benchmark; not part of ctest).
// One pty plays the board (this process writes its master); one Debian ser2net serves the slave twice, as
// `telnet(rfc2217)` and as raw `tcp` (one client at a time, so the two take turns). For each, ROUNDS
// times interleaved: bytes per second from the board to the harness (random bytes, 0xFF among them, so
// RFC 2217 pays for its escaping), then the expect latency (the board writes a line, Console::expect
// returns it) over LINES lines. Targets: RFC 2217 at least 90% of raw, expect p99 under 2 ms.
//
// Usage: bench_rfc2217 [MEGABYTES=20] [LINES=2000] [ROUNDS=3]   (build it with the release preset)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/process.hpp"
#include "console/console.hpp"
#include "serial/port.hpp"

using namespace provhil;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
      throw std::runtime_error(fmt::format("write: {}", std::strerror(errno)));
    } else {
      pollfd pfd{fd, POLLOUT, 0};
      ::poll(&pfd, 1, 100);
    }
  }
}

std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::unique_ptr<serial::Port> open_when_listening(const std::string& url) {
  auto deadline = Clock::now() + 20s;
  serial::OpenOptions options;
  options.warning = [](const std::string&) {};  // a pty has no modem lines: expected
  for (;;) {
    try {
      return serial::open_port(serial::parse_port_spec(url), options);
    } catch (const serial::PortError&) {
      if (Clock::now() >= deadline) throw;
      std::this_thread::sleep_for(50ms);
    }
  }
}

struct Figures {
  double bytes_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
};

Figures measure(const std::string& url, int master, const std::string& payload, int lines) {
  Figures figures;
  // Ready once a line written now comes through: ser2net opens the device when the client connects, and
  // turns a client away ("Port's device already in use") while the previous connection still holds it.
  std::unique_ptr<serial::Port> port;
  auto deadline = Clock::now() + 20s;
  while (!port) {
    if (Clock::now() > deadline) throw std::runtime_error(url + ": no data through ser2net");
    auto candidate = open_when_listening(url);
    std::string seen;
    for (int tries = 0; tries < 25 && seen.find("sync") == std::string::npos; ++tries) {
      write_all(master, "sync\n");
      char chunk[256];
      auto result = candidate->read(chunk, Clock::now() + 200ms);
      if (result.status == serial::ReadStatus::vanished) break;
      if (result.status == serial::ReadStatus::data) seen.append(chunk, result.size);
    }
    if (seen.find("sync") != std::string::npos)
      port = std::move(candidate);
    else
      std::this_thread::sleep_for(50ms);
  }
  std::vector<char> buffer(65536);
  while (port->read(buffer, Clock::now() + 50ms).status == serial::ReadStatus::data) {
  }

  // Throughput: the board writes the payload; the harness reads all of it through the port.
  std::thread board([&] { write_all(master, payload); });
  std::size_t got = 0;
  auto started = Clock::now();
  while (got < payload.size()) {
    auto result = port->read(buffer, Clock::now() + 20s);
    if (result.status != serial::ReadStatus::data)
      throw std::runtime_error(
          fmt::format("{}: read after {} of {} bytes: {}", url, got, payload.size(), result.reason));
    got += result.size;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  board.join();
  figures.bytes_per_second = static_cast<double>(payload.size()) / seconds;

  // Latency: a line from the board until expect returns it.
  console::Console console(*port, {});
  std::vector<double> samples;
  for (int i = 0; i < lines; ++i) {
    auto text = fmt::format("[{}] Ready (ping: {}ms)\r\n", 1000 + i, i);
    auto pattern = console::Pattern::literal(fmt::format("(ping: {}ms)", i));
    auto before = Clock::now();
    write_all(master, text);
    auto result = console.expect(pattern, 10s);
    if (!result.ok()) throw std::runtime_error("expect: " + result.describe());
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
  }
  std::sort(samples.begin(), samples.end());
  figures.p50_us = samples[samples.size() / 2];
  figures.p99_us = samples[samples.size() * 99 / 100];
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t megabytes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20;
  int lines = argc > 2 ? std::atoi(argv[2]) : 2000;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 3;

  int master = -1;
  int slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return 1;
  termios raw{};
  ::tcgetattr(slave, &raw);
  ::cfmakeraw(&raw);
  ::tcsetattr(slave, TCSANOW, &raw);
  std::string slave_path = ::ttyname(slave);

  auto dir = std::filesystem::temp_directory_path() / fmt::format("bench-rfc2217-{}", ::getpid());
  std::filesystem::create_directories(dir);
  auto rfc_port = free_loopback_port();
  auto raw_port = free_loopback_port();
  {
    // docs/remote-boards.md's connection, and a raw one beside it on the same device.
    std::ofstream config(dir / "ser2net.yaml");
    config << fmt::format(
        "connection: &rfc2217\n"
        "  accepter: telnet(rfc2217),tcp,127.0.0.1,{0}\n"
        "  connector: serialdev,{2},115200n81,local\n"
        "  options:\n    max-connections: 1\n    kickolduser: false\n    chardelay: false\n"
        "connection: &raw\n"
        "  accepter: tcp,127.0.0.1,{1}\n"
        "  connector: serialdev,{2},115200n81,local\n"
        "  options:\n    max-connections: 1\n    kickolduser: false\n    chardelay: false\n",
        rfc_port, raw_port, slave_path);
  }
  ProcessOptions daemon;
  daemon.argv = {"ser2net", "-n", "-d", "-c", (dir / "ser2net.yaml").string(), "-P", (dir / "pid").string()};
  for (const char* sbin : {"/usr/sbin/ser2net", "/usr/bin/ser2net"})
    if (std::filesystem::exists(sbin)) daemon.argv[0] = sbin;
  Child ser2net(daemon);

  std::string payload(megabytes * 1000 * 1000, '\0');
  std::mt19937 random(42);
  for (auto& c : payload)
    c = static_cast<char>(random() & 0xFF);

  std::vector<double> rfc_rate, raw_rate, rfc_p99, raw_p99, rfc_p50, raw_p50;
  for (int round = 0; round < rounds; ++round) {
    for (bool rfc : {true, false}) {
      auto url =
          rfc ? fmt::format("rfc2217://127.0.0.1:{}", rfc_port) : fmt::format("tcp://127.0.0.1:{}", raw_port);
      auto figures = measure(url, master, payload, lines);
      fmt::print("round {} {:8} {:7.1f} MB/s  expect p50 {:6.0f} us  p99 {:6.0f} us\n", round + 1,
                 rfc ? "rfc2217" : "tcp raw", figures.bytes_per_second / 1e6, figures.p50_us, figures.p99_us);
      std::fflush(stdout);
      (rfc ? rfc_rate : raw_rate).push_back(figures.bytes_per_second);
      (rfc ? rfc_p99 : raw_p99).push_back(figures.p99_us);
      (rfc ? rfc_p50 : raw_p50).push_back(figures.p50_us);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double rfc = median(rfc_rate);
  double tcp = median(raw_rate);
  fmt::print(
      "median of {} rounds: rfc2217 {:.1f} MB/s, tcp raw {:.1f} MB/s: rfc2217 = {:.0f}% of raw (target >= "
      "90%)\n",
      rounds, rfc / 1e6, tcp / 1e6, 100 * rfc / tcp);
  fmt::print(
      "expect latency (median of rounds): rfc2217 p50 {:.0f} us p99 {:.0f} us, tcp raw p50 {:.0f} us p99 "
      "{:.0f} us "
      "(target p99 < 2000 us)\n",
      median(rfc_p50), median(rfc_p99), median(raw_p50), median(raw_p99));
  ser2net.terminate(2s);
  std::filesystem::remove_all(dir);
  ::close(master);
  ::close(slave);
  return 0;
}
