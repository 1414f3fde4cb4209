#include "console/console.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/regex.hpp>

#include "common/regex_names.hpp"
#include "common/text.hpp"
#include "console/detail/line_framer.hpp"

namespace provhil::console {

// --- Pattern ---------------------------------------------------------------------------------------------

struct Pattern::Impl {
  std::string text;
  bool is_regex = false;
  boost::regex regex;
  std::vector<std::string> names;  // named groups, in order of appearance
};

Pattern Pattern::regex(std::string_view text) {
  auto impl = std::make_shared<Impl>();
  impl->text = std::string(text);
  impl->is_regex = true;
  try {
    impl->regex.assign(impl->text, boost::regex::perl);
  } catch (const boost::regex_error& error) {
    throw std::invalid_argument(
        fmt::format("regex \"{}\" is invalid at offset {}: {}", text, error.position(), error.what()));
  }
  impl->names = regex_group_names(text);
  return Pattern(std::move(impl));
}

Pattern Pattern::literal(std::string_view text) {
  auto impl = std::make_shared<Impl>();
  impl->text = std::string(text);
  return Pattern(std::move(impl));
}

const std::string& Pattern::text() const {
  return impl_->text;
}

bool Pattern::is_regex() const {
  return impl_->is_regex;
}

bool Pattern::search(std::string_view line, std::map<std::string, std::string>* captures) const {
  if (!impl_->is_regex) return line.find(impl_->text) != std::string_view::npos;
  try {
    if (captures == nullptr || impl_->names.empty())
      return boost::regex_search(line.begin(), line.end(), impl_->regex);
    boost::match_results<std::string_view::const_iterator> match;
    if (!boost::regex_search(line.begin(), line.end(), match, impl_->regex)) return false;
    for (const auto& name : impl_->names) {
      const auto& group = match[name];
      if (group.matched) (*captures)[name] = group.str();
    }
    return true;
  } catch (const std::runtime_error&) {
    return false;  // Boost gives up on pathological backtracking: no match rather than a crash
  }
}

// --- results ---------------------------------------------------------------------------------------------

std::string_view to_string(ExpectStatus status) {
  switch (status) {
    case ExpectStatus::matched:
      return "matched";
    case ExpectStatus::timeout:
      return "timeout";
    case ExpectStatus::forbidden:
      return "forbidden";
    case ExpectStatus::vanished:
      return "vanished";
    case ExpectStatus::ended:
      return "ended";
  }
  return "unknown";
}

namespace {

std::string stamp(Clock::time_point at, Clock::time_point epoch) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - epoch).count();
  if (ms < 0) ms = 0;
  return fmt::format("[t+{:7}ms]", ms);
}

