// The RFC 2217 client (rfc2217://): against a scripted server that checks every byte of the telnet
// negotiation and of IAC escaping, then against two servers we did not write: Debian's ser2net in
// telnet(rfc2217) mode in front of a pty (run with docs/remote-boards.md's configuration), and
// pyserial's PortManager over a loop:// port.
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/process.hpp"
#include "read_helpers.hpp"
#include "serial/port.hpp"
#include "serial/reset.hpp"
#include "support/loopback.hpp"
#include "support/ser2net.hpp"
#include "support/temp_dir.hpp"

namespace provhil::serial {
namespace {

using namespace std::chrono_literals;

constexpr char IAC = '\xFF';

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values)
    out += static_cast<char>(v);
  return out;
}

// IAC WILL BINARY, IAC DO BINARY, IAC WILL SGA, IAC DO SGA, IAC WILL COM-PORT-OPTION.
const std::string client_hello =
    bytes({0xFF, 0xFB, 0x00, 0xFF, 0xFD, 0x00, 0xFF, 0xFB, 0x03, 0xFF, 0xFD, 0x03, 0xFF, 0xFB, 0x2C});
// The server agrees to each, as ser2net does, and offers ECHO, which the client must refuse.
const std::string server_agrees = bytes({0xFF, 0xFD, 0x00, 0xFF, 0xFB, 0x00, 0xFF, 0xFD, 0x03, 0xFF, 0xFB,
                                         0x03, 0xFF, 0xFD, 0x2C, 0xFF, 0xFB, 0x01});

// IAC SB COM-PORT-OPTION code value IAC SE, the value's 0xFF doubled.
std::string sb(int code, const std::string& value) {
  std::string frame = bytes({0xFF, 0xFA, 0x2C, code});
  for (char c : value) {
    frame += c;
    if (c == IAC) frame += c;
  }
  return frame + bytes({0xFF, 0xF0});
}

struct Frame {
  int code = 0;
  std::string value;
};

// The far end, played by hand: one connection on loopback, a script run on its own thread.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(ScriptedServer&)> script) {
    thread_ = std::thread([this, script = std::move(script)] {
      pollfd pfd{listener_.fd, POLLIN, 0};
      if (::poll(&pfd, 1, 20000) != 1) return;
      fd_ = ::accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd_ >= 0) script(*this);
    });
  }
  ~ScriptedServer() {
    finish();
    if (fd_ >= 0) ::close(fd_);
  }
  void finish() {
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "rfc2217://127.0.0.1:" + std::to_string(listener_.port); }

  void send(const std::string& data) { ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  void close_connection() {
    ::close(fd_);
    fd_ = -1;
  }
  // Exactly `count` raw bytes (fewer at EOF or after 20 s).
  std::string receive(std::size_t count) {
    std::string text;
    while (text.size() < count && (!pending_.empty() || fill())) {
      auto n = std::min(count - text.size(), pending_.size());
      text += pending_.substr(0, n);
      pending_.erase(0, n);
    }
    return text;
  }
  // The next COM-PORT-OPTION subnegotiation, its value unescaped; raw bytes before it go to `before`.
  std::optional<Frame> next_frame(std::string* before = nullptr) {
    auto start = pending_.find("\xFF\xFA\x2C");
    while (start == std::string::npos || pending_.find("\xFF\xF0", start) == std::string::npos) {
      if (!fill()) return std::nullopt;
      start = pending_.find("\xFF\xFA\x2C");
    }
    if (before != nullptr) *before += pending_.substr(0, start);
    auto end = pending_.find("\xFF\xF0", start);
    Frame frame{static_cast<unsigned char>(pending_[start + 3]),
                unescape(pending_.substr(start + 4, end - start - 4))};
    pending_.erase(0, end + 2);
    return frame;
  }
  // Data bytes (IAC IAC read as one 0xFF) until `count` have arrived.
  std::string data(std::size_t count) {
    while (unescape(pending_).size() < count && fill()) {
    }
    auto text = unescape(pending_);
    pending_.clear();
    return text;
  }
  static std::string unescape(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      out += text[i];
      if (text[i] == IAC && i + 1 < text.size() && text[i + 1] == IAC) ++i;
    }
    return out;
  }

 private:
  bool fill() {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 20000) != 1) return false;
    char buffer[4096];
    auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  provhil::test::LoopbackListener listener_{1};
  int fd_ = -1;
  std::string pending_;
  std::thread thread_;
};

