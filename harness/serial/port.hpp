#pragma once
// The harness's byte pipe to a board: one interface, five backends (libserialport for real boards, a
// pseudo-terminal running a command, raw TCP as served by ser2net, RFC 2217 for a serial port on another
// host, replay of a captured log), the port
// strings used in inventories, and enumeration for `provhil ports`. Blocking calls with steady_clock
// deadlines: one thread per board. No Asio in this header.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace provhil::serial {

using Clock = std::chrono::steady_clock;

// A port failed (could not be opened, is busy, vanished on write, cannot do what was asked).
// what() names the port and says why.
class PortError : public std::runtime_error {
 public:
  PortError(std::string port, const std::string& message);
  const std::string& port() const { return port_; }
  const std::string& reason() const { return reason_; }  // the message without the port

 private:
  std::string port_;
  std::string reason_;
};

// A process that has a port open, as /proc tells it.
struct PortHolder {
  long pid = 0;
  std::string command;            // its comm, e.g. "screen", "provhil"
  std::string to_string() const;  // "pid 4242 (screen)"
};

// The port is held by someone else: the caller may wait and try again. A local port: another open file
// holds its exclusive lock. A remote port (rfc2217://): its server refused a second client.
// holders() lists who has it open (empty when /proc cannot tell); never the descriptor this process
// was trying to lock, so a run waiting for a board does not name itself.
class PortBusy : public PortError {
 public:
  // `unknown_holder` stands for the holders when none is known, e.g. "another process (flock)".
  PortBusy(std::string port, std::vector<PortHolder> holders,
           std::string unknown_holder = "another process (flock)");
  const std::vector<PortHolder>& holders() const { return holders_; }
  // "pid 4242 (screen), pid 4250 (minicom)", or `unknown_holder` when nobody is known.
  std::string holders_text() const;

 private:
  std::vector<PortHolder> holders_;
  std::string unknown_holder_;
};

enum class ReadStatus {
  data,      // `size` bytes were stored at the start of the buffer
  timeout,   // the deadline passed, or interrupt() was called
  vanished,  // hang-up, EIO, EOF, the child exited: `reason` says which
  ended,     // a recording (replay) has no more lines: not a fault of the port; `reason` names the log
};

struct ReadResult {
  ReadStatus status = ReadStatus::timeout;
  std::size_t size = 0;
  std::string reason;
};

struct PortCapabilities {
  bool modem_lines = false;  // set_dtr / set_rts work (real UARTs, RFC 2217)
  bool signal = false;       // send_signal works (a spawned child on a pty)
  bool write = true;         // write works (false for replay, where writes are discarded)
  bool rewind = false;       // rewind() starts the output over (a replay: its log from the first line)
};

enum class PortKind {
  device,   // a device path or /dev/serial/by-id link, opened with libserialport
  usb,      // usb:VID:PID[:SERIAL], resolved by enumeration, opened with libserialport
  tcp,      // tcp://host:port, raw bytes (ser2net "raw"/"telnet" without options)
  rfc2217,  // rfc2217://host:port: a remote serial port with its settings and modem lines (RFC 2217)
  pty,      // pty:COMMAND ARGS...: a command spawned on a pseudo-terminal (the simulator, tests)
  replay,   // replay:PATH[?pacing=original]: a captured log played back
};
std::string_view to_string(PortKind kind);

enum class ReplayPacing { fast, original };

// What a serial monitor or a forum post added to a log and a real port does not carry; a replay strips it
// from every line when asked (`replay:board.log?strip=arduino-ide,ansi`).
enum class ReplayStrip {
  arduino_ide,  // "HH:MM:SS.mmm -> " (Arduino IDE 2 serial monitor, timestamps on)
  platformio,   // "HH:MM:SS.mmm > " (pio device monitor --filter time)
  idf_monitor,  // "YYYY-MM-DD HH:MM:SS[.mmm] " (idf.py monitor --timestamps)
  ansi,         // ANSI colour/cursor sequences (ESC [ ... letter), as idf.py monitor and ESP-IDF logs carry
  comments,     // whole lines starting with '#' (notes at the head of a posted or shared log)
};
// "arduino-ide", "platformio", "idf-monitor", "ansi", "comments"; throws std::invalid_argument listing them.
ReplayStrip parse_replay_strip(std::string_view name);
std::string_view to_string(ReplayStrip strip);

