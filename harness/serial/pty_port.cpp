// A command spawned on a pseudo-terminal: the simulated board, or any program in tests.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "serial/detail/fd_port.hpp"

extern char** environ;

namespace provhil::serial {

namespace {

std::string join(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  return text;
}

std::string describe_status(int pid, int status) {
  if (WIFEXITED(status)) return fmt::format("child pid {} exited with status {}", pid, WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("child pid {} was killed by signal {} ({})", pid, WTERMSIG(status),
                       ::strsignal(WTERMSIG(status)));
  return fmt::format("child pid {} ended (status {:#x})", pid, status);
}

class PtyPort final : public detail::FdPort {
 public:
  explicit PtyPort(const SpawnOptions& options)
      : FdPort(fmt::format("pty:{}", join(options.argv))), grace_(options.terminate_grace) {
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
    if (reaped_) throw PortError(describe(), fmt::format("cannot signal: {}", exit_text_));
    if (::kill(pid_, signal_number) != 0)
      throw PortError(describe(), fmt::format("kill({}): {}", signal_number, detail::errno_text(errno)));
  }

 protected:
  std::string explain_vanish(const std::string& cause) override {
    // The slave closes as the child exits; its exit status follows within moments. Wait briefly for it,
    // so the reason says "exited with status 3" rather than only "hang-up".
    auto until = Clock::now() + std::chrono::milliseconds(50);
    while (!try_reap() && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard lock(child_mutex_);
    if (reaped_) return fmt::format("{}: {}", cause, exit_text_);
    return fmt::format("{}: the child (pid {}) closed the terminal", cause, pid_);
  }

 private:
  bool try_reap() {
    std::lock_guard lock(child_mutex_);
    if (reaped_) return true;
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) {
      reaped_ = true;
      exit_text_ = done == pid_ ? describe_status(pid_, status) : fmt::format("child pid {} is gone", pid_);
      return true;
    }
    return false;
  }

  void reap_with_grace() {
    if (pid_ <= 0 || try_reap()) return;
    // The child is the leader of its own session and process group: end its helpers too.
    ::kill(-pid_, SIGTERM);
    ::kill(pid_, SIGCONT);
    auto until = Clock::now() + grace_;
    while (Clock::now() < until) {
      if (try_reap()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    std::lock_guard lock(child_mutex_);
    int status = 0;
    if (!reaped_ && ::waitpid(pid_, &status, 0) == pid_) exit_text_ = describe_status(pid_, status);
    reaped_ = true;
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

    std::vector<std::string> env_storage;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      std::string_view item(*entry);
      auto key = std::string(item.substr(0, item.find('=')));
      if (options.inherit_only && std::find(options.inherit_only->begin(), options.inherit_only->end(),
                                            key) == options.inherit_only->end())
        continue;
      if (!options.env.contains(key)) env_storage.emplace_back(item);
    }
    for (const auto& [key, value] : options.env)
      env_storage.push_back(key + "=" + value);
    std::vector<char*> envp;
    for (auto& item : env_storage)
      envp.push_back(item.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_storage = options.argv;
    std::vector<char*> argv;
    for (auto& arg : argv_storage)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::string working_dir = options.working_dir.string();

    // posix_spawn, not fork: a runner with a thread per board would copy its page tables and fault
    // on copy-on-write pages for every board, only for exec to throw them away. The child starts a
    // session and opens the slave as stdin; a session leader opening a terminal without O_NOCTTY
    // makes it its controlling terminal (so the board's console can hang up and signal it).
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
    int error = ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, slave_path, O_RDWR, 0);
    if (error == 0) error = ::posix_spawn_file_actions_adddup2(&actions, STDIN_FILENO, STDOUT_FILENO);
    if (error == 0) error = ::posix_spawn_file_actions_adddup2(&actions, STDIN_FILENO, STDERR_FILENO);
    // Nothing else of ours: Asio opens sockets without close-on-exec, and a board holding the
    // interceptor's listener or a connection would keep it from closing (no FIN, no reset fault).
    if (error == 0) error = ::posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    if (error == 0 && !working_dir.empty())
      error = ::posix_spawn_file_actions_addchdir_np(&actions, working_dir.c_str());
    sigset_t none, defaults;
    ::sigemptyset(&none);
    ::sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGQUIT})
      ::sigaddset(&defaults, sig);
    ::posix_spawnattr_setsigmask(&attributes, &none);
    ::posix_spawnattr_setsigdefault(&attributes, &defaults);
    ::posix_spawnattr_setflags(&attributes,
                               POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    if (error == 0) error = ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
    ::close(slave);  // only the child holds the slave now: its exit hangs up the master
    if (error != 0) {
      ::close(master);
      throw PortError(name(), fmt::format("cannot run \"{}\"{}: {}", options.argv[0],
                                          working_dir.empty() ? "" : fmt::format(" in {}", working_dir),
                                          detail::errno_text(error)));
    }
    pid_ = pid;
    attach(master, false);
  }

  std::chrono::milliseconds grace_;
  std::string slave_name_;
  int pid_ = -1;
  mutable std::mutex child_mutex_;
  bool reaped_ = false;
  std::string exit_text_;
};

}  // namespace

std::unique_ptr<Port> spawn_pty(const SpawnOptions& options) {
  return std::make_unique<PtyPort>(options);
}

}  // namespace provhil::serial
