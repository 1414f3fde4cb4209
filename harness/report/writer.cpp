#include "report/writer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "common/text.hpp"
#include "report/detail/html.hpp"
#include "report/detail/render.hpp"

namespace provhil::report {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr int schema_version = 1;
constexpr const char* journal_name = "journal.jsonl";
// The rendered <testcase> fragments, so a junit.xml rewrite copies bytes instead of re-rendering.
constexpr const char* fragments_name = ".junit-cases.xml";

std::string errno_text() {
  return std::strerror(errno);
}

constexpr const char* lock_name = ".provhil.lock";
// The longest journal line `report --rebuild` reads (a case line holds bounded excerpts: far less).
constexpr std::size_t max_journal_line = std::size_t{64} << 20;

void write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw ReportError(fmt::format("{}: cannot write: {}", path.string(), errno_text()));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

void pwrite_all(int fd, std::string_view data, std::uint64_t offset, const fs::path& path) {
  while (!data.empty()) {
    ssize_t written = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      throw ReportError(fmt::format("{}: cannot write: {}", path.string(), errno_text()));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
    offset += static_cast<std::uint64_t>(written);
  }
}

std::string pread_all(int fd, std::uint64_t offset, std::uint64_t size, const fs::path& path) {
  std::string data(static_cast<std::size_t>(size), '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t got = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw ReportError(fmt::format("{}: cannot read back: {}", path.string(), errno_text()));
    done += static_cast<std::size_t>(got);
  }
  return data;
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

int open_or_throw(const fs::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) throw ReportError(fmt::format("{}: cannot open: {}", path.string(), errno_text()));
  return fd;
}

// Writes a file through a temp file in the same folder and a rename, so readers (and a crash) see
// either the old or the new whole file.
class AtomicFile {
 public:
  AtomicFile(fs::path path, bool sync) : path_(std::move(path)), temp_(path_.string() + ".tmp"), sync_(sync) {
    file_ = std::fopen(temp_.c_str(), "wb");
    if (file_ == nullptr)
      throw ReportError(fmt::format("{}: cannot create: {}", temp_.string(), errno_text()));
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~AtomicFile() {
    if (file_ != nullptr) {
      std::fclose(file_);
      std::error_code ec;
      fs::remove(temp_, ec);
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view data) {
    if (std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
      throw ReportError(fmt::format("{}: cannot write: {}", temp_.string(), errno_text()));
    }
  }
  void commit() {
    bool ok = std::fflush(file_) == 0 && (!sync_ || ::fsync(fileno(file_)) == 0);
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    if (!ok || std::rename(temp_.c_str(), path_.c_str()) != 0) {
      std::string reason = errno_text();
      std::error_code ec;
      fs::remove(temp_, ec);
      throw ReportError(fmt::format("{}: cannot write: {}", path_.string(), reason));
    }
  }

 private:
  fs::path path_;
  fs::path temp_;
  bool sync_;
  std::FILE* file_ = nullptr;
};

Outcome outcome_from(std::string_view text) {
  if (auto outcome = OutcomeNames::parse(text)) return *outcome;
  throw ReportError(fmt::format("unknown outcome '{}'", text));
}

using PropertyList = std::vector<std::pair<std::string, std::string>>;

// What a junit.xml rewrite and results.json need of one case; the bulky parts stay on disk.
struct CaseEntry {
  std::string name;
  std::size_t suite = 0;
  Outcome outcome = Outcome::passed;
  bool flaky = false;
  std::int64_t duration_ns = 0;
  std::int64_t started_ns = 0;
  std::uint64_t fragment_offset = 0, fragment_size = 0;
  std::uint64_t journal_offset = 0, journal_size = 0;
};

struct SuiteEntry {
  std::string file;  // the scenario file, as given: the suite's identity
  std::string name;  // its stem
  std::vector<std::size_t> cases;
  PropertyList properties;  // per-board ones, "<board>.<name>"
  std::set<std::pair<std::string, std::string>> seen_properties;
  std::set<std::string> names;  // case names taken, so that each is unique (GitLab keeps only the first)
};

// One case as it goes into the journal and the index.
struct CaseRecord {
  std::string suite_file;
  std::string suite_name;
  std::string name;
  Outcome outcome = Outcome::passed;
  bool flaky = false;
  std::int64_t duration_ns = 0;
  std::int64_t started_ns = 0;
  PropertyList suite_properties;
  std::string fragment;
};

std::string summary_attributes(std::size_t tests, std::size_t failures, std::size_t errors,
                               std::int64_t time_ns) {
  return fmt::format(R"(tests="{}" failures="{}" errors="{}")", tests, failures, errors) +
         fmt::format(R"( time="{}")", detail::seconds_text(Duration(time_ns)));
}

}  // namespace

struct ReportWriter::Impl {
  ReportOptions options;
  const SecretMasker& masker;
  fs::path base;
  fs::path junit;
  fs::path results;
  fs::path journal;
  fs::path fragments;
  fs::path index_html;

