#pragma once
// Runs one (scenario, board) pair: setup, steps and teardown, step by step against the board's
// console, its setup AP and the interceptor, and turns what happened into a report::CaseResult.
#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "common/run_clock.hpp"
#include "common/secrets.hpp"
#include "intercept/interceptor.hpp"
#include "report/results.hpp"
#include "runner/board_session.hpp"
#include "scenario/model.hpp"

namespace provhil::runner {

struct CaseInput {
  const scenario::Scenario* scenario = nullptr;
  const scenario::Inventory* inventory = nullptr;
  const scenario::Dialect* dialect = nullptr;  // null: the board's dialect is auto (picked from `dialects`)
  const scenario::DialectSet* dialects = nullptr;
  BoardSession* session = nullptr;
  intercept::Interceptor* interceptor = nullptr;
  SecretMasker* masker = nullptr;
  std::string board_token;
  std::string owner;  // the interceptor's owner string: "<scenario> [<board>]" (+ " #<attempt>")
  std::filesystem::path case_dir;
  // Starts every attachment's file name ("<scenario>.<board>."): the Jenkins attachments plugin keys
  // files by classname and base name, so two boards running one scenario must not share a name.
  std::string file_prefix;
  // Where the unmasked raw serial log goes while the case runs (a private folder); the runner writes
  // its masked copy to case_dir/serial.raw afterwards.
  std::filesystem::path raw_log;
  const std::atomic<bool>* interrupted = nullptr;
  // The run's time base; null: a clock of the case's own (tests).
  const RunClock* clock = nullptr;
  // Progress: a step starts / ends.
  std::function<void(const std::string& label)> on_step_start;
  std::function<void(const report::StepResult& step)> on_step_done;
  // --verbose: the board's lines (sanitised, masked), handed over after each step.
  std::function<void(const std::string& line)> on_serial_line;
};

report::CaseResult run_case(const CaseInput& input);

}  // namespace provhil::runner
