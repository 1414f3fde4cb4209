#include "pty_board.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace provhil::test {

using Clock = std::chrono::steady_clock;

PtyBoard::PtyBoard(const std::string& program, const std::vector<std::string>& args,
                   std::filesystem::path stderr_file)
    : stderr_file_(std::move(stderr_file)) {
  master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0)
    throw std::runtime_error(std::string("posix_openpt: ") + std::strerror(errno));
  const std::string slave_name = ::ptsname(master_);
  // Raw from the start, so nothing the test types is echoed by the line discipline.
  const int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
  if (slave < 0) throw std::runtime_error("open " + slave_name + ": " + std::strerror(errno));
  termios t{};
  ::tcgetattr(slave, &t);
  ::cfmakeraw(&t);
  ::tcsetattr(slave, TCSANOW, &t);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::setsid();
    ::dup2(slave, STDIN_FILENO);
    ::dup2(slave, STDOUT_FILENO);
    const int err = ::open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err >= 0) ::dup2(err, STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(slave);
  ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
}

PtyBoard::~PtyBoard() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGTERM);
    if (!wait_exit(std::chrono::seconds(5))) {
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(5));
    }
  }
  if (master_ >= 0) ::close(master_);
}

void PtyBoard::pump(std::chrono::milliseconds max_wait) {
  if (closed_) {
    if (max_wait.count() > 0)
      ::usleep(static_cast<useconds_t>(std::min<long long>(max_wait.count(), 50) * 1000));
    return;
  }
  pollfd p{master_, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(max_wait.count()));
  if (ready <= 0) return;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(master_, buffer, sizeof buffer);
    if (n > 0) {
      output_.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    closed_ = true;  // EIO: every slave fd is closed
    return;
  }
}

void PtyBoard::send(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(master_, text.data(), text.size());
    if (n > 0) {
      text.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pump(std::chrono::milliseconds(10));
    } else {
      throw std::runtime_error(std::string("write to pty: ") + std::strerror(errno));
    }
  }
}

std::optional<std::string> PtyBoard::expect(std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto at = output_.find(needle, cursor_);
    if (at != std::string::npos) {
      auto text = output_.substr(cursor_, at + needle.size() - cursor_);
      cursor_ = at + needle.size();
      return text;
    }
    const auto now = Clock::now();
    if (now >= deadline || closed_) return std::nullopt;
    pump(std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
        std::chrono::milliseconds(100)));
  }
}

std::optional<std::smatch> PtyBoard::expect_regex(const std::string& pattern,
                                                  std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    last_regex_subject_ = output_.substr(cursor_);
    std::smatch m;
    if (std::regex_search(last_regex_subject_, m, re)) {
      cursor_ += static_cast<std::size_t>(m.position(0) + m.length(0));
      return m;
    }
    const auto now = Clock::now();
    if (now >= deadline || closed_) return std::nullopt;
    pump(std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
        std::chrono::milliseconds(100)));
  }
}

std::string PtyBoard::read_for(std::chrono::milliseconds duration) {
  const auto deadline = Clock::now() + duration;
  while (Clock::now() < deadline)
    pump(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  return unread();
}

void PtyBoard::signal(int number) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, number);
}

std::optional<int> PtyBoard::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    pump(std::chrono::milliseconds(20));
  }
}

std::string PtyBoard::stderr_text() const {
  std::ifstream file(stderr_file_);
  std::stringstream s;
  s << file.rdbuf();
  return s.str();
}

}  // namespace provhil::test