  json::object run;  // cleaned
  WallTime run_started{};
  PropertyList run_properties;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::vector<CaseEntry> cases;
  std::vector<SuiteEntry> suites;
  std::map<std::string, std::size_t> suite_index;
  json::array plan;
  json::array boards;
  std::uint64_t fragments_size = 0;
  std::uint64_t journal_size = 0;
  std::uint64_t junit_bytes_used = 0;
  std::uint64_t added = 0;    // cases stored
  std::uint64_t written = 0;  // cases in junit.xml
  int flush_waiters = 0;      // flush() callers: the rewriter skips its pacing for them
  bool stopping = false;
  bool finished = false;
  std::string failure;         // a background rewrite failed: reported by the next call
  std::string journal_broken;  // a journal write failed: nothing more is added (docs/report.md)
  Fd lock_fd;
  Fd journal_fd;
  Fd fragments_fd;
  std::thread rewriter;

  Impl(ReportOptions opts, const SecretMasker& shared_masker)
      : options(std::move(opts)), masker(shared_masker) {
    std::error_code ec;
    base = options.attachment_base.empty() ? fs::current_path(ec) : fs::absolute(options.attachment_base, ec);
    base = base.lexically_normal();
    junit = options.junit_path.value_or(options.output_dir / "junit.xml");
    results = options.output_dir / "results.json";
    journal = options.output_dir / journal_name;
    fragments = options.output_dir / fragments_name;
    index_html = options.output_dir / "index.html";
    for (const auto& folder : {options.output_dir, junit.parent_path()}) {
      if (folder.empty()) continue;
      fs::create_directories(folder, ec);
      if (ec)
        throw ReportError(
            fmt::format("{}: cannot create the report folder: {}", folder.string(), ec.message()));
    }
    lock_folder();
  }

  // One run (or rebuild) per reports folder: two would interleave one journal and one junit.xml.
  // flock, not a pid file: the lock goes with the process, kill -9 included.
  void lock_folder() {
    fs::path path = options.output_dir / lock_name;
    lock_fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (lock_fd.get() < 0) throw ReportError(fmt::format("{}: cannot open: {}", path.string(), errno_text()));
    if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
      int error = errno;
      char holder[32] = {};
      auto got = ::pread(lock_fd.get(), holder, sizeof holder - 1, 0);
      std::string pid = got > 0 ? std::string(holder, static_cast<std::size_t>(got)) : std::string("?");
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
      if (error == EWOULDBLOCK)
        throw ReportFolderInUse(
            fmt::format("{}: the reports folder is in use by another provhil run (pid {}); give each run its "
                        "own --reports",
                        options.output_dir.string(), pid));
      throw ReportError(fmt::format("{}: cannot lock: {}", path.string(), std::strerror(error)));
    }
    std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(lock_fd.get(), 0) == 0) (void)!::pwrite(lock_fd.get(), pid.data(), pid.size(), 0);
  }

  ~Impl() { stop(); }