bool plain_ascii(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

std::string ExpectResult::describe() const {
  std::string text = ok() ? fmt::format("matched: {}", line.text) : reason;
  if (!evidence.empty()) {
    text += fmt::format("\nlast {} line(s) received:", evidence.size());
    for (const auto& item : evidence)
      text += fmt::format("\n  {}{}", item.text, item.partial ? "  (no end of line yet)" : "");
  }
  return text;
}

// --- Console ---------------------------------------------------------------------------------------------

namespace {

// The longest literal every match of `pattern` must contain ("Ready (ping: " for `Ready \(ping: (\d+)ms`), or
// nothing when none can be told safely (alternation, case-insensitive modifiers, short runs).
std::optional<std::string> required_literal(const Pattern& pattern) {
  if (!pattern.is_regex()) return pattern.text();
  const std::string& text = pattern.text();
  std::string best;
  std::string run;
  auto end_run = [&] {
    if (run.size() > best.size()) best = run;
    run.clear();
  };
  auto quantified = [&](std::size_t next) {
    return next < text.size() &&
           (text[next] == '?' || text[next] == '*' || text[next] == '{' || text[next] == '+');
  };
  // Finds the ')' closing the group that opens at `open`; npos when unbalanced.
  auto group_end = [&](std::size_t open) {
    int depth = 0;
    bool in_class = false;
    for (std::size_t i = open; i < text.size(); ++i) {
      char c = text[i];
      if (c == '\\') {
        ++i;
      } else if (in_class) {
        if (c == ']') in_class = false;
      } else if (c == '[') {
        in_class = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')' && --depth == 0) {
        return i;
      }
    }
    return std::string::npos;
  };
  std::vector<std::size_t> open_groups;  // ends of the groups being descended into
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!open_groups.empty() && i == open_groups.back()) {  // the ')' of a group we descended into
      open_groups.pop_back();
      continue;
    }
    if (c == '|') return std::nullopt;
    if (c == '(') {
      auto close = group_end(i);
      if (close == std::string::npos) return std::nullopt;
      std::string_view head(text.data() + i, std::min<std::size_t>(4, text.size() - i));
      bool lookaround = head.starts_with("(?=") || head.starts_with("(?!") || head.starts_with("(?<=") ||
                        head.starts_with("(?<!");
      bool plain_group = !head.starts_with("(?") || head.starts_with("(?:") || head.starts_with("(?<") ||
                         head.starts_with("(?P<") || head.starts_with("(?'");
      if (!lookaround && !plain_group) return std::nullopt;  // (?i) and other modifiers
      if (lookaround || quantified(close + 1)) {
        end_run();
        i = close;  // skip the whole group
        continue;
      }
      // Descend: skip the group's header up to its contents.
      std::size_t body = i + 1;
      if (text[body] == '?') {
        if (text.compare(body, 2, "?:") == 0) {
          body += 2;
        } else {
          auto name_end = text.find_first_of(">'", body + 2);
          if (name_end == std::string::npos || name_end > close) return std::nullopt;
          body = name_end + 1;
        }
      }
      open_groups.push_back(close);
      i = body - 1;
      continue;
    }
    char literal = 0;
    std::size_t next = i + 1;
    if (c == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      char e = text[i + 1];
      next = i + 2;
      if (std::isalnum(static_cast<unsigned char>(e)) || e == '<' || e == '>' || e == '`' || e == '\'') {
        end_run();  // \d \w \b \x41 \Q ...: not a plain character
        i = next - 1;
        continue;
      }
      literal = e;
    } else if (c == '[') {
      end_run();
      auto close = text.find(']', i + 2);
      if (close == std::string::npos) return std::nullopt;
      i = close;
      continue;
    } else if (std::strchr(".^$?*+{}", c) != nullptr) {
      end_run();
      continue;
    } else {
      literal = c;
    }
    if (quantified(next)) {
      bool at_least_once = text[next] == '+';
      end_run();
      if (at_least_once) run += literal;
      end_run();
    } else {
      run += literal;
    }
    i = next - 1;
  }
  end_run();
  if (best.size() < 4) return std::nullopt;
  return best;
}

// A quick "can anything match in this chunk?": each pattern's required literal, looked for in one pass
// (Horspool over a set of needles: the shift is the smallest any needle allows). It may say "maybe" too
// often, never too rarely; without a literal for every pattern there is no prefilter and each line is
// searched.
struct Prefilter {
  std::vector<std::string> literals;
  std::size_t window = 0;  // the shortest literal's length
  std::array<std::uint8_t, 256> shift{};
  std::array<std::vector<std::uint8_t>, 256> ending_with;  // needles by their byte at window - 1

  void prepare() {
    window = literals.front().size();
    for (const auto& literal : literals)
      window = std::min(window, literal.size());
    window = std::min<std::size_t>(window, 255);
    shift.fill(static_cast<std::uint8_t>(window));
    for (const auto& literal : literals) {
      for (std::size_t i = 0; i + 1 < window; ++i) {
        auto& entry = shift[static_cast<unsigned char>(literal[i])];
        entry = std::min<std::uint8_t>(entry, static_cast<std::uint8_t>(window - 1 - i));
      }
    }
    for (std::size_t i = 0; i < literals.size() && i < 256; ++i)
      ending_with[static_cast<unsigned char>(literals[i][window - 1])].push_back(
          static_cast<std::uint8_t>(i));
  }

