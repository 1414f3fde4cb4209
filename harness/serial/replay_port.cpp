// Plays a captured log back, so scenario authors can develop patterns offline against what a board printed.
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "serial/port.hpp"

namespace provhil::serial {

namespace {

constexpr std::size_t max_replay_line = 64 * 1024;

bool all_digits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Matches `shape` at the start of `text`: 'd' is a digit, anything else itself. Returns its length or 0.
std::size_t match_shape(std::string_view text, std::string_view shape) {
  if (text.size() < shape.size()) return 0;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? !is_digit(text[i]) : text[i] != shape[i]) return 0;
  }
  return shape.size();
}

// Removes ESC [ parameters... final-letter sequences (colours, cursor moves).
std::string strip_ansi(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      std::size_t j = i + 2;
      while (j < text.size() && !(text[j] >= '@' && text[j] <= '~'))
        ++j;
      i = j;  // past the final byte (or the end of a cut sequence)
      continue;
    }
    out += text[i];
  }
  return out;
}

// The line without what the monitors in `strips` put in front of it; std::nullopt: drop the line.
std::optional<std::string> apply_strips(std::string raw, const std::vector<ReplayStrip>& strips) {
  for (auto strip : strips) {
    std::string_view view(raw);
    std::size_t cut = 0;
    switch (strip) {
      case ReplayStrip::ansi:
        raw = strip_ansi(raw);
        continue;
      case ReplayStrip::comments:
        if (view.starts_with('#')) return std::nullopt;
        continue;
      case ReplayStrip::arduino_ide:
        cut = match_shape(view, "dd:dd:dd.ddd -> ");
        break;
      case ReplayStrip::platformio:
        cut = match_shape(view, "dd:dd:dd.ddd > ");
        break;
      case ReplayStrip::idf_monitor:
        if ((cut = match_shape(view, "dddd-dd-dd dd:dd:dd")) != 0) {
          if (auto ms = match_shape(view.substr(cut), ".ddd")) cut += ms;
          if (cut < view.size() && view[cut] == ' ') ++cut;
        }
        break;
    }
    raw.erase(0, cut);
  }
  return raw;
}

struct ReplayLine {
  std::string bytes;
  std::optional<double> stamp_ms;
  bool skip = false;  // our own notes ("::: sent ...") are not board output
};

// "[t+   1234ms] text" (our text log: ms since the run started): stamp from it, text without it.
// "[    12.345] text" (our text log before the run-wide time base): the same, in seconds.
// "[12345] text" (Edgent's millis): stamp from it, the line unchanged.
ReplayLine classify(std::string raw) {
  ReplayLine line;
  if (raw.size() > 2 && raw.front() == '[') {
    auto close = raw.find(']');
    if (close != std::string::npos && close < 24) {
      std::string_view inside(raw.data() + 1, close - 1);
      if (inside.starts_with("t+") && inside.ends_with("ms") && close + 1 < raw.size() &&
          raw[close + 1] == ' ') {
        auto number = inside.substr(2, inside.size() - 4);
        number = number.substr(std::min(number.size(), number.find_first_not_of(' ')));
        if (!number.empty() && all_digits(number)) {
          line.stamp_ms = std::stod(std::string(number));
          std::string rest = raw.substr(close + 2);
          line.skip = rest.starts_with("::: ");
          line.bytes = std::move(rest);
          return line;
        }
      }
      auto trimmed = inside.substr(std::min(inside.size(), inside.find_first_not_of(' ')));
      auto dot = trimmed.find('.');
      if (dot != std::string_view::npos && all_digits(trimmed.substr(0, dot)) &&
          all_digits(trimmed.substr(dot + 1)) && close + 1 < raw.size() && raw[close + 1] == ' ') {
        line.stamp_ms = std::stod(std::string(trimmed)) * 1000.0;
        std::string rest = raw.substr(close + 2);
        line.skip = rest.starts_with("::: ");
        line.bytes = std::move(rest);
        return line;
      }
      if (all_digits(inside)) line.stamp_ms = std::stod(std::string(inside));
    }
  }
  line.bytes = std::move(raw);
  return line;
}

class ReplayPort final : public Port {
 public:
  ReplayPort(const std::filesystem::path& path, ReplayPacing pacing, std::vector<ReplayStrip> strip)
      : path_(path), pacing_(pacing), strip_(std::move(strip)), file_(std::fopen(path.c_str(), "rb")) {
    if (file_ == nullptr)
      throw PortError("replay:" + path.string(),
                      fmt::format("cannot read the log: {}", std::strerror(errno)));
  }
  ~ReplayPort() override { ReplayPort::close(); }