struct Warnings {
  std::mutex mutex;
  std::vector<std::string> said;
  WarningSink sink() {
    return [this](const std::string& text) {
      std::lock_guard lock(mutex);
      said.push_back(text);
    };
  }
  std::string all() {
    std::lock_guard lock(mutex);
    std::string text;
    for (const auto& w : said)
      text += w + "\n";
    return text;
  }
};

std::unique_ptr<Port> open_rfc2217(const std::string& url, Warnings& warnings, int baud = 115200,
                                   std::chrono::milliseconds connect_timeout = 10s) {
  OpenOptions options;
  options.serial.baud = baud;
  options.connect_timeout = connect_timeout;
  options.warning = warnings.sink();
  return open_port(parse_port_spec(url), options);
}

// Checks the client's greeting, agrees (offering ECHO too), then answers each of the six settings
// frames (code + 100, same value) unless it is SET-CONTROL and `answer_control` is false. Returns
// the frames; `other` gets the raw bytes the client sent between them (its option answers).
std::vector<Frame> serve_open(ScriptedServer& server, bool answer_control, std::string* other = nullptr) {
  EXPECT_EQ(server.receive(client_hello.size()), client_hello);
  server.send(server_agrees);
  std::vector<Frame> frames;
  for (int i = 0; i < 6; ++i) {
    auto frame = server.next_frame(other);
    if (!frame) break;
    frames.push_back(*frame);
    if (frame->code != 5 || answer_control) server.send(sb(frame->code + 100, frame->value));
  }
  return frames;
}

TEST(Rfc2217Port, NegotiatesSetsTheLineAndCarriesDataWithIacEscapedBothWays) {
  std::vector<Frame> frames;
  std::string option_answers;
  std::string written;
  std::optional<Frame> dtr;
  ScriptedServer server([&](ScriptedServer& s) {
    frames = serve_open(s, true, &option_answers);
    // Board data holding a 0xFF, a NOP and a modem-state notification in the middle.
    s.send("boot" + bytes({0xFF, 0xFF, 0xFF, 0xF1}) + sb(107, bytes({0x30})) + "ok\r\n");
    dtr = s.next_frame(&option_answers);
    if (dtr) s.send(sb(dtr->code + 100, dtr->value));
    s.close_connection();
  });
  Warnings warnings;
  // 130816 baud is 00 01 FF 00: the 0xFF inside the subnegotiation is doubled too.
  auto port = open_rfc2217(server.url(), warnings, 130816);
  EXPECT_EQ(port->kind(), PortKind::rfc2217);
  EXPECT_TRUE(port->capabilities().modem_lines);
  EXPECT_EQ(test::read_until(*port, "ok\r\n"), "boot\xFFok\r\n");
  port->write(
      "a\xFF"
      "b");
  port->set_dtr(true);
  ReadResult last;
  test::read_until(*port, "never", 10s, &last);
  server.finish();
  EXPECT_EQ(last.status, ReadStatus::vanished);
  EXPECT_NE(last.reason.find("closed by peer"), std::string::npos) << last.reason;
  EXPECT_THROW(port->write("x"), PortError);

  // ECHO refused, and no answer to what the client had asked for itself (no negotiation loop); the
  // refusal comes from the reader thread, so it may be anywhere before the data.
  auto refusal = bytes({0xFF, 0xFE, 0x01});
  auto at = option_answers.find(refusal);
  ASSERT_NE(at, std::string::npos) << option_answers;
  option_answers.erase(at, refusal.size());
  written = ScriptedServer::unescape(option_answers);
  ASSERT_EQ(frames.size(), 6U);
  EXPECT_EQ(frames[0].code, 5);  // SET-CONTROL: no flow control
  EXPECT_EQ(frames[0].value, bytes({1}));
  EXPECT_EQ(frames[1].code, 1);  // SET-BAUDRATE, network order
  EXPECT_EQ(frames[1].value, bytes({0x00, 0x01, 0xFF, 0x00}));
  EXPECT_EQ(frames[2].code, 2);  // SET-DATASIZE 8
  EXPECT_EQ(frames[2].value, bytes({8}));
  EXPECT_EQ(frames[3].code, 3);  // SET-PARITY none
  EXPECT_EQ(frames[3].value, bytes({1}));
  EXPECT_EQ(frames[4].code, 4);  // SET-STOPSIZE 1
  EXPECT_EQ(frames[4].value, bytes({1}));
  EXPECT_EQ(frames[5].code, 10);  // SET-LINESTATE-MASK: overrun, parity, framing, break
  EXPECT_EQ(frames[5].value, bytes({0x1E}));
  EXPECT_EQ(written,
            "a\xFF"
            "b");
  ASSERT_TRUE(dtr);
  EXPECT_EQ(dtr->code, 5);
  EXPECT_EQ(dtr->value, bytes({8}));  // DTR on
  EXPECT_EQ(warnings.all(), "");
}