  bool maybe(std::string_view chunk) const {
    const char* data = chunk.data();
    const std::size_t size = chunk.size();
    for (std::size_t end = window - 1; end < size;) {
      auto byte = static_cast<unsigned char>(data[end]);
      const auto& candidates = ending_with[byte];
      if (!candidates.empty()) {
        std::size_t start = end + 1 - window;
        for (auto index : candidates) {
          const auto& literal = literals[index];
          if (data[start] == literal[0] && literal.size() <= size - start &&
              std::memcmp(data + start, literal.data(), literal.size()) == 0)
            return true;
        }
      }
      end += shift[byte];
    }
    return false;
  }
};

std::unique_ptr<Prefilter> build_prefilter(const ExpectRequest& request) {
  auto prefilter = std::make_unique<Prefilter>();
  for (const auto* list : {&request.any_of, &request.must_not})
    for (const auto& pattern : *list) {
      auto literal = required_literal(pattern);
      if (!literal) return nullptr;
      prefilter->literals.push_back(std::move(*literal));
    }
  if (prefilter->literals.empty() || prefilter->literals.size() > 256) return nullptr;
  prefilter->prepare();
  return prefilter;
}

}  // namespace

struct Console::Impl {
  struct Waiter {
    const ExpectRequest* request = nullptr;
    const Prefilter* prefilter = nullptr;
    bool done = false;
    ExpectResult result;
  };

  Impl(serial::Port& p, ConsoleOptions o)
      : port(p),
        options(std::move(o)),
        framer(options.max_line_length, options.prompts),
        epoch(options.epoch.value_or(Clock::now())) {}

  serial::Port& port;
  ConsoleOptions options;
  detail::LineFramer framer;  // reader thread only
  const Clock::time_point epoch;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<Line> window;
  std::size_t window_size_bytes = 0;
  std::uint64_t next_seq = 0;
  std::uint64_t mark = 0;
  std::optional<Line> partial;  // the unterminated line, once silence made it matchable
  std::optional<std::string> vanished;
  std::optional<std::string> ended;  // a replay's end: no more lines until a rewind
  Waiter* waiter = nullptr;
  std::uint64_t dropped_before_expect = 0;
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> lines{0};

  mutable std::mutex log_mutex;
  std::FILE* raw_log = nullptr;
  std::FILE* text_log = nullptr;

  std::atomic<bool> stop{false};
  std::thread reader;

  void stop_reader();

  std::string mask(std::string_view text) const {
    auto clean = plain_ascii(text) ? std::string(text) : sanitize_text(text);
    return options.masker != nullptr ? options.masker->mask(clean) : clean;
  }

  // --- matching (mutex held) ---
  void evaluate(Waiter& w, const Line& line) {
    if (w.done) return;
    const auto& request = *w.request;
    for (std::size_t i = 0; i < request.must_not.size(); ++i) {
      if (request.must_not[i].search(line.text)) {
        w.result.status = ExpectStatus::forbidden;
        w.result.pattern_index = static_cast<int>(i);
        w.result.line = line;
        w.result.reason = mask(fmt::format("must-not-appear pattern \"{}\" appeared: {}",
                                           request.must_not[i].text(), line.text));
        w.done = true;
        mark = line.seq + 1;
        return;
      }
    }
    for (std::size_t i = 0; i < request.any_of.size(); ++i) {
      std::map<std::string, std::string> captures;
      if (request.any_of[i].search(line.text, &captures)) {
        w.result.status = ExpectStatus::matched;
        w.result.pattern_index = static_cast<int>(i);
        w.result.line = line;
        w.result.captures = std::move(captures);
        w.done = true;
        if (request.consume) mark = line.seq + 1;
        return;
      }
    }
  }

  void push_line(Line line) {
    window_size_bytes += line.text.size() + sizeof(Line);
    window.push_back(std::move(line));
    while (window.size() > 1 &&
           (window.size() > options.window_lines || window_size_bytes > options.window_bytes)) {
      window_size_bytes -= window.front().text.size() + sizeof(Line);
      window.pop_front();
    }
  }

  std::vector<Line> evidence_locked() const {
    std::vector<Line> out;
    auto count = std::min(window.size(), options.evidence_lines);
    for (auto it = window.end() - static_cast<std::ptrdiff_t>(count); it != window.end(); ++it) {
      Line copy = *it;
      copy.text = stamp(copy.at, epoch) + " " + mask(copy.text);
      out.push_back(std::move(copy));
    }
    if (partial && !partial->text.empty()) {
      Line copy = *partial;
      copy.text = stamp(copy.at, epoch) + " " + mask(copy.text);
      out.push_back(std::move(copy));
    }
    return out;
  }

