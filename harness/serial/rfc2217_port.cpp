// An RFC 2217 client: a serial port on another host behind a telnet COM-PORT-OPTION server (ser2net's
// `telnet(rfc2217)` accepter, pyserial's PortManager, labgrid's exporters). Unlike tcp:// it carries the
// serial settings and the modem lines, so DTR/RTS resets work on a remote board.
//
// One thread reads the socket: it strips the telnet layer, answers the server's option requests and
// records the server's answers, so that an answer is seen whether or not anyone is reading data.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "serial/detail/fd_port.hpp"

namespace provhil::serial {

namespace {

using namespace std::chrono_literals;

// Telnet (RFC 854, 855) commands and the options negotiated here (RFC 856 BINARY, 858 SGA, 2217).
enum : unsigned char {
  IAC = 255,
  DONT = 254,
  DO = 253,
  WONT = 252,
  WILL = 251,
  SB = 250,
  SE = 240,
  OPT_BINARY = 0,
  OPT_SGA = 3,
  OPT_COM_PORT = 44,
};

// COM-PORT-OPTION commands, client to server; the server answers each with the code + 100.
enum class Cpc : unsigned char {
  set_baudrate = 1,
  set_datasize = 2,
  set_parity = 3,
  set_stopsize = 4,
  set_control = 5,
  notify_linestate = 6,
  notify_modemstate = 7,
  flowcontrol_suspend = 8,
  flowcontrol_resume = 9,
  set_linestate_mask = 10,
  set_modemstate_mask = 11,
  purge_data = 12,
};
constexpr unsigned char server_offset = 100;
constexpr std::size_t command_count = 13;

// SET-CONTROL values.
enum : unsigned char {
  CONTROL_NO_FLOW = 1,
  CONTROL_XONXOFF = 2,
  CONTROL_HARDWARE_FLOW = 3,
  CONTROL_DTR_ON = 8,
  CONTROL_DTR_OFF = 9,
  CONTROL_RTS_ON = 11,
  CONTROL_RTS_OFF = 12,
};
constexpr unsigned char DATASIZE_8 = 8;
constexpr unsigned char PARITY_NONE = 1;
constexpr unsigned char STOPSIZE_1 = 1;
constexpr unsigned char PURGE_BOTH = 3;
// Line state bits worth a warning: overrun, parity error, framing error, break.
constexpr unsigned char LINESTATE_ERRORS = 0x02 | 0x04 | 0x08 | 0x10;

// Unread board data kept before the reader stops taking from the socket (TCP then pushes back).
constexpr std::size_t inbox_limit = 1 << 20;
// A subnegotiation longer than any COM-PORT-OPTION one is cut (bounded memory on a broken server).
constexpr std::size_t sub_limit = 64;

std::string control_name(unsigned char value) {
  switch (value) {
    case CONTROL_NO_FLOW:
      return "no flow control";
    case CONTROL_XONXOFF:
      return "XON/XOFF flow control";
    case CONTROL_HARDWARE_FLOW:
      return "RTS/CTS flow control";
    case CONTROL_DTR_ON:
      return "DTR on";
    case CONTROL_DTR_OFF:
      return "DTR off";
    case CONTROL_RTS_ON:
      return "RTS on";
    case CONTROL_RTS_OFF:
      return "RTS off";
    default:
      return fmt::format("control {}", value);
  }
}

std::string line_errors(unsigned char state) {
  std::string text;
  auto add = [&](unsigned char bit, const char* name) {
    if ((state & bit) != 0) text += fmt::format("{}{}", text.empty() ? "" : ", ", name);
  };
  add(0x02, "overrun");
  add(0x04, "parity error");
  add(0x08, "framing error");
  add(0x10, "break");
  return text;
}

// Data with each IAC doubled: how telnet carries a 0xFF byte.
std::string escape_iac(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 8);
  for (char c : bytes) {
    out += c;
    if (static_cast<unsigned char>(c) == IAC) out += c;
  }
  return out;
}

std::string trimmed(std::string_view text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

// ser2net refuses a client beyond its connection's `max-connections` (default 1) with one of these lines,
// then closes: the port is busy, not broken. Read at the protocol's edge, it becomes PortBusy.
bool ser2net_busy_reply(std::string_view text) {
  auto line = trimmed(text);
  return line == "Port already in use" || line == "Port's device already in use";
}

class Rfc2217Port final : public Port {
 public:
  Rfc2217Port(const std::string& host, std::uint16_t port, const Rfc2217Options& options)
      : name_(fmt::format("rfc2217://{}:{}", host, port)), options_(options) {
    auto deadline = Clock::now() + options.connect_timeout;
    fd_ = detail::connect_tcp_socket(name_, host, port, deadline);
    identity_ = detail::tcp_identity(fd_);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      ::close(fd_);
      throw PortError(name_, fmt::format("eventfd: {}", detail::errno_text(errno)));
    }
    reader_ = std::thread([this] { read_loop(); });
    try {
      negotiate(deadline);
    } catch (...) {
      close();
      throw;
    }
  }
  ~Rfc2217Port() override { Rfc2217Port::close(); }

  ReadResult read(std::span<char> buffer, Clock::time_point deadline) override {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline, [&] {
      return inbox_.size() > inbox_read_ || !vanished_.empty() || interrupted_ || closed_;
    });
    if (inbox_.size() > inbox_read_) {
      auto size = std::min(buffer.size(), inbox_.size() - inbox_read_);
      std::memcpy(buffer.data(), inbox_.data() + inbox_read_, size);
      inbox_read_ += size;
      if (inbox_read_ == inbox_.size()) {
        inbox_.clear();
        inbox_read_ = 0;
      }
      changed_.notify_all();  // the reader may be waiting for room
      return {ReadStatus::data, size, {}};
    }
    if (!vanished_.empty()) return {ReadStatus::vanished, 0, vanished_};
    if (closed_) return {ReadStatus::vanished, 0, "port closed"};
    interrupted_ = false;
    return {};
  }