TEST(Rfc2217Port, FlowControlFromTheInventoryIsSent) {
  std::vector<Frame> frames;
  ScriptedServer server([&](ScriptedServer& s) {
    frames = serve_open(s, true);
    s.receive(1);  // until the client closes
  });
  Warnings warnings;
  OpenOptions options;
  options.serial.flow = FlowControl::rts_cts;
  options.warning = warnings.sink();
  auto port = open_port(parse_port_spec(server.url()), options);
  port->close();
  server.finish();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].code, 5);
  EXPECT_EQ(frames[0].value, bytes({3}));  // hardware flow control
}

TEST(Rfc2217Port, ModemAndLineStateNotificationsAreKept) {
  ScriptedServer server([&](ScriptedServer& s) {
    serve_open(s, true);
    s.send(sb(107, bytes({0x30})) + sb(106, bytes({0x08})) + "x\n");
    s.receive(1);
  });
  Warnings warnings;
  auto port = open_rfc2217(server.url(), warnings);
  EXPECT_EQ(test::read_until(*port, "x\n"), "x\n");
  EXPECT_NE(port->describe().find("CTS on, DSR on, CD off"), std::string::npos) << port->describe();
  // The reader thread says it after it has handed on the data: wait for it.
  auto deadline = Clock::now() + 10s;
  while (warnings.all().find("framing error") == std::string::npos && Clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_NE(warnings.all().find("the remote port reports framing error"), std::string::npos)
      << warnings.all();
  port->close();
}

TEST(Rfc2217Port, AServerThatNeverAnswersSetControlIsToleratedWithAWarning) {
  std::optional<Frame> purge;
  std::optional<Frame> dtr;
  std::optional<Frame> rts_on;
  std::optional<Frame> rts_off;
  ScriptedServer server([&](ScriptedServer& s) {
    serve_open(s, false);
    purge = s.next_frame();
    if (purge) s.send(sb(purge->code + 100, purge->value));
    dtr = s.next_frame();
    rts_on = s.next_frame();
    rts_off = s.next_frame();
    s.receive(1);
  });
  Warnings warnings;
  auto port = open_rfc2217(server.url(), warnings);
  EXPECT_NE(warnings.all().find("did not answer SET-CONTROL (no flow control)"), std::string::npos)
      << warnings.all();
  auto started = Clock::now();
  // No waiting for answers that never come: the reset takes its pulse and little more.
  perform_reset(parse_reset_strategy("esp32-dtr-rts", {{"pulse_ms", "50"}}), *port, "b");
  EXPECT_LT(Clock::now() - started, 1s);
  port->close();
  server.finish();
  ASSERT_TRUE(purge && dtr && rts_on && rts_off);
  EXPECT_EQ(purge->code, 12);
  EXPECT_EQ(purge->value, bytes({3}));  // both buffers
  EXPECT_EQ(dtr->value, bytes({9}));    // DTR off: IO0 high
  EXPECT_EQ(rts_on->value, bytes({11}));
  EXPECT_EQ(rts_off->value, bytes({12}));
}

TEST(Rfc2217Port, AServerRefusingTheComPortOptionIsAClearError) {
  ScriptedServer server([&](ScriptedServer& s) {
    s.receive(client_hello.size());
    s.send(bytes({0xFF, 0xFE, 0x2C}));  // DONT COM-PORT-OPTION
    s.receive(1);
  });
  Warnings warnings;
  try {
    open_rfc2217(server.url(), warnings);
    FAIL() << "opened";
  } catch (const PortBusy& busy) {
    FAIL() << "busy: " << busy.what();
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("refuses RFC 2217"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(server.url()), std::string::npos) << error.what();
  }
}

TEST(Rfc2217Port, ASilentServerFailsAtTheConnectDeadline) {
  ScriptedServer server([&](ScriptedServer& s) { s.receive(1000); });
  Warnings warnings;
  auto started = Clock::now();
  try {
    open_rfc2217(server.url(), warnings, 115200, 300ms);
    FAIL() << "opened";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("did not agree to RFC 2217 (COM-PORT-OPTION) within 300 ms"),
              std::string::npos)
        << error.what();
  }
  EXPECT_GE(Clock::now() - started, 300ms);
  EXPECT_LT(Clock::now() - started, 10s);
}