  // --- logs ---
  void write_text_log(std::string_view body) {  // log_mutex held
    if (text_log != nullptr) std::fwrite(body.data(), 1, body.size(), text_log);
  }

  void note(std::string_view text) {
    std::lock_guard lock(log_mutex);
    if (text_log == nullptr) return;
    auto line = fmt::format("{} ::: {}\n", stamp(Clock::now(), epoch), mask(text));
    write_text_log(line);
    std::fflush(text_log);
  }

  // --- reader thread ---
  void run() {
    std::vector<char> buffer(64 * 1024);
    std::vector<Line> fresh;
    std::string text_chunk;
    std::size_t carried = 0;  // bytes of the partial line carried into the current read
    // When the unterminated line last grew (a plain time_point: gcc 12 -O3 warns on an optional one).
    bool has_partial = false;
    Clock::time_point partial_since{};
    bool partial_published = false;
    // A replay is a file, not a board: nothing is lost by pausing it, and played at full speed it would push
    // lines out of the window before anyone expects them. It waits while no expect is active and half a
    // window of lines since the mark is unread.
    const bool pausable = port.kind() == serial::PortKind::replay;
    const std::uint64_t pause_after = std::max<std::uint64_t>(1, options.window_lines / 2);
    while (!stop) {
      if (pausable) {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stop || waiter != nullptr || next_seq - mark < pause_after; });
        if (stop) break;
      }
      auto deadline = has_partial && !partial_published ? partial_since + options.partial_line_after
                                                        : Clock::now() + std::chrono::hours(1);
      auto result = port.read(buffer, deadline);
      if (stop) break;
      auto now = Clock::now();
      if (result.status == serial::ReadStatus::timeout) {
        if (has_partial && !partial_published && now >= partial_since + options.partial_line_after) {
          partial_published = true;
          std::lock_guard lock(mutex);
          partial = Line{next_seq, partial_since, framer.partial(), false, true};
          if (waiter != nullptr && next_seq >= mark) {
            evaluate(*waiter, *partial);
            if (waiter->done) changed.notify_all();
          }
        }
        continue;
      }
      fresh.clear();
      text_chunk.clear();
      auto on_line = [&](std::string_view text, bool cut) {
        fresh.push_back(Line{0, now, std::string(text), cut, false});
      };
      const bool finished =
          result.status == serial::ReadStatus::vanished || result.status == serial::ReadStatus::ended;
      if (result.status == serial::ReadStatus::data) {
        std::string_view data(buffer.data(), result.size);
        bytes += data.size();
        carried = framer.partial().size();
        framer.feed(data, on_line);
        has_partial = !framer.partial().empty();
        partial_since = now;
        partial_published = false;
      } else {
        framer.flush(on_line);
        has_partial = false;
      }
      {
        std::lock_guard lock(log_mutex);
        if (raw_log != nullptr && result.status == serial::ReadStatus::data) {
          std::fwrite(buffer.data(), 1, result.size, raw_log);
          std::fflush(raw_log);
        }
        if (text_log != nullptr) {
          // Every line of one read shares its stamp; the chunk is masked once (secrets hold no newline).
          auto chunk_stamp = stamp(now, epoch);
          for (const auto& line : fresh) {
            text_chunk += chunk_stamp;
            text_chunk += ' ';
            if (plain_ascii(line.text)) {
              text_chunk += line.text;
            } else {
              text_chunk += sanitize_text(line.text);
            }
            text_chunk += '\n';
          }
          if (result.status == serial::ReadStatus::vanished)
            text_chunk +=
                fmt::format("{} ::: port vanished: {}\n", chunk_stamp, sanitize_text(result.reason));
          if (result.status == serial::ReadStatus::ended)
            text_chunk += fmt::format("{} ::: {}\n", chunk_stamp, sanitize_text(result.reason));
          if (options.masker != nullptr) text_chunk = options.masker->mask(text_chunk);
          write_text_log(text_chunk);
          std::fflush(text_log);
        }
      }
      std::lock_guard lock(mutex);
      partial.reset();
      bool maybe = waiter != nullptr && !waiter->done;
      if (maybe && waiter->prefilter != nullptr && result.status == serial::ReadStatus::data) {
        // Search the bytes as read (no copy); a literal can only straddle the previous read in the first
        // line completed now, which holds the carried-over start (the second one when a prompt was split
        // off).
        maybe = waiter->prefilter->maybe(std::string_view(buffer.data(), result.size));
        for (std::size_t i = 0; !maybe && carried > 0 && i < std::min<std::size_t>(2, fresh.size()); ++i)
          maybe = waiter->prefilter->maybe(fresh[i].text);
      }
      for (auto& line : fresh) {
        line.seq = next_seq++;
        if (maybe && line.seq >= mark) evaluate(*waiter, line);
        push_line(std::move(line));
      }
      lines += fresh.size();
      if (finished) {
        auto& why = result.status == serial::ReadStatus::ended ? ended : vanished;
        why = result.reason.empty() ? std::string("port vanished") : result.reason;
        changed.notify_all();
        break;
      }
      if (waiter != nullptr && waiter->done) changed.notify_all();
    }
  }
};

