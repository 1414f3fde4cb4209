// A raw TCP byte stream, as ser2net serves a board attached to another lab host.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "serial/detail/fd_port.hpp"

namespace provhil::serial {

namespace {

class TcpPort final : public detail::FdPort {
 public:
  TcpPort(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout)
      : FdPort(fmt::format("tcp://{}:{}", host, port)) {
    attach(detail::connect_tcp_socket(name(), host, port, Clock::now() + timeout), true);
  }
  std::string describe() const override { return name(); }
  PortKind kind() const override { return PortKind::tcp; }
  PortCapabilities capabilities() const override {
    return {.modem_lines = false, .signal = false, .write = true};
  }
};

}  // namespace

int detail::connect_tcp_socket(const std::string& port_name, const std::string& host, std::uint16_t port,
                               Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    throw PortError(port_name, fmt::format("cannot resolve host \"{}\": {}", host, ::gai_strerror(rc)));
  std::string last_error = "no address";
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = detail::errno_text(errno);
      continue;
    }
    int error = 0;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        pollfd pfd{fd, POLLOUT, 0};
        int left = static_cast<int>(
            std::max<long>(0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count()));
        int ready;
        do {
          ready = ::poll(&pfd, 1, left);
        } while (ready < 0 && errno == EINTR);
        if (ready == 0) {
          error = ETIMEDOUT;
        } else {
          socklen_t size = sizeof error;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
        }
      }
    }
    if (error == 0) {
      ::freeaddrinfo(found);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
      return fd;
    }
    last_error = error == ETIMEDOUT ? "connect timed out" : detail::errno_text(error);
    ::close(fd);
    if (Clock::now() >= deadline) break;
  }
  ::freeaddrinfo(found);
  throw PortError(port_name, fmt::format("cannot connect: {}", last_error));
}

std::unique_ptr<Port> connect_tcp(const std::string& host, std::uint16_t port,
                                  std::chrono::milliseconds connect_timeout) {
  return std::make_unique<TcpPort>(host, port, connect_timeout);
}

}  // namespace provhil::serial
