// A board "on another lab host": the test owns a pty pair and plays the board on its master side, a real
// ser2net (Debian package) serves the slave on loopback, and the console drives it through tcp://.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "console/console.hpp"
#include "support/ser2net.hpp"
#include "support/temp_dir.hpp"

namespace provhil::console {
namespace {

using namespace std::chrono_literals;

using provhil::test::find_ser2net;
using provhil::test::free_loopback_port;
using provhil::test::read_master;

TEST(Ser2net, ConsoleDrivesABoardServedByRealSer2net) {
  auto ser2net = find_ser2net();
  ASSERT_FALSE(ser2net.empty())
      << "ser2net is not installed: apt-get install ser2net (scripts/setup.sh does)";
  int master = -1;
  int slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  termios raw{};
  ::tcgetattr(slave, &raw);
  ::cfmakeraw(&raw);
  ::tcsetattr(slave, TCSANOW, &raw);
  std::string slave_path = ::ttyname(slave);

  provhil::test::TempDir dir;
  auto port_number = free_loopback_port();
  auto config = provhil::test::write_file(dir / "ser2net.yaml",
                                          "connection: &board\n"
                                          "  accepter: tcp,127.0.0.1," +
                                              std::to_string(port_number) +
                                              "\n"
                                              "  connector: serialdev," +
                                              slave_path + ",115200n81,local\n");
  serial::SpawnOptions daemon;
  daemon.argv = {ser2net, "-n", "-d", "-c", config.string(), "-P", (dir / "ser2net.pid").string()};
  daemon.terminate_grace = 2s;
  auto ser2net_process = serial::spawn_pty(daemon);

  // ser2net needs a moment to listen: retry the connect until a generous deadline.
  std::unique_ptr<serial::Port> port;
  auto deadline = Clock::now() + 10s;
  while (!port) {
    try {
      port = serial::open_port(serial::parse_port_spec("tcp://127.0.0.1:" + std::to_string(port_number)));
    } catch (const serial::PortError& error) {
      ASSERT_LT(Clock::now(), deadline) << error.what();
      std::this_thread::sleep_for(50ms);
    }
  }
  Console console(*port, {});
  std::this_thread::sleep_for(100ms);  // ser2net opens the device when the client connects

  std::string boot = "[120] Blynk.Edgent v0.9.1 on ESP32\r\n[150] State: WAIT_CONFIG\r\n";
  ASSERT_EQ(::write(master, boot.data(), boot.size()), static_cast<ssize_t>(boot.size()));
  auto state = console.expect(Pattern::regex("State: (?<state>\\w+)"), 10s);
  ASSERT_TRUE(state.ok()) << state.describe();
  EXPECT_EQ(state.captures.at("state"), "WAIT_CONFIG");

  console.send_line("config erase");
  EXPECT_NE(read_master(master, "config erase\r\n", 10s).find("config erase\r\n"), std::string::npos);

  // ser2net goes away (lab host rebooted): the console says so at once.
  ser2net_process->close();
  auto gone = console.expect(Pattern::literal("never"), 10s);
  EXPECT_EQ(gone.status, ExpectStatus::vanished) << gone.describe();
  ::close(master);
  ::close(slave);
}

}  // namespace
}  // namespace provhil::console