  void set_run(json::object run_object) {
    run = std::move(run_object);
    auto text = [&](const char* key) -> std::string {
      const auto* value = run.if_contains(key);
      return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
    };
    for (const char* key : {"harness_version", "run_id", "shard", "hostname"}) {
      if (!text(key).empty()) run_properties.emplace_back(key, text(key));
    }
    if (const auto* extra = run.if_contains("properties"); extra != nullptr && extra->is_object()) {
      for (const auto& item : extra->get_object()) {
        if (item.value().is_string()) run_properties.emplace_back(item.key(), item.value().get_string());
      }
    }
  }

  // Under the mutex. After a failed write (a full disk) the journal is cut back to its last whole
  // line and takes nothing more: what it holds stays a valid journal.
  void append_journal(std::string line) {
    if (!journal_broken.empty()) throw ReportError(journal_broken);
    line += '\n';
    try {
      write_all(journal_fd.get(), line, journal);
    } catch (const ReportError& e) {
      journal_broken = e.what();
      if (::ftruncate(journal_fd.get(), static_cast<off_t>(journal_size)) != 0) {
        // Nothing more to do: rebuild skips a torn last line.
      }
      throw;
    }
    if (options.sync_to_disk) ::fdatasync(journal_fd.get());
    journal_size += line.size();
  }

  // Under the mutex: takes the case into the index and the fragment store.
  void store(CaseRecord record, std::uint64_t journal_offset, std::uint64_t journal_line_size) {
    auto [it, inserted] = suite_index.try_emplace(record.suite_file, suites.size());
    if (inserted) suites.push_back(SuiteEntry{record.suite_file, record.suite_name, {}, {}, {}, {}});
    SuiteEntry& suite = suites[it->second];
    pwrite_all(fragments_fd.get(), record.fragment, fragments_size, fragments);
    CaseEntry entry{record.name,        it->second,        record.outcome, record.flaky,
                    record.duration_ns, record.started_ns, fragments_size, record.fragment.size(),
                    journal_offset,     journal_line_size};
    fragments_size += record.fragment.size();
    junit_bytes_used += record.fragment.size();
    suite.names.insert(record.name);
    suite.cases.push_back(cases.size());
    cases.push_back(std::move(entry));
    for (auto& property : record.suite_properties) {
      if (suite.seen_properties.insert(property).second) suite.properties.push_back(std::move(property));
    }
    ++added;
    changed.notify_all();
  }

  void start_rewriter() {
    rewriter = std::thread([this] { rewrite_loop(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    changed.notify_all();
    if (rewriter.joinable()) rewriter.join();
  }

  void rewrite_loop() {
    using Clock = std::chrono::steady_clock;
    auto next_allowed = Clock::now();
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return stopping || written < added; });
      if (written >= added) return;  // stopping, and nothing left to write
      // Pacing: rest as long as the last rewrite took, so that rewriting a large junit.xml never takes
      // more than half a core from the boards; junit.xml then trails by about two rewrites at most.
      changed.wait_until(lock, next_allowed, [&] { return stopping || flush_waiters > 0; });
      std::uint64_t target = added;
      lock.unlock();
      std::string error;
      auto started = Clock::now();
      try {
        write_junit();
      } catch (const std::exception& e) {
        error = e.what();
      }
      auto took = Clock::now() - started;
      next_allowed = Clock::now() + std::min<Clock::duration>(took, std::chrono::seconds(1));
      lock.lock();
      written = target;
      if (!error.empty() && failure.empty()) failure = error;
      changed.notify_all();
    }
  }

  void throw_if_failed() const {
    if (!failure.empty()) throw ReportError(failure);
  }

  struct Snapshot {
    std::vector<CaseEntry> cases;
    std::vector<SuiteEntry> suites;  // sorted by file; cases sorted by name
    json::array plan;
    json::array boards;
  };

