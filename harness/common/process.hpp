#pragma once
// The one way provhil starts a host process: reset commands, `exec` steps and AP join commands
// (run_process), and the simulated board on its pty (Child with a terminal).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace provhil {

// The process could not be started (not found, not executable, bad working directory, no pipe).
class SpawnError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ExitStatus {
  int code = -1;   // exit status when it exited
  int signal = 0;  // the signal that killed it, else 0
  // The shell's convention: the exit status, or 128 + the signal.
  int shell_code() const { return signal != 0 ? 128 + signal : code; }
  // "exited with status 3", "was killed by signal 9 (Killed)".
  std::string describe() const;
};

struct ProcessOptions {
  std::vector<std::string> argv;           // argv[0] is searched in PATH
  std::map<std::string, std::string> env;  // added to (or overriding) the inherited environment
  // When set, only these variables are inherited (plus `env`): a child that needs no secrets gets none.
  std::optional<std::vector<std::string>> inherit_only;
  std::filesystem::path working_dir;  // empty: the current directory
  // Empty: stdin is /dev/null, stdout and stderr go to one pipe (Child::output_fd) and the child leads
  // a new process group. A path: the terminal is opened as stdin, stdout and stderr, and the child
  // leads a new session, the terminal becoming its controlling terminal.
  std::filesystem::path terminal;
};

// A started process, leader of its own process group. It inherits no descriptor beyond its stdio
// (Asio opens sockets without close-on-exec), its signal mask is empty and the signals a runner
// handles are back to their defaults. The destructor kills the group and reaps the child if that
// has not happened yet. Started with posix_spawn, never fork: a runner with a thread per board would
// copy its page tables for each child only for exec to throw them away.
class Child {
 public:
  explicit Child(const ProcessOptions& options);  // throws SpawnError
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  ~Child();

  int pid() const { return pid_; }
  // The read end of the stdout/stderr pipe (no terminal given), else -1. Owned by the Child.
  int output_fd() const { return output_fd_; }
  // Becomes readable when the child has ended (a pidfd), for poll.
  int exit_fd() const { return exit_fd_; }
  void close_output();

  // Reaps the child when it has ended; its status once reaped.
  std::optional<ExitStatus> try_wait();
  // Waits up to `timeout` for the child to end (event-driven on the pidfd).
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // Sends `signal` to the whole process group (ignored once reaped).
  void signal_group(int signal);
  // SIGTERM (and SIGCONT) to the group, SIGKILL after `grace`; reaps. Its status.
  ExitStatus terminate(std::chrono::milliseconds grace);

 private:
  int pid_ = -1;
  int output_fd_ = -1;
  int exit_fd_ = -1;
  std::optional<ExitStatus> status_;
};

struct ProcessResult {
  ExitStatus status;
  bool started = true;       // false: it could not be started (`output` says why)
  bool timed_out = false;    // the deadline passed: the group was killed
  bool interrupted = false;  // `interrupted` was set: the group was killed
  std::string output;        // stdout and stderr interleaved, the last `output_limit` bytes
};

// Runs a process to its end: output captured, the whole group killed (SIGKILL) at the deadline or
// as soon as `interrupted` is set (checked every 100 ms). Returns once the child has ended and the
// output pipe is closed (or at the deadline: a background helper holding the pipe is killed too).
ProcessResult run_process(const ProcessOptions& options, std::chrono::steady_clock::time_point deadline,
                          const std::atomic<bool>* interrupted = nullptr,
                          std::size_t output_limit = 64 * 1024);

}  // namespace provhil
