#pragma once
// Test helper: runs a simulated board as a child process on a real pty and reads it like a serial port.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace provhil::test {

class PtyBoard {
 public:
  // Starts `program args...` with its stdin/stdout on the pty's slave side; stderr goes to `stderr_file`.
  PtyBoard(const std::string& program, const std::vector<std::string>& args,
           std::filesystem::path stderr_file);
  ~PtyBoard();
  PtyBoard(const PtyBoard&) = delete;
  PtyBoard& operator=(const PtyBoard&) = delete;

  void send(std::string_view text);
  // Waits until `needle` appears after the read cursor; moves the cursor past it. Returns the text from
  // the old cursor through the match, or nullopt after `timeout`.
  std::optional<std::string> expect(std::string_view needle,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(15));
  std::optional<std::smatch> expect_regex(const std::string& pattern,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Reads for `duration` (for "must not happen" checks) and returns what arrived after the cursor.
  std::string read_for(std::chrono::milliseconds duration);
  // Everything printed so far, and what is after the cursor.
  const std::string& output() const { return output_; }
  std::string unread() const { return output_.substr(cursor_); }
  void skip_to_end() { cursor_ = output_.size(); }

  void signal(int number);
  // Waits for the child to exit: its exit code (128 + signal when killed), or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool closed() const { return closed_; }  // the slave side went away (EIO on the master)
  std::string stderr_text() const;

 private:
  void pump(std::chrono::milliseconds max_wait);

  int master_ = -1;
  pid_t pid_ = -1;
  bool closed_ = false;
  std::optional<int> exit_code_;
  std::string output_;
  std::size_t cursor_ = 0;
  std::string last_regex_subject_;
  std::filesystem::path stderr_file_;
};

}  // namespace provhil::test