  Snapshot snapshot(bool with_run_lists) const {
    Snapshot snap;
    {
      std::lock_guard lock(mutex);
      snap.cases = cases;
      snap.suites.reserve(suites.size());
      for (const auto& suite : suites)
        snap.suites.push_back(SuiteEntry{suite.file, suite.name, suite.cases, suite.properties, {}, {}});
      if (with_run_lists) {
        snap.plan = plan;
        snap.boards = boards;
      }
    }
    std::sort(snap.suites.begin(), snap.suites.end(),
              [](const auto& a, const auto& b) { return a.file < b.file; });
    for (auto& suite : snap.suites) {
      std::sort(suite.cases.begin(), suite.cases.end(),
                [&](std::size_t a, std::size_t b) { return snap.cases[a].name < snap.cases[b].name; });
    }
    return snap;
  }

  // Only the rewriter thread (and the constructor, before it starts) writes junit.xml.
  void write_junit() {
    Snapshot snap = snapshot(false);
    std::size_t failures = 0, errors = 0, flaky = 0;
    std::int64_t total_ns = 0;
    for (const auto& entry : snap.cases) {
      flaky += entry.flaky ? 1 : 0;
      failures += entry.outcome == Outcome::failed ? 1 : 0;
      errors += entry.outcome == Outcome::error ? 1 : 0;
      total_ns += entry.duration_ns;
    }
    AtomicFile out(junit, options.sync_to_disk);
    out.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.write("<testsuites name=\"provhil\" " +
              summary_attributes(snap.cases.size(), failures, errors, total_ns) + ">\n");
    std::string hostname;
    for (const auto& [name, value] : run_properties) {
      if (name == "hostname") hostname = value;
    }
    for (const auto& suite : snap.suites) {
      if (suite.cases.empty()) continue;  // a name reserved by an add_case still rendering
      std::size_t suite_failures = 0, suite_errors = 0, suite_skipped = 0;
      std::int64_t suite_ns = 0;
      std::int64_t first_start = 0;
      for (auto index : suite.cases) {
        const auto& entry = snap.cases[index];
        suite_failures += entry.outcome == Outcome::failed ? 1 : 0;
        suite_errors += entry.outcome == Outcome::error ? 1 : 0;
        suite_skipped += entry.outcome == Outcome::skipped ? 1 : 0;
        suite_ns += entry.duration_ns;
        if (entry.started_ns != 0 && (first_start == 0 || entry.started_ns < first_start))
          first_start = entry.started_ns;
      }
      std::string header = fmt::format("  <testsuite name=\"{}\" ", detail::xml_escape(suite.name)) +
                           summary_attributes(suite.cases.size(), suite_failures, suite_errors, suite_ns) +
                           fmt::format(" skipped=\"{}\"", suite_skipped);
      std::string timestamp = detail::iso_time(
          WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(first_start))),
          false);
      if (!timestamp.empty()) header += fmt::format(" timestamp=\"{}\"", timestamp);
      if (!hostname.empty()) header += fmt::format(" hostname=\"{}\"", detail::xml_escape(hostname));
      header += fmt::format(" file=\"{}\">\n", detail::xml_escape(suite.file));
      header += "    <properties>\n";
      for (const PropertyList* list :
           std::initializer_list<const PropertyList*>{&run_properties, &suite.properties}) {
        for (const auto& [name, value] : *list) {
          header += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", detail::xml_escape(name),
                                detail::xml_escape(value));
        }
      }
      // Flaky passes count as passed in every total; the run property keeps them visible (Jenkins
      // ignores flakyFailure).
      header += fmt::format("      <property name=\"flaky\" value=\"{}\"/>\n", flaky);
      header += "    </properties>\n";
      out.write(header);
      for (auto index : suite.cases) {
        const auto& entry = snap.cases[index];
        out.write(pread_all(fragments_fd.get(), entry.fragment_offset, entry.fragment_size, fragments));
      }
      out.write("  </testsuite>\n");
    }
    out.write("</testsuites>\n");
    out.commit();
  }

  json::object summary_of(const Snapshot& snap) const {
    std::size_t counts[4] = {0, 0, 0, 0};
    std::size_t flaky = 0;
    std::int64_t total_ns = 0;
    std::int64_t first_ns = 0, last_ns = 0;
    for (const auto& entry : snap.cases) {
      ++counts[static_cast<int>(entry.outcome)];
      flaky += entry.flaky ? 1 : 0;
      total_ns += entry.duration_ns;
      if (entry.started_ns != 0) {
        if (first_ns == 0 || entry.started_ns < first_ns) first_ns = entry.started_ns;
        last_ns = std::max(last_ns, entry.started_ns + entry.duration_ns);
      }
    }
    return json::object{{"tests", snap.cases.size()},
                        {"passed", counts[static_cast<int>(Outcome::passed)]},
                        {"failed", counts[static_cast<int>(Outcome::failed)]},
                        {"errors", counts[static_cast<int>(Outcome::error)]},
                        {"skipped", counts[static_cast<int>(Outcome::skipped)]},
                        {"flaky", flaky},
                        {"planned", snap.plan.size()},
                        {"duration_ms", total_ns / 1'000'000},
                        // From the first case's start to the last case's end: the run as a person waited.
                        {"wall_ms", (last_ns - first_ns) / 1'000'000}};
  }

  // The one-page view of the run (index.html), streamed case by case from the journal.
  void write_html() {
    Snapshot snap = snapshot(true);
    json::object summary = summary_of(snap);
    AtomicFile out(index_html, options.sync_to_disk);
    detail::write_index_html([&](std::string_view text) { out.write(text); }, run, summary,
                             [&](const std::function<void(const json::value&)>& emit) {
                               for (const auto& suite : snap.suites) {
                                 for (auto index : suite.cases) {
                                   const auto& entry = snap.cases[index];
                                   json::value record = json::parse(pread_all(
                                       journal_fd.get(), entry.journal_offset, entry.journal_size, journal));
                                   if (const auto* html = record.as_object().if_contains("html")) emit(*html);
                                 }
                               }
                             });
    out.commit();
  }

  void write_results(bool complete) {
    Snapshot snap = snapshot(true);
    json::object summary = summary_of(snap);
    AtomicFile out(results, options.sync_to_disk);
    std::string text =
        fmt::format("{{\n  \"schema_version\": {},\n  \"complete\": {},\n", schema_version, complete);
    auto member = [&](const char* key, const json::value& value) {
      text += fmt::format("  \"{}\": ", key);
      detail::write_json(text, value, 2, 1);
      text += ",\n";
    };
    member("run", run);
    member("summary", summary);
    member("boards", snap.boards);
    member("plan", snap.plan);
    text += "  \"cases\": [";
    bool first = true;
    for (const auto& suite : snap.suites) {
      for (auto index : suite.cases) {
        const auto& entry = snap.cases[index];
        std::string line = pread_all(journal_fd.get(), entry.journal_offset, entry.journal_size, journal);
        json::value record = json::parse(line);
        text += first ? "\n    " : ",\n    ";
        first = false;
        detail::write_json(text, record.at("result"), 2, 2);
        out.write(text);
        text.clear();
      }
    }
    text += first ? "]\n}\n" : "\n  ]\n}\n";
    out.write(text);
    out.commit();
  }

  void flush() {
    std::unique_lock lock(mutex);
    std::uint64_t target = added;
    ++flush_waiters;
    changed.notify_all();
    changed.wait(lock, [&] { return written >= target || !rewriter.joinable(); });
    --flush_waiters;
    throw_if_failed();
  }
};

