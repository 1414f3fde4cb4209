#pragma once
// The console engine over any serial::Port: a reader thread drains the port continuously (a board never
// blocks on a full buffer), frames bytes into stamped lines, logs them (raw bytes + sanitised, masked text)
// and keeps a bounded window of recent lines. expect() waits on a condition variable for any of several
// patterns, fails at once on a must-not-appear pattern or a vanished port, and carries the last lines as
// evidence. Boost.Regex stays out of this header.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secrets.hpp"
#include "serial/port.hpp"
#include "serial/reset.hpp"

namespace provhil::console {

using Clock = std::chrono::steady_clock;

// A pattern to wait for: a regex (Perl syntax, `(?<name>...)` named groups, searched anywhere in the line)
// or a literal substring. Compiled once; cheap to copy.
class Pattern {
 public:
  // Throws std::invalid_argument saying where in the pattern and why it is invalid.
  static Pattern regex(std::string_view text);
  static Pattern literal(std::string_view text);

  const std::string& text() const;
  bool is_regex() const;
  // Searches `line`; on a match fills `captures` (named groups that took part) when not null.
  bool search(std::string_view line, std::map<std::string, std::string>* captures = nullptr) const;

  struct Impl;

 private:
  explicit Pattern(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

struct Line {
  std::uint64_t seq = 0;  // 0, 1, 2, ... per console, never reused
  Clock::time_point at;   // when its last byte arrived
  std::string text;       // without the terminator; raw bytes (sanitised only in the text log)
  bool cut = false;       // longer than max_line_length: this is one slice of it
  bool partial = false;   // no terminator yet (a prompt, or a line still arriving)
};

struct ConsoleOptions {
  std::filesystem::path raw_log;   // empty: none. Bytes exactly as received.
  std::filesystem::path text_log;  // empty: none. "[t+   1234ms] line", sanitised and masked.
  // Text-log stamps count milliseconds from here (the run's start: one time base for every report
  // file); default: the console's creation.
  std::optional<Clock::time_point> epoch;
  // Secrets masked in the text log and in evidence. Owned by the caller; may be null; must outlive the
  // console.
  const SecretMasker* masker = nullptr;
  std::size_t max_line_length = 4096;      // longer lines are cut into slices
  std::size_t window_lines = 1000;         // recent lines kept for marks and evidence...
  std::size_t window_bytes = 1024 * 1024;  // ...and at most this many bytes of them
  std::size_t evidence_lines = 20;         // lines carried by a failed expect
  // A line with no terminator becomes matchable after this much silence (a prompt such as "> ").
  std::chrono::milliseconds partial_line_after{100};
  // Prompts the firmware prints without a newline; when more output follows on the same line the
  // prompt is split off as its own line, so "^\[\d+\] ..." patterns still match the next line. "+" is
  // the stray byte real ESP8266 logs carry before a stamp ("+[34157] Switching to STA...").
  std::vector<std::string> prompts{">", "> ", "+"};
};

struct ExpectRequest {
  std::vector<Pattern> any_of;    // at least one
  std::vector<Pattern> must_not;  // e.g. Guru Meditation, Backtrace:, abort()
  Clock::time_point deadline;
  // false: a match leaves the mark where it is (a look at the output, e.g. to tell the firmware's dialect).
  bool consume = true;
};

// ended: a recording (replay) ran out of lines without a match: the log does not hold what was expected.
enum class ExpectStatus { matched, timeout, forbidden, vanished, ended };
std::string_view to_string(ExpectStatus status);

struct ExpectResult {
  ExpectStatus status = ExpectStatus::timeout;
  int pattern_index = -1;  // matched: index in any_of; forbidden: index in must_not
  Line line;               // matched/forbidden: the line, raw (mask it before reporting)
  std::map<std::string, std::string> captures;
  std::vector<Line> evidence;  // not matched: the last lines received (sanitised + masked)
  std::string reason;          // not matched: a one-line explanation (masked)
  bool ok() const { return status == ExpectStatus::matched; }
  // A multi-line message for reports: the reason and the evidence, masked.
  std::string describe() const;
};

class Console {
 public:
  // Starts the reader thread. The port must outlive the console.
  Console(serial::Port& port, ConsoleOptions options);
  ~Console();  // stops the reader (the port stays open)
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Waits for a line (from the mark on) that matches any pattern. Lines that match are consumed:
  // the mark moves past the matched line. A must-not-appear line since the mark fails at once.
  // Throws std::invalid_argument when any_of is empty.
  ExpectResult expect(const ExpectRequest& request);
  ExpectResult expect(const Pattern& pattern, Clock::duration within);

  // Later expects see only lines that arrive after this call.
  void mark();
  std::uint64_t mark_seq() const;

  // Writes `text` + `line_ending`; with a per-character delay, one byte at a time. Logged (masked) in the
  // text log. Throws serial::PortError when the port vanished.
  void send_line(std::string_view text, std::string_view line_ending = "\r\n",
                 std::chrono::milliseconds per_char_delay = std::chrono::milliseconds(0));

  // Marks, notes the reset in the text log, then runs the strategy on the port. A port that can rewind (a
  // replay) is rewound first: true, and later expects see its output from the first line on, nothing
  // from before the reset (no boot line needs to be waited for).
  bool reset(const serial::ResetStrategy& strategy, std::string_view board_name);

  // A replay starts over: the reader stops, the port rewinds, every line read so far is behind the mark
  // (also any partial line and an earlier end of the log), and the reader starts again from the log's
  // first line. False (and nothing changes) when the port cannot rewind. Not while an expect waits.
  bool rewind();

  // Switches the raw and text logs (e.g. per scenario) without touching the port; empty path: none.
  // Throws std::runtime_error when a file cannot be opened (the old logs are then kept).
  void set_logs(const std::filesystem::path& raw_log, const std::filesystem::path& text_log);
  // Appends a note to the text log ("[ t] ::: note"), masked.
  void note(std::string_view text);

  // The window (oldest first), at most `max` lines; partial line last when there is one.
  std::vector<Line> recent_lines(std::size_t max = SIZE_MAX) const;
  // Set once the port vanished: why.
  std::optional<std::string> vanished() const;
  // Set once a replay reached the end of its log (until rewind()): "end of replay (PATH)".
  std::optional<std::string> ended() const;
  std::uint64_t bytes_received() const;
  std::uint64_t lines_received() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace provhil::console
