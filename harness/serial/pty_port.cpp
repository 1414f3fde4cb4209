// A command spawned on a pseudo-terminal: the simulated board, or any program in tests.
#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/process.hpp"
#include "serial/detail/fd_port.hpp"

namespace provhil::serial {

namespace {

class PtyPort final : public detail::FdPort {
 public:
  explicit PtyPort(const SpawnOptions& options)
      : FdPort(fmt::format("pty:{}", fmt::join(options.argv, " "))), grace_(options.terminate_grace) {
    if (options.argv.empty()) throw PortError(name(), "no command to spawn");
    spawn(options);
  }
  ~PtyPort() override { PtyPort::close(); }

  void close() override {
    FdPort::close();
    reap_with_grace();
  }

  std::string describe() const override {
    return fmt::format("pty {} (pid {}: {})", slave_name_, pid_, name().substr(4));
  }
  PortKind kind() const override { return PortKind::pty; }
  PortCapabilities capabilities() const override {
    return {.modem_lines = false, .signal = true, .write = true};
  }
  std::optional<int> child_pid() const override { return pid_; }

  void send_signal(int signal_number) override {
    std::lock_guard lock(child_mutex_);
    if (exit_text_) throw PortError(describe(), fmt::format("cannot signal: {}", *exit_text_));
    if (::kill(pid_, signal_number) != 0)
      throw PortError(describe(), fmt::format("kill({}): {}", signal_number, detail::errno_text(errno)));
  }

 protected:
  std::string explain_vanish(const std::string& cause) override {
    // The slave closes as the child exits; its exit status follows within moments. Wait briefly for it,
    // so the reason says "exited with status 3" rather than only "hang-up".
    std::lock_guard lock(child_mutex_);
    if (child_ && child_->wait_for(std::chrono::milliseconds(50))) note_exit();
    if (exit_text_) return fmt::format("{}: {}", cause, *exit_text_);
    return fmt::format("{}: the child (pid {}) closed the terminal", cause, pid_);
  }

 private:
  void note_exit() {
    if (auto status = child_->try_wait(); status && !exit_text_)
      exit_text_ = fmt::format("child pid {} {}", pid_, status->describe());
  }

  void reap_with_grace() {
    std::lock_guard lock(child_mutex_);
    if (!child_) return;
    // The child leads its own session and process group: its helpers end with it.
    child_->terminate(grace_);
    note_exit();
  }

  void spawn(const SpawnOptions& options) {
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) throw PortError(name(), fmt::format("posix_openpt: {}", detail::errno_text(errno)));
    char slave_path[128];
    if (::grantpt(master) != 0 || ::unlockpt(master) != 0 ||
        ::ptsname_r(master, slave_path, sizeof slave_path) != 0) {
      int error = errno;
      ::close(master);
      throw PortError(name(), fmt::format("pty setup: {}", detail::errno_text(error)));
    }
    slave_name_ = slave_path;
    int slave = ::open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
      int error = errno;
      ::close(master);
      throw PortError(name(), fmt::format("open {}: {}", slave_name_, detail::errno_text(error)));
    }
    // Raw like a UART: no echo of what we send, no CR/LF translation, no line editing or signals.
    termios settings{};
    ::tcgetattr(slave, &settings);
    ::cfmakeraw(&settings);
    ::tcsetattr(slave, TCSANOW, &settings);
    try {
      // The child opens the slave itself as a new session's leader, so it becomes its controlling
      // terminal (the board's console can hang up and signal it).
      child_.emplace(ProcessOptions{.argv = options.argv,
                                    .env = options.env,
                                    .inherit_only = options.inherit_only,
                                    .working_dir = options.working_dir,
                                    .terminal = slave_name_});
    } catch (const SpawnError& error) {
      ::close(slave);
      ::close(master);
      throw PortError(name(), error.what());
    }
    ::close(slave);  // only the child holds the slave now: its exit hangs up the master
    pid_ = child_->pid();
    attach(master, false);
  }

  std::chrono::milliseconds grace_;
  std::string slave_name_;
  int pid_ = -1;
  std::mutex child_mutex_;
  std::optional<Child> child_;
  std::optional<std::string> exit_text_;
};

}  // namespace

std::unique_ptr<Port> spawn_pty(const SpawnOptions& options) {
  return std::make_unique<PtyPort>(options);
}

}  // namespace provhil::serial
