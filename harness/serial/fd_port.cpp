#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "serial/detail/fd_port.hpp"

namespace provhil::serial::detail {

namespace fs = std::filesystem;

std::string errno_text(int error) {
  return std::strerror(error);
}

std::string open_error_hint(int error) {
  if (error != EACCES) return {};
  return " (serial devices belong to the dialout group: sudo usermod -aG dialout $USER, then log in again)";
}

namespace {

int poll_timeout_ms(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up so a wait never ends just before its deadline and spins.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 3'600'000 ? 3'600'000 : static_cast<int>(ms);
}

}  // namespace

FdPort::FdPort(std::string name) : name_(std::move(name)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw PortError(name_, fmt::format("eventfd: {}", errno_text(errno)));
}

FdPort::~FdPort() {
  FdPort::close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void FdPort::attach(int fd, bool is_socket, bool owns_fd) {
  fd_ = fd;
  is_socket_ = is_socket;
  owns_fd_ = owns_fd;
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

void FdPort::reattach(int fd) {
  attach(fd, is_socket_, owns_fd_);
  std::lock_guard lock(mutex_);
  vanished_.clear();
}

ReadResult FdPort::vanish(const std::string& cause) {
  std::lock_guard lock(mutex_);
  if (vanished_.empty()) vanished_ = explain_vanish(cause);
  return {ReadStatus::vanished, 0, vanished_};
}

ReadResult FdPort::read(std::span<char> buffer, Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    if (!vanished_.empty()) return {ReadStatus::vanished, 0, vanished_};
  }
  if (closed_ || fd_ < 0) return {ReadStatus::vanished, 0, "port closed"};
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int ready = ::poll(fds, 2, poll_timeout_ms(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return vanish(fmt::format("poll: {}", errno_text(errno)));
    }
    if (fds[1].revents != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] auto drained = ::read(wake_fd_, &count, sizeof count);
      return {ReadStatus::timeout, 0, {}};
    }
    if (fds[0].revents != 0) {
      // Read even on POLLHUP: bytes written just before a hang-up are still delivered first.
      ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n > 0) return {ReadStatus::data, static_cast<std::size_t>(n), {}};
      if (n == 0) return vanish(is_socket_ ? "connection closed by peer" : "end of file (hang-up)");
      if (errno == EAGAIN || errno == EINTR) {
        if (fds[0].revents & (POLLHUP | POLLERR)) return vanish("hang-up");
        continue;
      }
      if (errno == EIO) return vanish("hang-up (EIO)");
      return vanish(fmt::format("read: {}", errno_text(errno)));
    }
    if (Clock::now() >= deadline) return {ReadStatus::timeout, 0, {}};
  }
}

void FdPort::write(std::string_view bytes) {
  if (closed_ || fd_ < 0) throw PortError(name_, "write on a closed port");
  {
    std::lock_guard lock(mutex_);
    if (!vanished_.empty()) throw PortError(name_, fmt::format("write failed: port vanished: {}", vanished_));
  }
  auto deadline = Clock::now() + write_timeout_;
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = is_socket_ ? ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL)
                           : ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (Clock::now() >= deadline)
        throw PortError(name_,
                        fmt::format("write timed out after {} ms ({} of {} bytes written; flow control?)",
                                    write_timeout_.count(), done, bytes.size()));
      pollfd pfd{fd_, POLLOUT, 0};
      ::poll(&pfd, 1, poll_timeout_ms(deadline));
      continue;
    }
    int error = errno;
    throw PortError(name_, fmt::format("write failed: port vanished: {}", errno_text(error)));
  }
}

void FdPort::interrupt() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
}

void FdPort::close() {
  if (closed_.exchange(true)) return;
  interrupt();
  if (fd_ >= 0 && owns_fd_) ::close(fd_);
  fd_ = -1;
}