ReportWriter::ReportWriter(ReportOptions options, RunInfo run, const SecretMasker& masker)
    : impl_(std::make_unique<Impl>(std::move(options), masker)) {
  if (run.hostname.empty()) {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0) run.hostname = name;
  }
  impl_->set_run(detail::run_json(run, masker));
  impl_->run_started = run.started;
  impl_->journal_fd.reset(open_or_throw(impl_->journal, O_RDWR | O_CREAT | O_TRUNC | O_APPEND));
  impl_->fragments_fd.reset(open_or_throw(impl_->fragments, O_RDWR | O_CREAT | O_TRUNC));
  std::string line;
  detail::write_json(line,
                     json::object{{"type", "run"}, {"schema_version", schema_version}, {"run", impl_->run}});
  impl_->append_journal(std::move(line));
  if (!run.plan.empty()) set_plan(std::move(run.plan));
  for (auto& board : run.boards)
    add_board(std::move(board));
  impl_->write_junit();  // a valid, empty report from the start
  impl_->start_rewriter();
}

ReportWriter::~ReportWriter() = default;

std::string attachment_prefix(std::string_view board, std::string_view scenario) {
  return safe_file_name(scenario) + "." + safe_file_name(board) + ".";
}

fs::path ReportWriter::case_dir(std::string_view board, std::string_view scenario) const {
  fs::path dir = impl_->options.output_dir / safe_file_name(board) / safe_file_name(scenario);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw ReportError(fmt::format("{}: cannot create: {}", dir.string(), ec.message()));
  return dir;
}

