#pragma once
// Internal: the part every file-descriptor backend shares (pty, tcp, libserialport): poll-based read with a
// steady_clock deadline and an eventfd to interrupt it, vanish on hang-up/EIO/EOF, write with a deadline.
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <string>

#include "serial/port.hpp"

namespace provhil::serial::detail {

class FdPort : public Port {
 public:
  ~FdPort() override;
  ReadResult read(std::span<char> buffer, Clock::time_point deadline) override;
  void write(std::string_view bytes) override;
  void interrupt() override;
  void close() override;

 protected:
  explicit FdPort(std::string name);
  // Uses `fd` (made non-blocking); closes it on close() when `owns_fd`. Call from the backend's constructor.
  void attach(int fd, bool is_socket, bool owns_fd = true);
  // Called once when the fd hangs up; the backend may add detail (a child's exit status).
  virtual std::string explain_vanish(const std::string& cause) { return cause; }
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  // Clears the vanished state after a backend re-attached a new fd (USB re-enumeration).
  void reattach(int fd);

  std::chrono::milliseconds write_timeout_{10000};

 private:
  ReadResult vanish(const std::string& cause);

  std::string name_;
  int fd_ = -1;
  int wake_fd_ = -1;
  bool is_socket_ = false;
  bool owns_fd_ = true;
  std::atomic<bool> closed_{false};
  mutable std::mutex mutex_;  // guards vanished_
  std::string vanished_;
};

// "/proc" scan: the processes that have `device` open; empty when none is found (or /proc cannot
// tell). This process's descriptor `own_fd` does not count (the one it is trying to lock); its other
// descriptors of the device do.
std::vector<PortHolder> find_holders(const std::string& device, int own_fd = -1);

// flock(LOCK_EX|LOCK_NB); throws PortBusy naming the holders (never `fd` itself) when another open file
// holds it, PortError on any other failure.
void lock_exclusive(int fd, const std::string& device);

// Enumeration from sysfs (sp_list_ports would open every serial8250 port, the console among them).
std::vector<PortInfo> list_ports_in(const std::filesystem::path& sys_class_tty,
                                    const std::filesystem::path& dev_dir,
                                    const std::filesystem::path& by_id_dir);

std::string errno_text(int error);

// A connected TCP socket (non-blocking, close-on-exec, TCP_NODELAY, keep-alive) to host:port, trying each
// address until `deadline`. Throws PortError naming `port_name`.
int connect_tcp_socket(const std::string& port_name, const std::string& host, std::uint16_t port,
                       Clock::time_point deadline);

// A connected TCP socket's server address and its own inode, taken while it is connected (a server that
// resets the connection leaves getpeername nothing to say).
struct TcpIdentity {
  sockaddr_storage peer{};
  unsigned long inode = 0;
  bool known = false;
};
TcpIdentity tcp_identity(int fd);

// "/proc" scan: the processes with an established TCP connection to the same server address and port as
// `self`, other than `self`'s own socket: who else on this host talks to a remote port's server. Empty
// when none is found or /proc cannot tell.
std::vector<PortHolder> find_tcp_peers(const TcpIdentity& self);
// What to do about an open() that failed with `error`: for EACCES on a serial device, the dialout
// group (Debian's owner group of /dev/ttyUSB*, /dev/ttyACM*); empty otherwise. Starts with a space.
std::string open_error_hint(int error);

}  // namespace provhil::serial::detail
