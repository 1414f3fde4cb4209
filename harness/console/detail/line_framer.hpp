#pragma once
// Internal: bytes to lines. CRLF, LF and a lone CR end a line (a CR at the end of one chunk and an LF at
// the start of the next are one CRLF); lines longer than the cap are cut into slices; a prompt stuck to the
// next log line (">[1234] ...") is split off. Bounded memory: at most one capped partial line is held.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace provhil::console::detail {

class LineFramer {
 public:
  LineFramer(std::size_t max_line_length, std::vector<std::string> prompts)
      : max_(max_line_length == 0 ? 1 : max_line_length), prompts_(std::move(prompts)) {}

  // Calls on_line(std::string_view text, bool cut) for every line completed by `bytes`.
  template <typename OnLine>
  void feed(std::string_view bytes, OnLine&& on_line) {
    const char* at = bytes.data();
    const char* end = at + bytes.size();
    if (after_cr_ && at < end && *at == '\n') ++at;
    after_cr_ = false;
    while (at < end) {
      const char* newline =
          static_cast<const char*>(std::memchr(at, '\n', static_cast<std::size_t>(end - at)));
      const char* stop = newline != nullptr ? newline : end;
      const char* cr = static_cast<const char*>(std::memchr(at, '\r', static_cast<std::size_t>(stop - at)));
      const char* terminator = cr != nullptr ? cr : newline;
      if (terminator == nullptr) {  // no terminator in the rest: keep it as the partial line
        append(std::string_view(at, static_cast<std::size_t>(end - at)), on_line);
        return;
      }
      std::string_view segment(at, static_cast<std::size_t>(terminator - at));
      if (pending_.empty() && segment.size() <= max_) {
        emit(segment, false, on_line);  // the common case: no copy
      } else {
        append(segment, on_line);
        emit(pending_, false, on_line);
        pending_.clear();
      }
      at = terminator + 1;
      if (*terminator == '\r') {
        if (at < end && *at == '\n') {
          ++at;
        } else if (at == end) {
          after_cr_ = true;  // the LF of a CRLF may come in the next chunk
        }
      }
    }
  }

  const std::string& partial() const { return pending_; }
  // Ends the partial line (the port vanished): calls on_line for it when there is one.
  template <typename OnLine>
  void flush(OnLine&& on_line) {
    if (!pending_.empty()) emit(pending_, false, on_line);
    pending_.clear();
  }

 private:
  template <typename OnLine>
  void append(std::string_view bytes, OnLine& on_line) {
    while (pending_.size() + bytes.size() > max_) {
      auto room = max_ - pending_.size();
      pending_.append(bytes.substr(0, room));
      bytes.remove_prefix(room);
      on_line(std::string_view(pending_), true);
      pending_.clear();
    }
    pending_.append(bytes);
  }

  template <typename OnLine>
  void emit(std::string_view line, bool cut, OnLine& on_line) {
    // ">[1234] Connecting..." : the prompt was printed, then a log line without a newline between.
    if (!line.empty() && !prompts_.empty()) {
      for (const auto& prompt : prompts_) {
        if (line.size() > prompt.size() + 1 && line.starts_with(prompt) && line[prompt.size()] == '[' &&
            line[prompt.size() + 1] >= '0' && line[prompt.size() + 1] <= '9') {
          on_line(line.substr(0, prompt.size()), false);
          on_line(line.substr(prompt.size()), cut);
          return;
        }
      }
    }
    on_line(line, cut);
  }

  std::size_t max_;
  std::vector<std::string> prompts_;
  std::string pending_;
  bool after_cr_ = false;
};

}  // namespace provhil::console::detail