TEST(Rfc2217Port, ServerTurningTheClientAwayAsInUseIsBusyOtherTextsAreErrors) {
  for (const std::string said :
       {"Port already in use\r\n", "Device open failure: Value or file not found\r\n"}) {
    ScriptedServer server([&](ScriptedServer& s) {
      s.receive(client_hello.size());
      s.send(server_agrees + said);  // what ser2net does for a second client, or a missing device
      s.close_connection();
    });
    Warnings warnings;
    bool in_use = said.starts_with("Port already");
    try {
      open_rfc2217(server.url(), warnings);
      ADD_FAILURE() << "opened";
    } catch (const PortBusy& busy) {
      EXPECT_TRUE(in_use) << busy.what();
      EXPECT_EQ(busy.holders_text(), "another client (the server says \"Port already in use\")");
    } catch (const PortError& error) {
      EXPECT_FALSE(in_use) << error.what();
      EXPECT_NE(std::string(error.what()).find("Device open failure"), std::string::npos) << error.what();
    }
  }
}

TEST(Rfc2217Port, ADroppedConnectionIsVanishedAtOnce) {
  std::promise<Clock::time_point> closed_at;
  std::promise<void> reader_waiting;
  ScriptedServer server([&](ScriptedServer& s) {
    serve_open(s, true);
    reader_waiting.get_future().wait();
    std::this_thread::sleep_for(50ms);  // let the reader block in read()
    closed_at.set_value(Clock::now());
    s.close_connection();
  });
  Warnings warnings;
  auto port = open_rfc2217(server.url(), warnings);
  reader_waiting.set_value();
  char buffer[64];
  auto result = port->read(buffer, Clock::now() + 30s);
  auto seen = Clock::now();
  server.finish();
  ASSERT_EQ(result.status, ReadStatus::vanished) << result.reason;
  auto latency = std::chrono::duration_cast<std::chrono::microseconds>(seen - closed_at.get_future().get());
  std::cout << "[ NOTE     ] vanished " << latency.count() << " us after the server closed\n";
  // The other backends see a hang-up at once; the target is 100 ms, asserted loosely (a loaded machine),
  // but a backend that noticed only at its read deadline (30 s) or on a periodic poll would fail here.
  EXPECT_LT(latency, 1s);
  // And again on every later call, without waiting.
  auto again = Clock::now();
  EXPECT_EQ(port->read(buffer, Clock::now() + 10s).status, ReadStatus::vanished);
  EXPECT_LT(Clock::now() - again, 1s);
}

