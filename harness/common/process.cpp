#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

extern char** environ;

namespace provhil {

namespace {

std::string errno_text(int error) {
  return fmt::format("{} ({})", std::strerror(error),
                     ::strerrorname_np(error) ? ::strerrorname_np(error) : "?");
}

ExitStatus from_wait_status(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

// Owns the argument and environment strings posix_spawn reads.
struct Strings {
  explicit Strings(const std::vector<std::string>& items) : storage(items) {
    for (auto& item : storage)
      pointers.push_back(item.data());
    pointers.push_back(nullptr);
  }
  std::vector<std::string> storage;
  std::vector<char*> pointers;
};

std::vector<std::string> environment_with(const std::map<std::string, std::string>& extra,
                                          const std::optional<std::vector<std::string>>& inherit_only) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view item(*entry);
    auto key = std::string(item.substr(0, item.find('=')));
    if (inherit_only && std::find(inherit_only->begin(), inherit_only->end(), key) == inherit_only->end())
      continue;
    if (!extra.contains(key)) env.emplace_back(item);
  }
  for (const auto& [key, value] : extra)
    env.push_back(key + "=" + value);
  return env;
}

class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
};

}  // namespace

std::string ExitStatus::describe() const {
  if (signal != 0) return fmt::format("was killed by signal {} ({})", signal, ::strsignal(signal));
  return fmt::format("exited with status {}", code);
}

Child::Child(const ProcessOptions& options) {
  if (options.argv.empty()) throw SpawnError("no command to run");
  int pipe_fds[2] = {-1, -1};
  if (options.terminal.empty() && ::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw SpawnError(fmt::format("cannot run \"{}\": pipe: {}", options.argv[0], errno_text(errno)));

  Strings argv(options.argv);
  Strings envp(environment_with(options.env, options.inherit_only));
  std::string working_dir = options.working_dir.string();
  std::string terminal = options.terminal.string();

  SpawnSetup setup;
  int error = 0;
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (terminal.empty()) {
    error = ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (error == 0) error = ::posix_spawn_file_actions_adddup2(&setup.actions, pipe_fds[1], STDOUT_FILENO);
    if (error == 0) error = ::posix_spawn_file_actions_adddup2(&setup.actions, pipe_fds[1], STDERR_FILENO);
    flags |= POSIX_SPAWN_SETPGROUP;
    ::posix_spawnattr_setpgroup(&setup.attributes, 0);
  } else {
    // A session leader opening a terminal without O_NOCTTY makes it its controlling terminal (so the
    // terminal's hang-up and signals reach it).
    error = ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, terminal.c_str(), O_RDWR, 0);
    if (error == 0) error = ::posix_spawn_file_actions_adddup2(&setup.actions, STDIN_FILENO, STDOUT_FILENO);
    if (error == 0) error = ::posix_spawn_file_actions_adddup2(&setup.actions, STDIN_FILENO, STDERR_FILENO);
    flags |= POSIX_SPAWN_SETSID;
  }
  // Nothing else of ours: a child holding the interceptor's listener or a connection would keep it
  // from closing (no FIN, no reset fault).
  if (error == 0) error = ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
  if (error == 0 && !working_dir.empty())
    error = ::posix_spawn_file_actions_addchdir_np(&setup.actions, working_dir.c_str());
  sigset_t none;
  sigset_t defaults;
  ::sigemptyset(&none);
  ::sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGQUIT})
    ::sigaddset(&defaults, sig);
  ::posix_spawnattr_setsigmask(&setup.attributes, &none);
  ::posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  ::posix_spawnattr_setflags(&setup.attributes, flags);
  pid_t pid = -1;
  if (error == 0)
    error = ::posix_spawnp(&pid, argv.pointers[0], &setup.actions, &setup.attributes, argv.pointers.data(),
                           envp.pointers.data());
  if (pipe_fds[1] >= 0) ::close(pipe_fds[1]);
  if (error != 0) {
    if (pipe_fds[0] >= 0) ::close(pipe_fds[0]);
    throw SpawnError(fmt::format("cannot run \"{}\"{}: {}", options.argv[0],
                                 working_dir.empty() ? "" : fmt::format(" in {}", working_dir),
                                 errno_text(error)));
  }
  pid_ = pid;
  output_fd_ = pipe_fds[0];
  // The child cannot have been reaped yet (only we wait for it), so the pidfd names it.
  exit_fd_ =
      static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));  // glibc 2.36 declares it without C linkage
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      output_fd_(std::exchange(other.output_fd_, -1)),
      exit_fd_(std::exchange(other.exit_fd_, -1)),
      status_(std::move(other.status_)) {}