  void write(std::string_view bytes) override {
    {
      // The server asked us to hold our data (FLOWCONTROL-SUSPEND) until it resumes; TCP pushes back
      // beyond that anyway, so at most the write timeout.
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, options_.write_timeout,
                        [&] { return !suspended_ || !vanished_.empty() || closed_; });
      if (!vanished_.empty())
        throw PortError(name_, fmt::format("write failed: port vanished: {}", vanished_));
      if (closed_) throw PortError(name_, "write on a closed port");
    }
    send_raw(escape_iac(bytes));
  }

  void interrupt() override {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
    changed_.notify_all();
  }

  void close() override {
    if (shut_.exchange(true)) return;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      changed_.notify_all();
    }
    if (wake_fd_ >= 0) {
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    }
    if (reader_.joinable()) reader_.join();
    std::lock_guard lock(write_mutex_);
    if (fd_ >= 0) ::close(fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    fd_ = wake_fd_ = -1;
  }

  std::string describe() const override {
    std::lock_guard lock(mutex_);
    std::string modem;
    if (modem_state_) {
      auto bit = [&](unsigned char mask) { return (*modem_state_ & mask) != 0 ? "on" : "off"; };
      modem = fmt::format(" (CTS {}, DSR {}, CD {}, RI {})", bit(0x10), bit(0x20), bit(0x80), bit(0x40));
    }
    return fmt::format("{} at {} baud{}", name_, baud_, modem);
  }
  PortKind kind() const override { return PortKind::rfc2217; }
  PortCapabilities capabilities() const override {
    return {.modem_lines = true, .signal = false, .write = true};
  }

  void set_dtr(bool on) override { control(on ? CONTROL_DTR_ON : CONTROL_DTR_OFF); }
  void set_rts(bool on) override { control(on ? CONTROL_RTS_ON : CONTROL_RTS_OFF); }

  // PURGE-DATA, both directions: what the server holds from before (board output not yet sent, our data
  // not yet written to the device). What already arrived here stays: the console logs every byte, and
  // marks the reset so that no line from before it satisfies a later expect.
  void purge() override {
    auto generation = send_command(Cpc::purge_data, std::string(1, static_cast<char>(PURGE_BOTH)));
    if (purge_unanswered_) return;
    if (!await_answer(Cpc::purge_data, generation, Clock::now() + options_.reply_timeout)) {
      purge_unanswered_ = true;
      if (vanished()) return;
      warn(fmt::format("the server did not answer PURGE-DATA within {} ms: purges are sent without waiting",
                       options_.reply_timeout.count()));
    }
  }

 private:
  // --- negotiation -------------------------------------------------------------------------------------

  // A server that turns the client away may close while the client is still sending its settings.
  void negotiate(Clock::time_point deadline) {
    try {
      negotiate_options(deadline);
    } catch (const PortBusy&) {
      throw;
    } catch (const PortError&) {
      if (vanished()) refused();
      throw;
    }
  }

  void negotiate_options(Clock::time_point deadline) {
    {
      // What we ask for now counts as said: the server's agreement is an answer, not a new request.
      std::lock_guard lock(mutex_);
      for (unsigned char option : {OPT_BINARY, OPT_SGA}) {
        ours_[option] = said_yes;
        theirs_[option] = said_yes;
      }
      ours_[OPT_COM_PORT] = said_yes;
    }
    send_raw(std::string{static_cast<char>(IAC), static_cast<char>(WILL), static_cast<char>(OPT_BINARY),
                         static_cast<char>(IAC), static_cast<char>(DO), static_cast<char>(OPT_BINARY),
                         static_cast<char>(IAC), static_cast<char>(WILL), static_cast<char>(OPT_SGA),
                         static_cast<char>(IAC), static_cast<char>(DO), static_cast<char>(OPT_SGA),
                         static_cast<char>(IAC), static_cast<char>(WILL), static_cast<char>(OPT_COM_PORT)});
    {
      std::unique_lock lock(mutex_);
      changed_.wait_until(lock, deadline, [&] { return com_port_.has_value() || !vanished_.empty(); });
      if (!vanished_.empty()) {
        lock.unlock();
        refused();
      }
      if (!com_port_)
        throw PortError(name_,
                        fmt::format("the server did not agree to RFC 2217 (COM-PORT-OPTION) within {} ms "
                                    "(a raw or plain telnet port? use tcp:// for those)",
                                    options_.connect_timeout.count()));
      if (!*com_port_)
        throw PortError(name_,
                        "the server refuses RFC 2217 (COM-PORT-OPTION): is it ser2net with a telnet(rfc2217) "
                        "accepter? (a raw port is tcp://)");
    }
    // Flow control first: a server that answers in order has answered it by the time the last setting's
    // answer arrives, so its silence shows without waiting out a timeout.
    unsigned char flow = options_.settings.flow == FlowControl::rts_cts    ? CONTROL_HARDWARE_FLOW
                         : options_.settings.flow == FlowControl::xon_xoff ? CONTROL_XONXOFF
                                                                           : CONTROL_NO_FLOW;
    auto flow_generation = send_command(Cpc::set_control, std::string(1, static_cast<char>(flow)));
    auto baud = static_cast<std::uint32_t>(options_.settings.baud);
    struct Setting {
      Cpc cpc;
      std::string value;
      const char* what;
    };
    const std::array<Setting, 4> settings{{
        {Cpc::set_baudrate,
         {static_cast<char>(baud >> 24), static_cast<char>(baud >> 16), static_cast<char>(baud >> 8),
          static_cast<char>(baud)},
         "SET-BAUDRATE"},
        {Cpc::set_datasize, std::string(1, static_cast<char>(DATASIZE_8)), "SET-DATASIZE"},
        {Cpc::set_parity, std::string(1, static_cast<char>(PARITY_NONE)), "SET-PARITY"},
        {Cpc::set_stopsize, std::string(1, static_cast<char>(STOPSIZE_1)), "SET-STOPSIZE"},
    }};
    std::array<std::uint64_t, 4> generations{};
    for (std::size_t i = 0; i < settings.size(); ++i)
      generations[i] = send_command(settings[i].cpc, settings[i].value);
    // Tell us of line errors; modem state changes are notified by default (mask 255).
    send_command(Cpc::set_linestate_mask, std::string(1, static_cast<char>(LINESTATE_ERRORS)));
    for (std::size_t i = 0; i < settings.size(); ++i) {
      auto answer = await_answer(settings[i].cpc, generations[i], deadline);
      if (vanished()) refused();
      if (!answer)
        throw PortError(name_, fmt::format("the server did not answer {} within {} ms", settings[i].what,
                                           options_.connect_timeout.count()));
      if (settings[i].cpc == Cpc::set_baudrate && answer->size() == 4) {
        std::uint32_t got = 0;
        for (unsigned char byte : *answer)
          got = (got << 8) | byte;
        std::lock_guard lock(mutex_);
        baud_ = got;
      }
    }
    if (baud_ != baud)
      warn(fmt::format("asked for {} baud, the server runs the port at {} baud", baud, baud_));
    // Give an out-of-order server a moment longer, then go on without control answers.
    if (!await_answer(Cpc::set_control, flow_generation, Clock::now() + 100ms)) {
      if (vanished()) refused();
      controls_unanswered(fmt::format("the server did not answer SET-CONTROL ({})", control_name(flow)));
    }
  }

  // The connection ended during the open. ser2net says why in a line of text before it closes; "in use"
  // is a busy port (the caller may wait for it), anything else an error.
  [[noreturn]] void refused() {
    std::string said;
    std::string reason;
    {
      std::lock_guard lock(mutex_);
      said = trimmed(std::string_view(inbox_).substr(inbox_read_));
      reason = vanished_;
    }
    if (ser2net_busy_reply(said)) {
      // Who else on this host is connected to the same server port: another run queueing here names it.
      throw PortBusy(name_, detail::find_tcp_peers(identity_),
                     fmt::format("another client (the server says \"{}\")", said));
    }
    if (!said.empty())
      throw PortError(name_, fmt::format("the server closed the connection while opening: \"{}\"", said));
    throw PortError(name_, fmt::format("connection lost while opening: {}", reason));
  }

  void controls_unanswered(const std::string& what) {
    if (controls_unanswered_) return;
    controls_unanswered_ = true;
    warn(
        fmt::format("{} (ser2net in front of a device without modem lines, such as a pty, does not answer "
                    "them): control changes (DTR, RTS) are sent without waiting for an answer from now on",
                    what));
  }

  // SET-CONTROL: waits for the server's answer (so a reset pulse starts once the line has moved), or,
  // once the server has shown it does not answer these, sends without waiting.
  void control(unsigned char value) {
    auto generation = send_command(Cpc::set_control, std::string(1, static_cast<char>(value)));
    if (controls_unanswered_) return;
    if (!await_answer(Cpc::set_control, generation, Clock::now() + options_.reply_timeout)) {
      if (vanished())
        throw PortError(name_,
                        fmt::format("{} failed: port vanished: {}", control_name(value), vanish_reason()));
      controls_unanswered(fmt::format("the server did not answer SET-CONTROL ({}) within {} ms",
                                      control_name(value), options_.reply_timeout.count()));
    }
  }

  // Sends IAC SB COM-PORT-OPTION code value IAC SE; returns the count of answers to wait past.
  std::uint64_t send_command(Cpc cpc, const std::string& value) {
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(mutex_);
      generation = answers_[static_cast<std::size_t>(cpc)].count;
    }
    std::string frame{static_cast<char>(IAC), static_cast<char>(SB), static_cast<char>(OPT_COM_PORT),
                      static_cast<char>(cpc)};
    frame += escape_iac(value);
    frame += {static_cast<char>(IAC), static_cast<char>(SE)};
    send_raw(frame);
    return generation;
  }

  std::optional<std::string> await_answer(Cpc cpc, std::uint64_t generation, Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    auto& answer = answers_[static_cast<std::size_t>(cpc)];
    changed_.wait_until(lock, deadline,
                        [&] { return answer.count > generation || !vanished_.empty() || closed_; });
    if (answer.count > generation) return answer.value;
    return std::nullopt;
  }

  bool vanished() const {
    std::lock_guard lock(mutex_);
    return !vanished_.empty();
  }
  std::string vanish_reason() const {
    std::lock_guard lock(mutex_);
    return vanished_;
  }

  // --- the socket --------------------------------------------------------------------------------------

  void send_raw(std::string_view bytes) {
    std::lock_guard lock(write_mutex_);
    auto deadline = Clock::now() + options_.write_timeout;
    while (!bytes.empty()) {
      if (fd_ < 0) throw PortError(name_, "write on a closed port");
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0)
          throw PortError(name_, fmt::format("write timed out after {} ms (the server takes no data)",
                                             options_.write_timeout.count()));
        pollfd pfd{fd_, POLLOUT, 0};
        ::poll(&pfd, 1, static_cast<int>(std::min<long>(left, 1000)));
        continue;
      }
      auto why = detail::errno_text(errno);
      std::string reason;
      {
        std::lock_guard state(mutex_);
        if (vanished_.empty()) vanished_ = fmt::format("connection lost: {}", why);
        reason = vanished_;
        changed_.notify_all();
      }
      throw PortError(name_, fmt::format("write failed: port vanished: {}", reason));
    }
  }

  void read_loop() {
    std::vector<unsigned char> buffer(65536);
    for (;;) {
      {
        // Backpressure: stop taking from the socket while the unread data is at its limit.
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return inbox_.size() - inbox_read_ < inbox_limit || closed_; });
        if (closed_) return;
      }
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      int ready = ::poll(fds, 2, -1);
      if (ready < 0) {
        if (errno == EINTR) continue;
        return vanish(fmt::format("poll: {}", detail::errno_text(errno)));
      }
      if (fds[1].revents != 0) return;  // close()
      if (fds[0].revents == 0) continue;
      ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n == 0) return vanish("connection closed by peer");
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return vanish(fmt::format("connection lost: {}", detail::errno_text(errno)));
      }
      std::string replies;
      std::vector<std::string> warnings;
      {
        std::lock_guard lock(mutex_);
        if (inbox_read_ > 0 && inbox_read_ * 2 >= inbox_.size()) {
          inbox_.erase(0, inbox_read_);
          inbox_read_ = 0;
        }
        decode(std::span(buffer.data(), static_cast<std::size_t>(n)), replies);
        warnings.swap(pending_warnings_);
        changed_.notify_all();
      }
      for (const auto& text : warnings)
        warn(text);
      if (!replies.empty()) {
        try {
          send_raw(replies);
        } catch (const PortError&) {
          return;  // send_raw recorded the vanish
        }
      }
    }
  }

  void vanish(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (vanished_.empty()) vanished_ = reason;
    changed_.notify_all();
  }

  // The telnet decoder (mutex_ held). Data goes to the inbox; option requests get their answer appended
  // to `replies`; a subnegotiation is handled when its IAC SE arrives.
  void decode(std::span<const unsigned char> bytes, std::string& replies) {
    std::size_t i = 0;
    while (i < bytes.size()) {
      if (state_ == State::data) {
        // The common case: a run of board data up to the next IAC.
        const auto* start = bytes.data() + i;
        const auto* iac = static_cast<const unsigned char*>(std::memchr(start, IAC, bytes.size() - i));
        auto run = iac == nullptr ? bytes.size() - i : static_cast<std::size_t>(iac - start);
        inbox_.append(reinterpret_cast<const char*>(start), run);
        i += run;
        if (iac != nullptr) {
          state_ = State::iac;
          ++i;
        }
        continue;
      }
      decode_byte(bytes[i++], replies);
    }
  }

  void decode_byte(unsigned char byte, std::string& replies) {
    switch (state_) {
      case State::data:
        if (byte == IAC)
          state_ = State::iac;
        else
          inbox_ += static_cast<char>(byte);
        return;
      case State::iac:
        state_ = State::data;
        if (byte == IAC) {
          inbox_ += static_cast<char>(byte);  // an escaped 0xFF in the board's data
        } else if (byte == WILL || byte == WONT || byte == DO || byte == DONT) {
          verb_ = byte;
          state_ = State::option;
        } else if (byte == SB) {
          sub_.clear();
          state_ = State::sub;
        }  // NOP, GA, DM and the like carry nothing here
        return;
      case State::option:
        state_ = State::data;
        negotiate_option(verb_, byte, replies);
        return;
      case State::sub:
        if (byte == IAC)
          state_ = State::sub_iac;
        else if (sub_.size() < sub_limit)
          sub_ += static_cast<char>(byte);
        return;
      case State::sub_iac:
        if (byte == IAC) {
          if (sub_.size() < sub_limit) sub_ += static_cast<char>(byte);
          state_ = State::sub;
        } else {
          state_ = State::data;  // IAC SE (or a broken frame: take what came)
          subnegotiation();
        }
        return;
    }
  }

  // Agree to BINARY, SGA and COM-PORT-OPTION on both sides, refuse anything else (ECHO, ...). A side's
  // answer goes out only when it differs from what that side last said, so the two ends cannot loop
  // on each other's answers (RFC 854's rule, RFC 1143 in short).
  void negotiate_option(unsigned char verb, unsigned char option, std::string& replies) {
    bool wanted = option == OPT_BINARY || option == OPT_SGA || option == OPT_COM_PORT;
    bool their_side = verb == WILL || verb == WONT;  // the server's own option; DO/DONT: ours
    bool positive = verb == WILL || verb == DO;
    if (option == OPT_COM_PORT) {
      if (verb == DO) com_port_ = true;
      if (verb == DONT) com_port_ = false;
      if (verb == WILL && !com_port_) com_port_ = true;  // pyserial's server offers it from its side too
    }
    auto& said = their_side ? theirs_[option] : ours_[option];
    auto answer = positive && wanted ? said_yes : said_no;
    if (said == answer) return;
    said = answer;
    unsigned char reply = their_side ? (answer == said_yes ? DO : DONT) : (answer == said_yes ? WILL : WONT);
    replies += {static_cast<char>(IAC), static_cast<char>(reply), static_cast<char>(option)};
  }

  void subnegotiation() {
    if (sub_.size() < 2 || static_cast<unsigned char>(sub_[0]) != OPT_COM_PORT) return;
    auto code = static_cast<unsigned char>(sub_[1]);
    if (code <= server_offset || code >= server_offset + command_count) return;
    auto cpc = static_cast<Cpc>(code - server_offset);
    std::string value = sub_.substr(2);
    auto& answer = answers_[static_cast<std::size_t>(cpc)];
    answer.value = value;
    ++answer.count;
    switch (cpc) {
      case Cpc::notify_linestate:
        if (!value.empty()) {
          auto errors = line_errors(static_cast<unsigned char>(value[0]) & LINESTATE_ERRORS);
          if (!errors.empty()) pending_warnings_.push_back(fmt::format("the remote port reports {}", errors));
        }
        break;
      case Cpc::notify_modemstate:
        if (!value.empty()) modem_state_ = static_cast<unsigned char>(value[0]);
        break;
      case Cpc::flowcontrol_suspend:
        suspended_ = true;
        break;
      case Cpc::flowcontrol_resume:
        suspended_ = false;
        break;
      default:
        break;
    }
  }

  void warn(const std::string& text) const {
    if (options_.warning) options_.warning(fmt::format("{}: {}", name_, text));
  }

  enum class State { data, iac, option, sub, sub_iac };
  struct Answer {
    std::uint64_t count = 0;
    std::string value;
  };
  static constexpr unsigned char said_yes = 1;
  static constexpr unsigned char said_no = 2;

  std::string name_;
  Rfc2217Options options_;
  int fd_ = -1;
  detail::TcpIdentity identity_;
  int wake_fd_ = -1;
  std::thread reader_;
  std::atomic<bool> shut_{false};
  std::mutex write_mutex_;  // fd_ for sending, and closing it
  // Set by the thread that calls set_dtr/set_rts/purge (one at a time, as the Port interface says).
  bool controls_unanswered_ = false;
  bool purge_unanswered_ = false;

  mutable std::mutex mutex_;  // everything below
  std::condition_variable changed_;
  std::string inbox_;  // board data from inbox_read_ on is unread
  std::size_t inbox_read_ = 0;
  std::string vanished_;
  bool interrupted_ = false;
  bool closed_ = false;
  bool suspended_ = false;
  std::optional<bool> com_port_;
  std::array<Answer, command_count> answers_{};
  // What we last said (0: nothing yet) about the server's options (DO/DONT) and our own (WILL/WONT).
  std::array<unsigned char, 256> theirs_{};
  std::array<unsigned char, 256> ours_{};
  std::optional<unsigned char> modem_state_;
  std::uint32_t baud_ = 0;
  State state_ = State::data;
  unsigned char verb_ = 0;
  std::string sub_;
  std::vector<std::string> pending_warnings_;
};

}  // namespace

std::unique_ptr<Port> connect_rfc2217(const std::string& host, std::uint16_t port,
                                      const Rfc2217Options& options) {
  return std::make_unique<Rfc2217Port>(host, port, options);
}

}  // namespace provhil::serial
