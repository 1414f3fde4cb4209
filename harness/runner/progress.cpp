#include "runner/progress.hpp"

#include <fmt/format.h>

#include "runner/runner.hpp"

namespace provhil::runner {

namespace {
double seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

std::string outcome_word(report::Outcome outcome) {
  switch (outcome) {
    case report::Outcome::passed:
      return "PASS";
    case report::Outcome::failed:
      return "FAIL";
    case report::Outcome::error:
      return "ERROR";
    case report::Outcome::skipped:
      return "SKIP";
  }
  return "?";
}

Progress::Progress(std::ostream& out, bool terminal, bool color, Verbosity verbosity,
                   std::vector<std::string> boards)
    : out_(out), terminal_(terminal), color_(color), verbosity_(verbosity), order_(std::move(boards)) {
  for (const auto& b : order_)
    boards_[b];
}

std::string Progress::paint(const std::string& text, const char* code) const {
  return color_ ? fmt::format("\x1b[{}m{}\x1b[0m", code, text) : text;
}

void Progress::print_above(const std::string& text) {
  if (terminal_ && drawn_ > 0) {
    out_ << fmt::format("\x1b[{}A", drawn_);
    for (std::size_t i = 0; i < drawn_; ++i)
      out_ << "\x1b[2K\n";
    out_ << fmt::format("\x1b[{}A", drawn_);
    drawn_ = 0;
  }
  out_ << text << "\n";
  redraw();
}

void Progress::redraw() {
  if (!terminal_ || verbosity_ == Verbosity::quiet) {
    out_.flush();
    return;
  }
  if (drawn_ > 0) out_ << fmt::format("\x1b[{}A", drawn_);
  auto now = std::chrono::steady_clock::now();
  for (const auto& name : order_) {
    const auto& line = boards_[name];
    std::string text = line.busy ? fmt::format("  {:<12} {} > {} ({:.0f}s)", name, line.scenario, line.step,
                                               std::chrono::duration<double>(now - line.since).count())
                                 : fmt::format("  {:<12} idle", name);
    out_ << "\x1b[2K" << paint(text, "2") << "\n";
  }
  drawn_ = order_.size();
  out_.flush();
}

void Progress::case_started(const std::string& board, const std::string& scenario) {
  std::lock_guard lock(mutex_);
  auto& line = boards_[board];
  line.scenario = scenario;
  line.step = "starting";
  line.since = std::chrono::steady_clock::now();
  line.busy = true;
  redraw();
}

void Progress::step_started(const std::string& board, const std::string& step) {
  std::lock_guard lock(mutex_);
  boards_[board].step = step;
  redraw();
}

void Progress::step_done(const std::string& board, const report::StepResult& step) {
  std::lock_guard lock(mutex_);
  if (verbosity_ == Verbosity::quiet) return;
  bool ok = step.outcome == report::Outcome::passed;
  // CI logs get every step; a terminal shows them only with --verbose (the live line shows progress).
  if (!terminal_ || verbosity_ == Verbosity::verbose || !ok) {
    print_above(fmt::format("    [{}] {} {} ({:.2f}s){}", board, ok ? "ok  " : paint("FAIL", "31"), step.name,
                            seconds(step.duration), ok ? "" : "\n      " + step.message));
  } else {
    redraw();
  }
}

void Progress::case_done(const report::CaseResult& result, int attempt) {
  std::lock_guard lock(mutex_);
  const char* color = result.outcome == report::Outcome::passed    ? "32"
                      : result.outcome == report::Outcome::skipped ? "33"
                                                                   : "31";
  std::string text = fmt::format("{} {} [{}] ({:.2f}s){}", paint(outcome_word(result.outcome), color),
                                 result.scenario, result.board, seconds(result.duration),
                                 attempt > 1 ? fmt::format(" attempt {}", attempt) : "");
  if (result.outcome != report::Outcome::passed && !result.message.empty())
    text += "\n      " + result.message;
  if (verbosity_ != Verbosity::quiet || result.outcome != report::Outcome::passed) print_above(text);
}

void Progress::board_idle(const std::string& board) {
  std::lock_guard lock(mutex_);
  boards_[board].busy = false;
  redraw();
}

void Progress::board_waiting(const std::string& board, const std::string& holders) {
  std::lock_guard lock(mutex_);
  auto& line = boards_[board];
  line.scenario = "waiting for its port";
  line.step = "held by " + holders;
  line.since = std::chrono::steady_clock::now();
  line.busy = true;
  if (verbosity_ != Verbosity::quiet)
    print_above(fmt::format("  [{}] waiting: its port is held by {}", board, holders));
  else
    redraw();
}

void Progress::serial_line(const std::string& board, const std::string& line) {
  std::lock_guard lock(mutex_);
  print_above(paint(fmt::format("      {} | {}", board, line), "2"));
}

void Progress::tick() {
  std::lock_guard lock(mutex_);
  if (terminal_ && verbosity_ != Verbosity::quiet) redraw();
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (terminal_ && drawn_ > 0) {
    out_ << fmt::format("\x1b[{}A", drawn_);
    for (std::size_t i = 0; i < drawn_; ++i)
      out_ << "\x1b[2K\n";
    out_ << fmt::format("\x1b[{}A", drawn_);
    drawn_ = 0;
  }
  out_.flush();
}

}  // namespace provhil::runner