struct UsbSelector {
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::string serial;  // empty: any serial number (must then be unambiguous)
  std::string to_string() const;
};

// A parsed inventory port string. Only the fields of its kind are set.
struct PortSpec {
  PortKind kind = PortKind::device;
  std::string text;                          // as written
  std::filesystem::path path;                // device, replay
  UsbSelector usb;                           // usb
  std::string host;                          // tcp, rfc2217
  std::uint16_t tcp_port = 0;                // tcp, rfc2217
  std::vector<std::string> argv;             // pty (split on spaces; quote with '...' or "...")
  ReplayPacing pacing = ReplayPacing::fast;  // replay
  std::vector<ReplayStrip> strip;            // replay
};

// Parses "usb:10c4:ea60[:SERIAL]", "/dev/ttyUSB0", "/dev/serial/by-id/...", "tcp://host:port",
// "rfc2217://host:port", "pty:cmd args", "replay:path[?pacing=original|fast][&strip=NAME,...]".
// Throws std::invalid_argument saying what is wrong and what forms are accepted.
PortSpec parse_port_spec(std::string_view text);

class Port {
 public:
  virtual ~Port() = default;
  Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  // Waits until bytes arrive, the deadline passes, interrupt() is called or the port vanishes.
  // A vanish is reported at once (no waiting for the deadline) and again on every later call.
  virtual ReadResult read(std::span<char> buffer, Clock::time_point deadline) = 0;
  // Writes all bytes (blocking). Throws PortError naming the port when it vanished or is closed.
  virtual void write(std::string_view bytes) = 0;
  // Wakes a read() blocked in another thread; it returns ReadStatus::timeout. Thread-safe.
  virtual void interrupt() = 0;
  // Releases the port (and reaps a spawned child). Idempotent; the destructor calls it.
  virtual void close() = 0;
  // Starts the output over from its beginning (a replay: the log's first line, pacing restarted), when
  // capabilities().rewind; false otherwise. Not while another thread is in read().
  virtual bool rewind() { return false; }

  // e.g. "/dev/ttyUSB0 (usb 10c4:ea60 serial 0001)", "pty /dev/pts/3 (pid 4242: provhil sim)".
  virtual std::string describe() const = 0;
  virtual PortKind kind() const = 0;
  virtual PortCapabilities capabilities() const = 0;

  // Modem lines; throw PortError when capabilities().modem_lines is false.
  virtual void set_dtr(bool on);
  virtual void set_rts(bool on);
  // Drops what waits in buffers between here and the board (called before a reset, so that nothing
  // from before it arrives after it). RFC 2217: PURGE-DATA, the server's buffers. Others: nothing.
  virtual void purge() {}
  // To the spawned child (pty only); throws PortError otherwise.
  virtual void send_signal(int signal_number);
  virtual std::optional<int> child_pid() const { return std::nullopt; }
};

// --- backends ----------------------------------------------------------------------------------------

enum class FlowControl { none, rts_cts, xon_xoff };
// "none", "rtscts" / "rts-cts" / "hardware", "xonxoff" / "xon-xoff" / "software"; throws
// std::invalid_argument.
FlowControl parse_flow_control(std::string_view text);

struct SerialSettings {
  int baud = 115200;  // always 8N1
  FlowControl flow = FlowControl::none;
  // Native-USB boards re-enumerate on reset: after a vanish, re-open the same USB serial number
  // when it comes back within this time. Zero: report the vanish at once.
  std::chrono::milliseconds reopen_grace{0};
};

// A real serial port through libserialport: a device path, a /dev/serial/by-id link, or
// "usb:VID:PID[:SERIAL]". Exclusive (flock + TIOCEXCL; a busy port names its holder where it can), HUPCL
// cleared so closing does not reset the board. Throws PortError.
std::unique_ptr<Port> open_serial(std::string_view device_or_selector, const SerialSettings& settings = {});

