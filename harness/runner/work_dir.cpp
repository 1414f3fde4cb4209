#include "runner/work_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace provhil::runner {

namespace {

constexpr const char* prefix = "provhil-run-";
constexpr const char* lock_name = ".lock";

}  // namespace

std::optional<WorkDir> WorkDir::create(std::string& error, const std::filesystem::path& parent) {
  std::string pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    error = fmt::format("cannot create a work folder like {}: {}", pattern, std::strerror(errno));
    return std::nullopt;
  }
  std::filesystem::path path = pattern;
  // Locked under a temporary name, then renamed: a cleaner only looks at `.lock`, so it can never
  // take the lock of a folder in the moment between its creation and its locking.
  auto temp = path / ".lock.new";
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0 || ::rename(temp.c_str(), (path / lock_name).c_str()) != 0) {
    error = fmt::format("cannot lock the work folder {}: {}", path.string(), std::strerror(errno));
    if (fd >= 0) ::close(fd);
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
    return std::nullopt;
  }
  return WorkDir(std::move(path), fd);
}

WorkDir::WorkDir(WorkDir&& other) noexcept : path_(std::move(other.path_)), lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
  other.path_.clear();
}

WorkDir::~WorkDir() {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::size_t remove_dead_work_dirs(const std::filesystem::path& parent) {
  std::size_t removed = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    struct stat info {};
    if (::lstat(it->path().c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::geteuid())
      continue;
    int fd = ::open((it->path() / lock_name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // still being created, or not ours to judge
    bool dead = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (dead) {
      std::error_code ignored;
      std::filesystem::remove_all(it->path(), ignored);
      ++removed;
    }
    ::close(fd);
  }
  return removed;
}

}  // namespace provhil::runner
