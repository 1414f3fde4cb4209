#pragma once
// The run's private work folder (/tmp/provhil-run-XXXXXX, mode 0700): simulator state files, AP
// endpoint files and the unmasked raw serial logs. The run holds an flock on its `.lock` for its
// whole life, so a folder whose lock can be taken belongs to a run that died (kill -9): the next run
// and `provhil report --rebuild` remove such folders, secrets and all.
#include <filesystem>
#include <optional>
#include <string>

namespace provhil::runner {

class WorkDir {
 public:
  // Creates and locks a fresh folder under `parent`; nothing and `error` set when it cannot.
  static std::optional<WorkDir> create(std::string& error, const std::filesystem::path& parent = "/tmp");
  WorkDir(WorkDir&& other) noexcept;
  WorkDir& operator=(WorkDir&&) = delete;
  WorkDir(const WorkDir&) = delete;
  ~WorkDir();  // removes the folder and releases the lock

  const std::filesystem::path& path() const { return path_; }

 private:
  WorkDir(std::filesystem::path path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::filesystem::path path_;
  int lock_fd_ = -1;
};

// Removes every provhil-run-* folder under `parent` (owned by this user) whose run is gone. Returns
// how many it removed. Never touches a folder a live run holds, nor one still being created.
std::size_t remove_dead_work_dirs(const std::filesystem::path& parent = "/tmp");

}  // namespace provhil::runner