Console::Console(serial::Port& port, ConsoleOptions options)
    : impl_(std::make_unique<Impl>(port, std::move(options))) {
  set_logs(impl_->options.raw_log, impl_->options.text_log);
  impl_->reader = std::thread([this] { impl_->run(); });
}

void Console::Impl::stop_reader() {
  {
    std::lock_guard lock(mutex);
    stop = true;
    changed.notify_all();
  }
  port.interrupt();
  if (reader.joinable()) reader.join();
}

Console::~Console() {
  impl_->stop_reader();
  std::lock_guard lock(impl_->log_mutex);
  if (impl_->raw_log != nullptr) std::fclose(impl_->raw_log);
  if (impl_->text_log != nullptr) std::fclose(impl_->text_log);
}

ExpectResult Console::expect(const Pattern& pattern, Clock::duration within) {
  ExpectRequest request;
  request.any_of.push_back(pattern);
  request.deadline = Clock::now() + within;
  return expect(request);
}

ExpectResult Console::expect(const ExpectRequest& request) {
  if (request.any_of.empty()) throw std::invalid_argument("expect needs at least one pattern");
  auto& impl = *impl_;
  Impl::Waiter waiter;
  waiter.request = &request;
  auto prefilter = build_prefilter(request);
  waiter.prefilter = prefilter.get();
  std::unique_lock lock(impl.mutex);
  if (impl.waiter != nullptr)
    throw std::logic_error("expect: another expect is already waiting on this console");
  // Lines since the mark that arrived before this call.
  std::uint64_t dropped = 0;
  if (!impl.window.empty() && impl.window.front().seq > impl.mark)
    dropped = impl.window.front().seq - impl.mark;
  for (const auto& line : impl.window) {
    if (line.seq < impl.mark) continue;
    impl.evaluate(waiter, line);
    if (waiter.done) return waiter.result;
  }
  if (impl.partial && impl.partial->seq >= impl.mark) {
    impl.evaluate(waiter, *impl.partial);
    if (waiter.done) return waiter.result;
  }
  if (!impl.vanished && !impl.ended) {
    impl.waiter = &waiter;
    impl.changed.notify_all();  // a paused replay reader resumes
    impl.changed.wait_until(lock, request.deadline, [&] {
      return waiter.done || impl.vanished.has_value() || impl.ended.has_value();
    });
    impl.waiter = nullptr;
    if (waiter.done) return waiter.result;
  }
  auto& result = waiter.result;
  std::string patterns;
  for (const auto& pattern : request.any_of)
    patterns += fmt::format("{}\"{}\"", patterns.empty() ? "" : ", ", pattern.text());
  if (impl.vanished) {
    result.status = ExpectStatus::vanished;
    result.reason =
        impl.mask(fmt::format("port vanished ({}) while waiting for {}", *impl.vanished, patterns));
  } else if (impl.ended) {
    result.status = ExpectStatus::ended;
    result.reason =
        impl.mask(fmt::format("the log ended ({}) without a line matching {}", *impl.ended, patterns));
  } else {
    result.status = ExpectStatus::timeout;
    result.reason = impl.mask(fmt::format("timed out waiting for {}", patterns));
  }
  if (dropped > 0)
    result.reason +=
        fmt::format(" ({} line(s) since the mark had left the window before this wait began)", dropped);
  result.evidence = impl.evidence_locked();
  return result;
}