TEST(Rfc2217Port, ResetStrategiesWithModemLinesAcceptIt) {
  EXPECT_EQ(reset_unsupported_reason(parse_reset_strategy("esp32-dtr-rts"), PortKind::rfc2217), "");
  EXPECT_EQ(reset_unsupported_reason(parse_reset_strategy("dtr-pulse"), PortKind::rfc2217), "");
}

// --- interop ----------------------------------------------------------------------------------------------

TEST(Rfc2217Interop, Ser2netWithTheDocumentedConfigurationInFrontOfAPty) {
  ASSERT_FALSE(provhil::test::find_ser2net().empty())
      << "ser2net is not installed: apt-get install ser2net (scripts/setup.sh does)";
  int master = -1;
  int slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  termios raw{};
  ::tcgetattr(slave, &raw);
  ::cfmakeraw(&raw);
  ::cfsetspeed(&raw, B115200);
  ::tcsetattr(slave, TCSANOW, &raw);
  std::string slave_path = ::ttyname(slave);

  provhil::test::TempDir dir;
  auto port_number = provhil::test::free_loopback_port();
  provhil::test::Ser2net daemon(dir.path(), provhil::test::ser2net_config(slave_path, port_number));
  ASSERT_TRUE(provhil::test::wait_until_listening(port_number, 20s));
  auto url = "rfc2217://127.0.0.1:" + std::to_string(port_number);

  Warnings warnings;
  auto port = open_rfc2217(url, warnings, 9600);
  // The settings reach the device: ser2net sets the pty's line to what was asked.
  termios line{};
  ::tcgetattr(slave, &line);
  EXPECT_EQ(::cfgetospeed(&line), static_cast<speed_t>(B9600));
  EXPECT_EQ(line.c_cflag & CSIZE, static_cast<tcflag_t>(CS8));
  EXPECT_EQ(line.c_cflag & (PARENB | CSTOPB), 0U);
  EXPECT_NE(port->describe().find("at 9600 baud"), std::string::npos) << port->describe();

  // Data both ways, a 0xFF among it.
  std::string boot = "[120] Blynk.Edgent \xFF v0.9.1\r\n";
  ASSERT_EQ(::write(master, boot.data(), boot.size()), static_cast<ssize_t>(boot.size()));
  EXPECT_EQ(test::read_until(*port, "\r\n"), boot);
  port->write("config \xFF erase\r\n");
  EXPECT_EQ(provhil::test::read_master(master, "erase\r\n", 10s), "config \xFF erase\r\n");

  // A pty has no modem lines: ser2net does not answer SET-CONTROL, and an ESP32 reset still runs.
  EXPECT_NO_THROW(perform_reset(parse_reset_strategy("esp32-dtr-rts", {{"pulse_ms", "20"}}), *port, "b"));
  EXPECT_NE(warnings.all().find("did not answer SET-CONTROL (DTR off)"), std::string::npos) << warnings.all();
  std::cout << "[ NOTE     ] warnings: " << warnings.all();

  // A second client is turned away by ser2net (max-connections: 1): busy, naming this process, which
  // holds the first connection.
  try {
    Warnings second_warnings;
    open_rfc2217(url, second_warnings);
    ADD_FAILURE() << "a second client was let in";
  } catch (const PortBusy& busy) {
    EXPECT_NE(busy.holders_text().find(fmt::format("pid {} (", ::getpid())), std::string::npos)
        << busy.what();
  }
  // The first connection still works.
  std::string more = "[130] still here\r\n";
  ASSERT_EQ(::write(master, more.data(), more.size()), static_cast<ssize_t>(more.size()));
  EXPECT_EQ(test::read_until(*port, "here\r\n"), more);

  // ser2net goes away: the port says so.
  daemon.stop();
  ReadResult last;
  test::read_until(*port, "never", 10s, &last);
  EXPECT_EQ(last.status, ReadStatus::vanished) << last.reason;
  ::close(master);
  ::close(slave);
}

