#include "common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace provhil {

std::optional<std::string> read_file_capped(const std::filesystem::path& file, std::size_t max_bytes,
                                            std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::string> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  // O_NONBLOCK: a FIFO with no writer reads as empty instead of hanging the loader.
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  // The OS's reason alone: callers already say which file they could not read.
  if (fd < 0) return fail(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) return fail(fmt::format("cannot read: {}", std::strerror(errno)));
  if (S_ISDIR(info.st_mode)) return fail(std::strerror(EISDIR));  // the OS's words: "Is a directory"
  if (S_ISREG(info.st_mode) && static_cast<std::uintmax_t>(info.st_size) > max_bytes)
    return fail(fmt::format("larger than {} bytes ({} bytes)", max_bytes, info.st_size));
  std::string text;
  // Devices and pipes have no size: read at most one byte past the cap to tell "too large".
  std::size_t reserve = S_ISREG(info.st_mode) ? static_cast<std::size_t>(info.st_size) : 4096;
  text.reserve(reserve);
  char buffer[65536];
  for (;;) {
    std::size_t room = max_bytes + 1 - text.size();
    ssize_t got = ::read(fd, buffer, std::min(sizeof buffer, room));
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;  // a pipe with nothing more now: what was there is the file
      return fail(fmt::format("cannot read: {}", std::strerror(errno)));
    }
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
    if (text.size() > max_bytes) return fail(fmt::format("larger than {} bytes", max_bytes));
  }
  return text;
}

}  // namespace provhil
