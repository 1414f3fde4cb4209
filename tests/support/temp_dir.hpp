#pragma once

#include <filesystem>

namespace provhil::test {

// A fresh directory under the system temp folder, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& child) const { return path_ / child; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path` (creating parent folders) and returns the path.
std::filesystem::path write_file(const std::filesystem::path& path, const std::string& content);
// Reads a whole file; throws when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace provhil::test