Child::~Child() {
  if (pid_ > 0 && !status_) terminate(std::chrono::milliseconds(0));
  close_output();
  if (exit_fd_ >= 0) ::close(exit_fd_);
}

void Child::close_output() {
  if (output_fd_ >= 0) ::close(output_fd_);
  output_fd_ = -1;
}

std::optional<ExitStatus> Child::try_wait() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    status_ = from_wait_status(status);
  } else if (done < 0 && errno == ECHILD) {
    status_ = ExitStatus{};  // reaped elsewhere (a SIGCHLD handler set to SIG_IGN): status unknown
  }
  return status_;
}

std::optional<ExitStatus> Child::wait_for(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto status = try_wait()) return status;
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return std::nullopt;
    if (exit_fd_ >= 0) {
      pollfd pfd{exit_fd_, POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(std::min<long>(left, 60'000)));
    } else {
      ::usleep(2000);  // no pidfd (an old kernel): look again shortly
    }
  }
}

void Child::signal_group(int signal) {
  if (pid_ <= 0 || status_) return;
  ::kill(-pid_, signal);
  ::kill(pid_, signal);  // the leader too, should it have left its group
}

ExitStatus Child::terminate(std::chrono::milliseconds grace) {
  if (auto status = try_wait()) return *status;
  if (grace.count() > 0) {
    signal_group(SIGTERM);
    signal_group(SIGCONT);
    if (auto status = wait_for(grace)) return *status;
  }
  signal_group(SIGKILL);
  int status = 0;
  pid_t done = -1;
  while ((done = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  status_ = done == pid_ ? from_wait_status(status) : ExitStatus{};
  return *status_;
}

ProcessResult run_process(const ProcessOptions& options, std::chrono::steady_clock::time_point deadline,
                          const std::atomic<bool>* interrupted, std::size_t output_limit) {
  ProcessResult result;
  ProcessOptions piped = options;
  piped.terminal.clear();
  std::optional<Child> child;
  try {
    child.emplace(piped);
  } catch (const SpawnError& error) {
    result.started = false;
    result.output = error.what();
    return result;
  }
  char buffer[8192];
  for (;;) {
    bool ended = child->try_wait().has_value();
    if (ended && child->output_fd() < 0) break;
    if (interrupted != nullptr && interrupted->load()) {
      result.interrupted = true;
      break;
    }
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    // Once the child has ended, only a helper it left behind may still hold the pipe.
    pollfd fds[2] = {{child->output_fd(), POLLIN, 0}, {ended ? -1 : child->exit_fd(), POLLIN, 0}};
    long cap = interrupted != nullptr || child->exit_fd() < 0 ? 100 : 60'000;
    int ready = ::poll(fds, 2, static_cast<int>(std::min(left, cap)));
    if (ready <= 0) continue;  // timeout or EINTR: look at the clock and the flag again
    if (fds[0].revents != 0) {
      ssize_t n = ::read(child->output_fd(), buffer, sizeof buffer);
      if (n > 0) {
        result.output.append(buffer, static_cast<std::size_t>(n));
        if (result.output.size() > output_limit) result.output.erase(0, result.output.size() - output_limit);
      } else if (n == 0 || errno != EINTR) {
        child->close_output();
      }
    }
  }
  if (result.timed_out || result.interrupted) child->signal_group(SIGKILL);
  result.status = child->terminate(std::chrono::milliseconds(0));
  return result;
}

}  // namespace provhil
