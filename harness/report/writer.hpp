#pragma once

// The report writer: JUnit XML, results.json and the per-board attachment folders of one run.
//
//   ReportWriter writer({.output_dir = "reports"}, run_info, masker);
//   auto dir = writer.case_dir("devkit-a", "provision-happy-path");   // the runner writes logs here
//   writer.add_case(result);   // any thread, as each (scenario, board) finishes
//   writer.finish();           // results.json + final junit.xml
//
// Never lose a result: add_case() appends the case to a journal before it returns (a crash or
// kill -9 after that keeps it), and junit.xml is rewritten from the journal atomically (temp file +
// rename) on a background thread, so junit.xml is always a complete, valid document. Rewrites
// coalesce: junit.xml trails add_case() by at most one rewrite; flush() waits for it.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "common/secrets.hpp"
#include "report/results.hpp"

namespace provhil::report {

struct ReportOptions {
  std::filesystem::path output_dir = "reports";
  std::optional<std::filesystem::path> junit_path;  // `--junit PATH`; default output_dir/junit.xml
  // Attachment paths in system-out are written relative to this folder (GitLab wants paths relative
  // to the job's working directory). Empty: the current directory when the writer is created.
  std::filesystem::path attachment_base;
  // Bounds that keep junit.xml small (GitLab drops reports over 30 MB) whatever the logs hold.
  std::size_t excerpt_bytes = 4096;            // tail of the text log in each testcase's system-out
  std::size_t detail_bytes = 8192;             // failure/error detail text
  std::size_t message_bytes = 512;             // one-line messages
  std::size_t junit_budget_bytes = 25u << 20;  // shared out over the planned cases
  bool sync_to_disk = false;  // fsync journal and reports (survive power loss, not just kill -9)
  // Only what the strict JUnit schema allows: no `file`/`line` on <testcase> (GitLab reads `file`).
  bool junit_strict = false;
};

// Bad options or an output folder that cannot be written.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Another run (or `report --rebuild`) holds the reports folder: nothing was written.
class ReportFolderInUse : public ReportError {
 public:
  using ReportError::ReportError;
};

class ReportWriter {
 public:
  // Creates output_dir and starts a fresh journal (replacing one left by an earlier run) and an empty,
  // valid junit.xml. The masker is shared with the rest of the run and must outlive the writer;
  // its enabled() flag is the `--show-secrets` switch. Throws ReportError.
  ReportWriter(ReportOptions options, RunInfo run, const SecretMasker& masker);
  // Waits for the last junit.xml rewrite; does not write results.json (call finish()).
  ~ReportWriter();
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  // `<output_dir>/<board>/<scenario>/`, created; names are made safe as path components.
  std::filesystem::path case_dir(std::string_view board, std::string_view scenario) const;

  // Thread-safe. Masks and sanitises the case, reads a bounded tail of attachments.text_log for
  // system-out, appends it to the journal and schedules a junit.xml rewrite. Throws ReportError
  // after finish() or when the journal cannot be written.
  void add_case(const CaseResult& result);

  // The plan and the boards may become known after the writer is created; they go to results.json.
  void set_plan(std::vector<PlannedCase> plan);
  void add_board(BoardInfo board);

  // Blocks until junit.xml holds every case added so far.
  void flush();
  // Writes the final junit.xml and results.json (atomically). Idempotent.
  void finish();

  std::filesystem::path junit_path() const;
  std::filesystem::path results_path() const;
  std::filesystem::path html_path() const;  // index.html, the page to open first
  std::filesystem::path journal_path() const;

  struct Counts {
    std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
    std::size_t flaky = 0;  // passed after an earlier failed attempt (counted in tests, not failures)
  };
  Counts counts() const;

 private:
  friend std::size_t rebuild_from_journal(const ReportOptions& options, std::size_t* skipped_lines);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "<scenario>.<board>.": the start of every attachment file name of that pair. The Jenkins attachments
// plugin stores files by classname and base name only, so names must differ between boards.
std::string attachment_prefix(std::string_view board, std::string_view scenario);

// Rebuilds junit.xml and results.json (marked "complete": false) from the journal a run left behind
// when it was killed before finish(): `provhil report --rebuild` in a CI after_script. A torn last
// journal line (killed mid-write) is ignored; a damaged line elsewhere is skipped and counted in
// *skipped_lines. Refuses a journal that two runs wrote, and a folder a run still holds. Returns the
// number of cases recovered. Throws ReportError.
std::size_t rebuild_from_journal(const ReportOptions& options, std::size_t* skipped_lines = nullptr);

}  // namespace provhil::report