struct SpawnOptions {
  std::vector<std::string> argv;           // argv[0] is searched in PATH
  std::map<std::string, std::string> env;  // added to (or overriding) the inherited environment
  // When set, only these variables are inherited (plus `env`): a child that needs no secrets gets none.
  std::optional<std::vector<std::string>> inherit_only;
  std::filesystem::path working_dir;  // empty: the current directory
  // close(): SIGTERM to the child's process group, then SIGKILL after this grace period.
  std::chrono::milliseconds terminate_grace{2000};
};
// Spawns argv on a new pseudo-terminal in raw mode (no echo, no newline translation) as the leader of
// a new session. Throws PortError when the command cannot be started (including "not found").
std::unique_ptr<Port> spawn_pty(const SpawnOptions& options);

// A raw TCP byte stream (ser2net). Connect deadline: `connect_timeout`. Throws PortError.
std::unique_ptr<Port> connect_tcp(const std::string& host, std::uint16_t port,
                                  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));

// Where a port reports something worth a look that is not an error.
using WarningSink = std::function<void(const std::string&)>;

struct Rfc2217Options {
  SerialSettings settings;                                             // baud, 8N1, flow control
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};  // connect and negotiation
  std::chrono::milliseconds reply_timeout{std::chrono::seconds(1)};    // an answer to SET-CONTROL, PURGE-DATA
  std::chrono::milliseconds write_timeout{std::chrono::seconds(10)};
  WarningSink warning;  // empty: none
};
// A serial port on another host through an RFC 2217 server (ser2net `telnet(rfc2217)`, pyserial's
// PortManager, labgrid's exporters): telnet BINARY, SGA and COM-PORT-OPTION; baud, data size, parity,
// stop bits and flow control set at open; DTR/RTS by SET-CONTROL (waiting for the server's answer, or,
// once the server has shown it does not answer them, without: a warning, not an error); IAC escaped
// both ways; line errors and modem state from the server's notifications. A server that refuses a
// second client (ser2net: "Port already in use") throws PortBusy naming the local process that holds
// the connection when there is one. Throws PortError.
std::unique_ptr<Port> connect_rfc2217(const std::string& host, std::uint16_t port,
                                      const Rfc2217Options& options);

// Plays a captured log: a text log of ours ("[    12.345] line"), a board log with Edgent "[millis]"
// stamps, or raw bytes (our serial.raw); `strip` removes monitor prefixes first. `original` pacing sleeps
// between lines per their stamps; writes are discarded. Each read returns at most one line. The end of
// the file reads as ReadStatus::ended ("end of replay (PATH)"); rewind() plays it again from the start.
// Throws PortError when the file cannot be read.
std::unique_ptr<Port> open_replay(const std::filesystem::path& path, ReplayPacing pacing = ReplayPacing::fast,
                                  std::vector<ReplayStrip> strip = {});

struct OpenOptions {
  SerialSettings serial;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  WarningSink warning;  // rfc2217: empty sends warnings to stderr
  // For pty specs: environment, working directory, grace (argv comes from the spec).
  SpawnOptions spawn;
};
// Opens whatever `spec` names. Throws PortError.
std::unique_ptr<Port> open_port(const PortSpec& spec, const OpenOptions& options = {});

// --- enumeration (opens nothing) ---------------------------------------------------------------------

struct PortInfo {
  std::string path;       // /dev/ttyUSB0
  std::string by_id;      // /dev/serial/by-id/usb-Silicon_Labs_CP2102_..., empty when none links here
  std::string transport;  // "usb", "native", "bluetooth"
  std::optional<std::uint16_t> vid;
  std::optional<std::uint16_t> pid;
  std::string serial_number;
  std::string manufacturer;
  std::string product;
  std::string description;
  int usb_bus = -1;
  int usb_address = -1;
};

// Every serial port libserialport sees, with its /dev/serial/by-id link. Throws PortError on failure.
std::vector<PortInfo> list_ports(const std::filesystem::path& by_id_dir = "/dev/serial/by-id");

// Picks the one port the selector names. Throws PortError when none or several match; the message
// lists what is attached.
PortInfo select_usb_port(const UsbSelector& selector, const std::vector<PortInfo>& ports);

// Follows symlinks (a /dev/serial/by-id link) to the device; throws PortError when it does not exist.
std::filesystem::path resolve_device_path(const std::filesystem::path& path);

// Device path -> by-id link, for every link in `by_id_dir` (empty when the folder does not exist).
std::map<std::string, std::string> by_id_links(const std::filesystem::path& by_id_dir = "/dev/serial/by-id");

}  // namespace provhil::serial
