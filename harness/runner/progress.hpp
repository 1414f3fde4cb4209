#pragma once
// What a run prints while it goes. On a terminal: a live line per board (scenario, step, elapsed),
// redrawn in place, with finished cases printed above it. Otherwise (CI logs): one line per finished
// step and per finished case. NO_COLOR is respected.
#include <chrono>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "report/results.hpp"

namespace provhil::runner {

enum class Verbosity;

class Progress {
 public:
  Progress(std::ostream& out, bool terminal, bool color, Verbosity verbosity,
           std::vector<std::string> boards);

  void case_started(const std::string& board, const std::string& scenario);
  void step_started(const std::string& board, const std::string& step);
  void step_done(const std::string& board, const report::StepResult& step);
  void case_done(const report::CaseResult& result, int attempt);
  void board_idle(const std::string& board);
  // The board's port is held by another process (`holders`, e.g. "pid 4242 (provhil)"): one line each
  // time who holds it changes; the live line says so until the board's first case starts.
  void board_waiting(const std::string& board, const std::string& holders);
  // --verbose: a line the board printed.
  void serial_line(const std::string& board, const std::string& line);
  // Redraws the live block so that elapsed times move between events (a terminal only).
  void tick();
  // Clears the live block (before the summary).
  void finish();

 private:
  struct BoardLine {
    std::string scenario;
    std::string step;
    std::chrono::steady_clock::time_point since{};
    bool busy = false;
  };
  void print_above(const std::string& text);  // mutex held
  void redraw();                              // mutex held
  std::string paint(const std::string& text, const char* code) const;

  std::ostream& out_;
  bool terminal_;
  bool color_;
  Verbosity verbosity_;
  std::vector<std::string> order_;
  std::map<std::string, BoardLine> boards_;
  std::size_t drawn_ = 0;  // live lines on screen
  std::mutex mutex_;
};

std::string outcome_word(report::Outcome outcome);

}  // namespace provhil::runner