// Lines "what... time" from pyserial's server, as they come.
class ServerLog {
 public:
  explicit ServerLog(Child& child) : child_(child) {}
  // The next line starting with `prefix` (every line read is kept in `seen`), its text without the time
  // and the time.
  std::optional<std::pair<std::string, double>> next(const std::string& prefix) {
    auto deadline = Clock::now() + 20s;
    for (;;) {
      auto end = buffer_.find('\n');
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        seen += line + "\n";
        if (line.starts_with(prefix)) {
          auto space = line.rfind(' ');
          return std::pair{line.substr(0, space), std::stod(line.substr(space + 1))};
        }
        continue;
      }
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd pfd{child_.output_fd(), POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left)) != 1) return std::nullopt;
      char chunk[512];
      auto n = ::read(child_.output_fd(), chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  std::string seen;

 private:
  Child& child_;
  std::string buffer_;
};

TEST(Rfc2217Interop, PyserialPortManagerSeesTheEsp32ResetWithItsTiming) {
  auto port_number = provhil::test::free_loopback_port();
  ProcessOptions options;
  options.argv = {"/usr/bin/python3",
                  std::string(PROVHIL_SOURCE_DIR) + "/tests/serial/rfc2217_loop_server.py",
                  std::to_string(port_number)};
  Child server(options);
  ServerLog log(server);
  ASSERT_TRUE(log.next("ready")) << log.seen
                                 << "\n(needs Debian's python3-serial: scripts/setup.sh installs it)";

  Warnings warnings;
  auto port = open_rfc2217("rfc2217://127.0.0.1:" + std::to_string(port_number), warnings, 115200);
  ASSERT_TRUE(log.next("baud 115200")) << log.seen;

  // loop:// sends our bytes back: a 0xFF survives both directions.
  port->write("ping \xFF pong\n");
  EXPECT_EQ(test::read_until(*port, "pong\n"), "ping \xFF pong\n");

  perform_reset(parse_reset_strategy("esp32-dtr-rts", {{"pulse_ms", "100"}}), *port, "b");
  ASSERT_TRUE(log.next("purge")) << log.seen;
  auto dtr_off = log.next("dtr");
  auto rts_on = log.next("rts");
  auto rts_off = log.next("rts");
  ASSERT_TRUE(dtr_off && rts_on && rts_off) << log.seen;
  EXPECT_EQ(dtr_off->first, "dtr 0");  // IO0 high
  EXPECT_EQ(rts_on->first, "rts 1");   // EN low: in reset
  EXPECT_EQ(rts_off->first, "rts 0");  // EN high: runs
  auto held = rts_off->second - rts_on->second;
  EXPECT_GE(held, 0.095) << log.seen;  // the pulse as on a local port
  EXPECT_LT(held, 2.0) << log.seen;
  std::cout << "[ NOTE     ] EN held low for " << held * 1000 << " ms (pulse_ms 100)\n";

  // Download mode: IO0 (DTR) low while EN rises, then released.
  perform_reset(parse_reset_strategy("esp32-dtr-rts", {{"pulse_ms", "20"}, {"bootloader", "true"}}), *port,
                "b");
  for (const char* expected : {"dtr 0", "rts 1", "dtr 1", "rts 0", "dtr 0"}) {
    auto line = log.next(std::string(expected).substr(0, 3));
    ASSERT_TRUE(line) << log.seen;
    EXPECT_EQ(line->first, expected) << log.seen;
  }
  EXPECT_EQ(warnings.all(), "");
  port->close();
  // The lines' state as the server's port has it at the end.
  auto closed = log.next("closed");
  ASSERT_TRUE(closed) << log.seen;
  EXPECT_EQ(closed->first, "closed dtr 0 rts 0");
}

}  // namespace
}  // namespace provhil::serial