void ReportWriter::add_case(const CaseResult& result) {
  Impl& impl = *impl_;
  detail::RenderLimits limits{impl.options.message_bytes, impl.options.detail_bytes,
                              impl.options.excerpt_bytes, impl.options.junit_strict, impl.run_started};
  CaseRecord record;
  record.suite_file = detail::clean(result.scenario_file.generic_string(), impl.masker);
  record.suite_name = detail::clean(result.scenario_file.stem().string(), impl.masker);
  std::string base_name = result.scenario + " [" + result.board + "]";
  {
    std::lock_guard lock(impl.mutex);
    if (impl.finished) throw ReportError("add_case after finish(): the report is already final");
    impl.throw_if_failed();
    // Share what is left of the junit.xml budget over the cases still to come, so that 10,000 cases
    // stay under the budget; without a plan the per-case caps alone bound each case.
    std::uint64_t left = impl.junit_bytes_used < impl.options.junit_budget_bytes
                             ? impl.options.junit_budget_bytes - impl.junit_bytes_used
                             : 0;
    std::uint64_t to_come = impl.plan.size() > impl.added ? impl.plan.size() - impl.added : 1;
    std::uint64_t allowance = left / to_come;
    constexpr std::uint64_t overhead = 1024;  // attributes, identity line, attachment lines
    std::uint64_t room = allowance > overhead ? allowance - overhead : 0;
    limits.detail_bytes = static_cast<std::size_t>(
        std::min<std::uint64_t>(limits.detail_bytes, std::max<std::uint64_t>(room / 2, 256)));
    std::uint64_t detail_size = std::min<std::uint64_t>(result.detail.size(), limits.detail_bytes);
    limits.excerpt_bytes = static_cast<std::size_t>(
        std::min<std::uint64_t>(limits.excerpt_bytes, room > detail_size ? room - detail_size : 0));
    // Unique within the suite (GitLab keeps only the first of two equal names): a scenario run twice
    // on one board gets " #2". Reserved now, so that two threads cannot pick the same name.
    auto [found, inserted] = impl.suite_index.try_emplace(record.suite_file, impl.suites.size());
    if (inserted) impl.suites.push_back(SuiteEntry{record.suite_file, record.suite_name, {}, {}, {}, {}});
    auto& names = impl.suites[found->second].names;
    record.name = detail::clean(base_name, impl.masker);
    for (int n = 2; names.count(record.name) != 0; ++n) {
      record.name = detail::clean(fmt::format("{} #{}", base_name, n), impl.masker);
    }
    names.insert(record.name);
  }
  record.outcome = result.outcome;
  record.flaky = result.outcome == Outcome::passed && !result.earlier_attempts.empty();
  record.duration_ns = std::max<std::int64_t>(0, result.duration.count());
  record.started_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(result.started.time_since_epoch()).count();
  for (const auto& property : result.properties) {
    if (property.name == "board" || property.value.empty()) continue;
    record.suite_properties.emplace_back(detail::clean(result.board + "." + property.name, impl.masker),
                                         detail::clean(property.value, impl.masker));
  }
  record.fragment = detail::render_testcase(result, record.name, impl.masker, limits, impl.base);

  json::array suite_properties;
  for (const auto& [name, value] : record.suite_properties)
    suite_properties.push_back(json::array{name, value});
  json::object line_object{
      {"type", "case"},
      {"suite_file", record.suite_file},
      {"suite_name", record.suite_name},
      {"name", record.name},
      {"outcome", to_string(record.outcome)},
      {"flaky", record.flaky},
      {"duration_ns", record.duration_ns},
      {"started_ns", record.started_ns},
      {"suite_properties", std::move(suite_properties)},
      {"junit", record.fragment},
      {"result", detail::case_json(result, record.name, impl.masker, limits, impl.base)},
      {"html", detail::html_case(result, record.name, impl.masker, impl.base, impl.run_started)}};
  std::string line;
  detail::write_json(line, line_object);

  std::lock_guard lock(impl.mutex);
  if (impl.finished) throw ReportError("add_case after finish(): the report is already final");
  std::uint64_t offset = impl.journal_size;
  impl.append_journal(line);
  impl.store(std::move(record), offset, line.size() + 1);
}