void Console::mark() {
  std::lock_guard lock(impl_->mutex);
  impl_->mark = impl_->next_seq;
  impl_->partial.reset();
  impl_->changed.notify_all();
}

std::uint64_t Console::mark_seq() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->mark;
}

void Console::send_line(std::string_view text, std::string_view line_ending,
                        std::chrono::milliseconds per_char_delay) {
  impl_->note(fmt::format("sent \"{}\"", text));
  std::string bytes = std::string(text) + std::string(line_ending);
  if (per_char_delay.count() <= 0) {
    impl_->port.write(bytes);
    return;
  }
  for (char c : bytes) {
    impl_->port.write(std::string_view(&c, 1));
    std::this_thread::sleep_for(per_char_delay);
  }
}

bool Console::reset(const serial::ResetStrategy& strategy, std::string_view board_name) {
  mark();
  note(fmt::format("reset: {}", strategy.describe()));
  bool rewound = rewind();
  serial::perform_reset(strategy, impl_->port, board_name);
  return rewound;
}

bool Console::rewind() {
  auto& impl = *impl_;
  if (!impl.port.capabilities().rewind) return false;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.waiter != nullptr) throw std::logic_error("rewind: an expect is waiting on this console");
  }
  // The reader is stopped (joined), so no byte read before the rewind can reach the window after it.
  impl.stop_reader();
  bool rewound = impl.port.rewind();
  {
    std::lock_guard lock(impl.mutex);
    impl.framer = detail::LineFramer(impl.options.max_line_length, impl.options.prompts);
    impl.partial.reset();
    impl.ended.reset();
    impl.mark = impl.next_seq;
    impl.stop = false;
  }
  if (rewound) impl.note("rewound: the log plays again from its first line");
  impl.reader = std::thread([this] { impl_->run(); });
  return rewound;
}

void Console::set_logs(const std::filesystem::path& raw_log, const std::filesystem::path& text_log) {
  // The raw log holds what the board printed, secrets unmasked: readable by its owner only.
  auto open = [](const std::filesystem::path& path, mode_t mode) -> std::FILE* {
    if (path.empty()) return nullptr;
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
    std::FILE* file = fd < 0 ? nullptr : ::fdopen(fd, "ab");
    if (fd >= 0 && file == nullptr) ::close(fd);
    if (file == nullptr)
      throw std::runtime_error(
          fmt::format("cannot open log file {}: {}", path.string(), std::strerror(errno)));
    return file;
  };
  std::FILE* new_raw = open(raw_log, 0600);
  std::FILE* new_text = nullptr;
  try {
    new_text = open(text_log, 0644);
  } catch (...) {
    if (new_raw != nullptr) std::fclose(new_raw);
    throw;
  }
  std::lock_guard lock(impl_->log_mutex);
  if (impl_->raw_log != nullptr) std::fclose(impl_->raw_log);
  if (impl_->text_log != nullptr) std::fclose(impl_->text_log);
  impl_->raw_log = new_raw;
  impl_->text_log = new_text;
  impl_->options.raw_log = raw_log;
  impl_->options.text_log = text_log;
}

void Console::note(std::string_view text) {
  impl_->note(text);
}

std::vector<Line> Console::recent_lines(std::size_t max) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<Line> out;
  auto count = std::min(impl_->window.size(), max);
  out.assign(impl_->window.end() - static_cast<std::ptrdiff_t>(count), impl_->window.end());
  if (impl_->partial && out.size() < max) out.push_back(*impl_->partial);
  return out;
}

std::optional<std::string> Console::vanished() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->vanished;
}

std::optional<std::string> Console::ended() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->ended;
}

std::uint64_t Console::bytes_received() const {
  return impl_->bytes;
}

std::uint64_t Console::lines_received() const {
  return impl_->lines;
}

}  // namespace provhil::console
