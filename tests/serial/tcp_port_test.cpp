#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "read_helpers.hpp"
#include "serial/port.hpp"
#include "support/loopback.hpp"

namespace provhil::serial {
namespace {

using namespace std::chrono_literals;

// A one-connection loopback server standing in for ser2net's raw mode.
class LoopbackServer {
 public:
  ~LoopbackServer() {
    if (client_fd_ >= 0) ::close(client_fd_);
  }
  std::uint16_t port() const { return port_; }
  void accept_one() {
    pollfd pfd{listener_->fd, POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
    client_fd_ = ::accept4(listener_->fd, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(client_fd_, 0);
  }
  void send_text(const std::string& text) {
    ASSERT_EQ(::send(client_fd_, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
  }
  std::string receive(std::size_t count) {
    std::string text;
    char buffer[256];
    while (text.size() < count) {
      pollfd pfd{client_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 10000) != 1) break;
      auto n = ::recv(client_fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
  }
  void close_client() {
    ::close(client_fd_);
    client_fd_ = -1;
  }
  void close_listener() { listener_.reset(); }

 private:
  std::optional<provhil::test::LoopbackListener> listener_{std::in_place, 1};
  std::uint16_t port_ = listener_->port;
  int client_fd_ = -1;
};

TEST(TcpPort, BytesBothWaysThenPeerCloseIsAVanish) {
  LoopbackServer server;
  auto port = open_port(parse_port_spec("tcp://127.0.0.1:" + std::to_string(server.port())));
  server.accept_one();
  EXPECT_EQ(port->kind(), PortKind::tcp);
  EXPECT_FALSE(port->capabilities().modem_lines);
  server.send_text("[1200] Connecting to WiFi\r\n");
  EXPECT_EQ(test::read_until(*port, "\r\n"), "[1200] Connecting to WiFi\r\n");
  port->write("config erase\r\n");
  EXPECT_EQ(server.receive(14), "config erase\r\n");

  auto reader_start = Clock::now();
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    server.close_client();
  });
  ReadResult last;
  test::read_until(*port, "never", 10s, &last);
  closer.join();
  EXPECT_EQ(last.status, ReadStatus::vanished);
  EXPECT_NE(last.reason.find("closed by peer"), std::string::npos) << last.reason;
  EXPECT_LT(Clock::now() - reader_start, 5s);
  EXPECT_THROW(port->write("x"), PortError);
}

TEST(TcpPort, RefusedConnectionNamesThePort) {
  std::uint16_t unused = 0;
  {
    LoopbackServer server;
    unused = server.port();
    server.close_listener();
  }
  try {
    connect_tcp("127.0.0.1", unused, 2s);
    FAIL() << "connected to a closed port";
  } catch (const PortError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("tcp://127.0.0.1:" + std::to_string(unused)), std::string::npos) << what;
    EXPECT_NE(what.find("refused"), std::string::npos) << what;
  }
}

TEST(TcpPort, UnknownHostIsAClearError) {
  try {
    connect_tcp("no-such-host.invalid", 4000, 2s);
    FAIL() << "resolved";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("cannot resolve"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace provhil::serial