void ReportWriter::set_plan(std::vector<PlannedCase> plan) {
  json::array array;
  for (const auto& planned : plan)
    array.push_back(detail::planned_json(planned, impl_->masker));
  std::string line;
  detail::write_json(line, json::object{{"type", "plan"}, {"plan", array}});
  std::lock_guard lock(impl_->mutex);
  impl_->append_journal(std::move(line));
  impl_->plan = std::move(array);
}

void ReportWriter::add_board(BoardInfo board) {
  json::object object = detail::board_json(board, impl_->masker);
  std::string line;
  detail::write_json(line, json::object{{"type", "board"}, {"board", object}});
  std::lock_guard lock(impl_->mutex);
  impl_->append_journal(std::move(line));
  impl_->boards.push_back(std::move(object));
}

void ReportWriter::flush() {
  impl_->flush();
}

void ReportWriter::finish() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->finished) return;
    impl_->finished = true;
  }
  impl_->flush();
  impl_->write_results(true);
  impl_->write_html();
}

fs::path ReportWriter::junit_path() const {
  return impl_->junit;
}
fs::path ReportWriter::results_path() const {
  return impl_->results;
}
fs::path ReportWriter::html_path() const {
  return impl_->index_html;
}
fs::path ReportWriter::journal_path() const {
  return impl_->journal;
}

ReportWriter::Counts ReportWriter::counts() const {
  std::lock_guard lock(impl_->mutex);
  Counts counts;
  for (const auto& entry : impl_->cases) {
    ++counts.tests;
    counts.failures += entry.outcome == Outcome::failed ? 1 : 0;
    counts.errors += entry.outcome == Outcome::error ? 1 : 0;
    counts.skipped += entry.outcome == Outcome::skipped ? 1 : 0;
    counts.flaky += entry.flaky ? 1 : 0;
  }
  return counts;
}

namespace {

enum class LineRead { line, torn, too_long, end };

// Thrown past the per-line recovery: the whole journal is unusable.
class TwoRunsInJournal : public ReportError {
 public:
  using ReportError::ReportError;
};

// The next line of `in` without its '\n', at most `max` bytes kept: a longer one is read to its end
// and dropped (a journal is read in bounded memory whatever it holds).
LineRead read_line(std::streambuf& in, std::string& line, std::size_t max, std::uint64_t& consumed) {
  line.clear();
  bool any = false;
  bool too_long = false;
  for (;;) {
    int c = in.sbumpc();
    if (c == std::char_traits<char>::eof())
      return !any ? LineRead::end : too_long ? LineRead::too_long : LineRead::torn;
    any = true;
    ++consumed;
    if (c == '\n') return too_long ? LineRead::too_long : LineRead::line;
    if (too_long) continue;
    if (line.size() >= max) {
      too_long = true;
      std::string().swap(line);
      continue;
    }
    line.push_back(static_cast<char>(c));
  }
}

}  // namespace