  ReadResult read(std::span<char> buffer, Clock::time_point deadline) override {
    std::unique_lock lock(mutex_);
    std::size_t filled = 0;
    while (filled < buffer.size()) {
      if (file_ == nullptr) return {ReadStatus::vanished, 0, "port closed"};
      if (pending_offset_ >= pending_.size()) {
        // One line per read: a reader can pause a replay between lines (a file never overflows).
        if (filled > 0 || !load_next_line()) break;
      }
      if (Clock::now() < due_) {
        if (filled > 0) break;  // deliver what is due now; the next line is for later
        interrupted_ = false;
        cv_.wait_until(lock, std::min(due_, deadline), [&] { return interrupted_ || file_ == nullptr; });
        if (file_ == nullptr) return {ReadStatus::vanished, 0, "port closed"};
        if (interrupted_ || Clock::now() < due_) return {ReadStatus::timeout, 0, {}};
      }
      auto count = std::min(buffer.size() - filled, pending_.size() - pending_offset_);
      std::memcpy(buffer.data() + filled, pending_.data() + pending_offset_, count);
      filled += count;
      pending_offset_ += count;
    }
    if (filled > 0) return {ReadStatus::data, filled, {}};
    return {ReadStatus::ended, 0, fmt::format("end of replay ({})", path_.string())};
  }

  void write(std::string_view) override {}  // a recording does not listen
  void interrupt() override {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
    cv_.notify_all();
  }
  void close() override {
    std::lock_guard lock(mutex_);
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    cv_.notify_all();
  }
  bool rewind() override {
    std::lock_guard lock(mutex_);
    if (file_ == nullptr) return false;
    std::rewind(file_);
    pending_.clear();
    pending_offset_ = 0;
    first_stamp_ms_.reset();
    last_stamp_ms_.reset();
    due_ = {};
    return true;
  }
  std::string describe() const override {
    return fmt::format("replay {} ({} pacing)", path_.string(),
                       pacing_ == ReplayPacing::fast ? "fast" : "original");
  }
  PortKind kind() const override { return PortKind::replay; }
  PortCapabilities capabilities() const override {
    return {.modem_lines = false, .signal = false, .write = false, .rewind = true};
  }

 private:
  // Reads the next line (at most max_replay_line bytes) into pending_ and sets its due time.
  bool load_next_line() {
    for (;;) {
      std::string raw;
      int c = 0;
      while (raw.size() < max_replay_line && (c = std::fgetc(file_)) != EOF) {
        raw += static_cast<char>(c);
        if (c == '\n') break;
      }
      if (raw.empty()) return false;
      if (!strip_.empty()) {
        bool ended = raw.back() == '\n';
        if (ended) raw.pop_back();
        bool cr = ended && !raw.empty() && raw.back() == '\r';
        if (cr) raw.pop_back();
        auto kept = apply_strips(std::move(raw), strip_);
        if (!kept) continue;
        raw = std::move(*kept);
        if (cr) raw += '\r';
        if (ended) raw += '\n';
      }
      auto line = classify(std::move(raw));
      if (line.skip) continue;
      pending_ = std::move(line.bytes);
      pending_offset_ = 0;
      if (pacing_ == ReplayPacing::original && line.stamp_ms) {
        if (!first_stamp_ms_) {
          first_stamp_ms_ = line.stamp_ms;
          start_ = Clock::now();
        }
        // A reboot restarts the board's millis: carry on from where the previous stamp left off.
        if (last_stamp_ms_ && *line.stamp_ms < *last_stamp_ms_)
          *first_stamp_ms_ -= *last_stamp_ms_ - *line.stamp_ms;
        last_stamp_ms_ = line.stamp_ms;
        auto offset = std::chrono::duration<double, std::milli>(*line.stamp_ms - *first_stamp_ms_);
        due_ = std::max(due_, start_ + std::chrono::duration_cast<Clock::duration>(offset));
      }
      return true;
    }
  }

  std::filesystem::path path_;
  ReplayPacing pacing_;
  std::vector<ReplayStrip> strip_;
  std::FILE* file_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool interrupted_ = false;
  std::string pending_;
  std::size_t pending_offset_ = 0;
  std::optional<double> first_stamp_ms_;
  std::optional<double> last_stamp_ms_;
  Clock::time_point start_;
  Clock::time_point due_{};
};

}  // namespace

ReplayStrip parse_replay_strip(std::string_view name) {
  for (auto strip : {ReplayStrip::arduino_ide, ReplayStrip::platformio, ReplayStrip::idf_monitor,
                     ReplayStrip::ansi, ReplayStrip::comments})
    if (to_string(strip) == name) return strip;
  throw std::invalid_argument(
      fmt::format("strip \"{}\" is not one of arduino-ide, platformio, idf-monitor, ansi, comments", name));
}

std::string_view to_string(ReplayStrip strip) {
  switch (strip) {
    case ReplayStrip::arduino_ide:
      return "arduino-ide";
    case ReplayStrip::platformio:
      return "platformio";
    case ReplayStrip::idf_monitor:
      return "idf-monitor";
    case ReplayStrip::ansi:
      return "ansi";
    case ReplayStrip::comments:
      return "comments";
  }
  return "unknown";
}

std::unique_ptr<Port> open_replay(const std::filesystem::path& path, ReplayPacing pacing,
                                  std::vector<ReplayStrip> strip) {
  return std::make_unique<ReplayPort>(path, pacing, std::move(strip));
}

}  // namespace provhil::serial
