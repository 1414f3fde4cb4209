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

struct ReplayLine {
  std::string bytes;
  std::optional<double> stamp_ms;
  bool skip = false;  // our own notes ("::: sent ...") are not board output
};

// "[    12.345] text" (our text log): stamp from it, text without it.
// "[12345] text" (Edgent's millis): stamp from it, the line unchanged.
ReplayLine classify(std::string raw) {
  ReplayLine line;
  if (raw.size() > 2 && raw.front() == '[') {
    auto close = raw.find(']');
    if (close != std::string::npos && close < 24) {
      std::string_view inside(raw.data() + 1, close - 1);
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
  ReplayPort(const std::filesystem::path& path, ReplayPacing pacing)
      : path_(path), pacing_(pacing), file_(std::fopen(path.c_str(), "rb")) {
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
    return {ReadStatus::vanished, 0, fmt::format("end of replay ({})", path_.string())};
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
  std::string describe() const override {
    return fmt::format("replay {} ({} pacing)", path_.string(),
                       pacing_ == ReplayPacing::fast ? "fast" : "original");
  }
  PortKind kind() const override { return PortKind::replay; }
  PortCapabilities capabilities() const override {
    return {.modem_lines = false, .signal = false, .write = false};
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

std::unique_ptr<Port> open_replay(const std::filesystem::path& path, ReplayPacing pacing) {
  return std::make_unique<ReplayPort>(path, pacing);
}

}  // namespace provhil::serial