std::size_t rebuild_from_journal(const ReportOptions& options, std::size_t* skipped_lines) {
  SecretMasker unused;  // the journal is already masked and sanitised
  auto impl = std::make_unique<ReportWriter::Impl>(options, unused);
  std::ifstream in(impl->journal, std::ios::binary);
  if (!in)
    throw ReportError(fmt::format("{}: cannot open the journal: {}", impl->journal.string(), errno_text()));
  impl->journal_fd.reset(open_or_throw(impl->journal, O_RDONLY));
  impl->fragments_fd.reset(open_or_throw(impl->fragments, O_RDWR | O_CREAT | O_TRUNC));
  std::string line;
  std::uint64_t offset = 0;
  std::size_t line_number = 0;
  std::size_t recovered = 0;
  std::size_t skipped = 0;
  bool have_run = false;
  for (;;) {
    std::uint64_t start = offset;
    auto read = read_line(*in.rdbuf(), line, max_journal_line, offset);
    if (read == LineRead::end) break;
    ++line_number;
    std::uint64_t size = offset - start;
    // A torn last line is what kill -9 mid-write leaves: not counted as damage.
    if (read == LineRead::torn) break;
    if (read == LineRead::too_long) {
      ++skipped;
      continue;
    }
    std::error_code ec;
    json::value record = json::parse(line, ec);
    if (ec || !record.is_object()) {
      ++skipped;  // one damaged line loses one record, not the run
      continue;
    }
    std::optional<CaseRecord> case_record;
    try {
      const auto& object = record.get_object();
      auto type = object.at("type").as_string();
      std::lock_guard lock(impl->mutex);
      if (type == "run") {
        // Two runs in one journal (written before reports folders were locked) cannot be told apart.
        if (have_run)
          throw TwoRunsInJournal(fmt::format(
              "{}:{}: a second run record: two runs wrote this journal; their cases cannot be told apart, "
              "nothing was rebuilt",
              impl->journal.string(), line_number));
        impl->set_run(object.at("run").as_object());
        have_run = true;
      } else if (type == "plan") {
        impl->plan = object.at("plan").as_array();
      } else if (type == "board") {
        impl->boards.push_back(object.at("board"));
      } else if (type == "case") {
        CaseRecord c;
        c.suite_file = object.at("suite_file").as_string();
        c.suite_name = object.at("suite_name").as_string();
        c.name = object.at("name").as_string();
        c.outcome = outcome_from(object.at("outcome").as_string());
        if (const auto* flaky = object.if_contains("flaky"); flaky != nullptr && flaky->is_bool())
          c.flaky = flaky->get_bool();
        c.duration_ns = object.at("duration_ns").to_number<std::int64_t>();
        c.started_ns = object.at("started_ns").to_number<std::int64_t>();
        for (const auto& pair : object.at("suite_properties").as_array()) {
          c.suite_properties.emplace_back(pair.as_array().at(0).as_string(),
                                          pair.as_array().at(1).as_string());
        }
        c.fragment = object.at("junit").as_string();
        if (!object.at("result").is_object()) throw ReportError("'result' is not an object");
        case_record = std::move(c);
      }
    } catch (const TwoRunsInJournal&) {
      throw;
    } catch (const std::exception&) {
      ++skipped;  // a line that parses but is not a whole record
      continue;
    }
    if (case_record) {
      std::lock_guard lock(impl->mutex);
      impl->store(std::move(*case_record), start, size);
      ++recovered;
    }
  }
  if (!have_run)
    throw ReportError(fmt::format("{}: no run record: not a provhil journal", impl->journal.string()));
  if (skipped_lines != nullptr) *skipped_lines = skipped;
  impl->write_junit();
  impl->write_results(false);
  impl->write_html();
  return recovered;
}

}  // namespace provhil::report
