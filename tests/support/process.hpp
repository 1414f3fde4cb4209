#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace provhil::test {

struct ProcessResult {
  int exit_code = -1;      // exit status, or 128 + signal number when killed by a signal
  bool timed_out = false;  // the child was killed because the deadline passed
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::string working_dir;                 // empty: the current directory
  std::map<std::string, std::string> env;  // added to (or overriding) the inherited environment
  std::string stdin_text;                  // written to the child's stdin, then closed
};

// Runs argv[0] (searched in PATH) as a real child process and collects its output and exit code.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// "exit N" and both streams, for a failed expectation's message.
std::string describe(const ProcessResult& result);

// A descriptor without close-on-exec, as Asio opens its sockets, numbered 200 or above (away from the
// one a shell opens to list its own), for tests that a child inherits nothing. The caller closes it.
int open_inheritable_descriptor();

}  // namespace provhil::test