std::vector<PortHolder> find_holders(const std::string& device, int own_fd) {
  std::error_code ec;
  auto target = fs::canonical(device, ec);
  if (ec) return {};
  const auto self = std::to_string(::getpid());
  const auto own = std::to_string(own_fd);
  std::vector<PortHolder> holders;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const auto pid = proc.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (const auto& fd_entry : fs::directory_iterator(proc.path() / "fd", fd_ec)) {
      // The descriptor being locked is ours, not a holder: a waiting run must not name itself.
      if (pid == self && fd_entry.path().filename() == own) continue;
      std::error_code link_ec;
      auto linked = fs::read_symlink(fd_entry.path(), link_ec);
      if (link_ec || linked != target) continue;
      PortHolder holder;
      holder.pid = std::stol(pid);
      std::ifstream(proc.path() / "comm") >> holder.command;
      holders.push_back(std::move(holder));
      break;
    }
  }
  return holders;
}

namespace {

// The processes that have one of `inodes` (sockets) open.
std::vector<PortHolder> socket_owners(const std::set<std::string>& inodes) {
  std::vector<PortHolder> holders;
  if (inodes.empty()) return holders;
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const auto pid = proc.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (const auto& fd_entry : fs::directory_iterator(proc.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      auto linked = fs::read_symlink(fd_entry.path(), link_ec).string();
      // "socket:[12345]"
      if (link_ec || !linked.starts_with("socket:[") || linked.size() < 10) continue;
      if (!inodes.contains(linked.substr(8, linked.size() - 9))) continue;
      PortHolder holder;
      holder.pid = std::stol(pid);
      std::ifstream(proc.path() / "comm") >> holder.command;
      holders.push_back(std::move(holder));
      break;
    }
  }
  return holders;
}

}  // namespace

TcpIdentity tcp_identity(int fd) {
  TcpIdentity identity;
  socklen_t size = sizeof identity.peer;
  struct stat own {};
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&identity.peer), &size) != 0 || ::fstat(fd, &own) != 0)
    return identity;
  identity.inode = own.st_ino;
  identity.known = true;
  return identity;
}

std::vector<PortHolder> find_tcp_peers(const TcpIdentity& self) {
  if (!self.known) return {};
  const auto& peer = self.peer;
  // The peer as /proc/net/tcp{,6} print a remote address: each 32-bit word of the address as the host
  // stores it, in hex, then the port.
  std::string v4;
  std::string v6;
  if (peer.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
    auto port = ntohs(in.sin_port);
    v4 = fmt::format("{:08X}:{:04X}", in.sin_addr.s_addr, port);
    v6 = fmt::format("0000000000000000{:08X}{:08X}:{:04X}", htonl(0xffff), in.sin_addr.s_addr, port);
  } else if (peer.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
    std::uint32_t words[4];
    std::memcpy(words, &in6.sin6_addr, sizeof words);
    v6 = fmt::format("{:08X}{:08X}{:08X}{:08X}:{:04X}", words[0], words[1], words[2], words[3],
                     ntohs(in6.sin6_port));
  } else {
    return {};
  }
  std::set<std::string> inodes;
  for (const auto& [table, remote] : {std::pair{"/proc/net/tcp", v4}, std::pair{"/proc/net/tcp6", v6}}) {
    if (remote.empty()) continue;
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::istringstream fields(line);
      std::string sl, local, rem, st, queues, timer, retransmits, uid, timeout, inode;
      if (!(fields >> sl >> local >> rem >> st >> queues >> timer >> retransmits >> uid >> timeout >> inode))
        continue;
      if (st == "01" && rem == remote && inode != std::to_string(self.inode) && inode != "0")
        inodes.insert(inode);
    }
  }
  return socket_owners(inodes);
}

void lock_exclusive(int fd, const std::string& device) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return;
  int error = errno;
  if (error == EWOULDBLOCK) throw PortBusy(device, find_holders(device, fd));
  throw PortError(device, fmt::format("flock: {}", errno_text(error)));
}

}  // namespace provhil::serial::detail
