// The simulated Edgent firmware: boot log, state machine, serial console, setup AP handlers, the
// provision call and the Blynk binary login, as docs/sim.md ("Behaviour") describes; single-threaded on
// one io_context per boot, so a reset simply drops everything the boot had in flight.
#include "sim/detail/firmware.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <memory>
#include <random>
#include <set>

#include "common/exit_codes.hpp"
#include "common/secrets.hpp"
#include "common/text.hpp"
#include "sim/detail/net.hpp"

namespace provhil::sim {

bool SerialOut::write(std::string_view bytes) {
  if (gone_) return false;
  // A real UART drops what nobody reads; give a slow reader 2 s before dropping the rest.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (std::chrono::steady_clock::now() >= give_up) return true;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    gone_ = true;  // EIO (pty master closed), EPIPE, ...
    return false;
  }
  return true;
}

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

enum class State {
  INIT,
  WAIT_CONFIG,
  CONFIGURING,
  CONNECTING_NET,
  CONNECTING_CLOUD,
  RUNNING,
  OTA_UPGRADE,
  SWITCH_TO_STA,
  RESET_CONFIG,
  ERROR
};

const char* state_name(State s) {
  switch (s) {
    case State::INIT:
      return "INIT";
    case State::WAIT_CONFIG:
      return "WAIT_CONFIG";
    case State::CONFIGURING:
      return "CONFIGURING";
    case State::CONNECTING_NET:
      return "CONNECTING_NET";
    case State::CONNECTING_CLOUD:
      return "CONNECTING_CLOUD";
    case State::RUNNING:
      return "RUNNING";
    case State::OTA_UPGRADE:
      return "OTA_UPGRADE";
    case State::SWITCH_TO_STA:
      return "SWITCH_TO_STA";
    case State::RESET_CONFIG:
      return "RESET_CONFIG";
    case State::ERROR:
      return "ERROR";
  }
  return "?";
}

// Blynk binary protocol: 5-byte header (command, message id, length), then the body.
constexpr std::uint8_t kResponse = 0;
constexpr std::uint8_t kPing = 6;
constexpr std::uint8_t kInternal = 17;
constexpr std::uint8_t kHardware = 20;
constexpr std::uint8_t kLogin = 29;
constexpr std::uint8_t kRedirect = 41;
constexpr int kStatusOk = 200;
constexpr int kStatusInvalidToken = 9;

std::string frame(std::uint8_t type, std::uint16_t id, std::string_view body) {
  std::string out;
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(id >> 8));
  out.push_back(static_cast<char>(id & 0xff));
  out.push_back(static_cast<char>((body.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(body.size() & 0xff));
  out += body;
  return out;
}

std::uint16_t be16(const std::string& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[at]) << 8) |
                                    static_cast<unsigned char>(bytes[at + 1]));
}

// Arduino WebServer's argument decoding: %XX and '+' as a space.
std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() + 0 &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct Query {
  std::string path;
  std::vector<std::pair<std::string, std::string>> args;
  std::string arg(std::string_view name) const {
    for (const auto& [k, v] : args)
      if (k == name) return v;
    return {};
  }
};

Query parse_target(std::string_view target) {
  Query q;
  const auto qm = target.find('?');
  q.path = url_decode(target.substr(0, qm));
  if (qm == std::string_view::npos) return q;
  auto rest = target.substr(qm + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto part = rest.substr(0, amp);
    const auto eq = part.find('=');
    if (!part.empty())
      q.args.emplace_back(url_decode(part.substr(0, eq)),
                          eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return q;
}

// CRC-32 (IEEE), for the AP name's unique suffix derived from the chip's MAC.
std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string mac_plus_one(const std::string& mac) {
  unsigned v[6] = {};
  std::sscanf(mac.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
  v[5] = (v[5] + 1) & 0xff;
  return fmt::format("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", v[0], v[1], v[2], v[3], v[4], v[5]);
}

struct Location {
  std::string host;
  std::uint16_t port = 443;
  std::string target;
};

// Parses a redirect's Location: absolute (https://host[:port]/path) or absolute-path (same host).
std::optional<Location> parse_location(std::string_view location, const Location& current) {
  Location out = current;
  if (location.starts_with("/")) {
    out.target = std::string(location);
    return out;
  }
  std::string_view rest;
  if (location.starts_with("https://")) {
    rest = location.substr(8);
    out.port = 443;
  } else if (location.starts_with("http://")) {
    rest = location.substr(7);
    out.port = 80;
  } else {
    return std::nullopt;
  }
  const auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    int port = 0;
    try {
      port = std::stoi(std::string(authority.substr(colon + 1)));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (port <= 0 || port > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(port);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return std::nullopt;
  out.host = std::string(authority);
  return out;
}

enum class Outcome { ok, failed, invalid_token, aborted };

class Board {
 public:
  Board(asio::io_context& io, const Profile& profile, const SimOptions& options, StateStore& store,
        SerialOut& out, int signal_fd, ResetReason reason)
      : io_(io),
        profile_(profile),
        options_(options),
        store_(store),
        out_(out),
        reason_(reason),
        input_(io),
        signals_(io),
        tls_(io, options.ca_file.value_or(profile.ca_file), options.resolve, options.source_address),
        time_scale_(options.time_scale.value_or(profile.time_scale)),
        rng_(std::random_device{}()) {
    // Each boot reads through its own duplicates, so dropping them at reset leaves the real fds open.
    input_.assign(::dup(options.input_fd));
    signals_.assign(::dup(signal_fd));
  }

  ~Board() { remove_endpoint_file(); }

  void start() {
    spawn(main_loop());
    spawn(read_serial());
    spawn(read_signals());
    if (profile_.faults.garbage_every.count() > 0) spawn(garbage_bursts());
    if (profile_.faults.serial_vanish_after.count() > 0) spawn(serial_vanish());
    if (profile_.faults.button_hold_after.count() > 0) spawn(button_hold());
  }

  BootResult result() const { return result_; }

 private:
  // ------------------------------------------------------------------------------------ plumbing

  void spawn(awaitable<void> task) {
    asio::co_spawn(io_, std::move(task), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        fmt::print(stderr, "provhil sim: {}\n", x.what());
      }
      finish(false, ResetReason::power_on, to_int(ExitCode::infrastructure));
    });
  }

  void finish(bool reboot, ResetReason next, int exit_code) {
    if (finished_) return;
    finished_ = true;
    wake();
    result_ = BootResult{reboot, next, exit_code};
    tls_.close();
    io_.stop();
  }

  // The delay a real board takes, as this run waits it. The part not waited still counts in the log's
  // stamps (skipped_), so they grow as on a real board at any time scale (all `[0]` at scale 0 before).
  ms scaled(ms real) {
    const ms waited(static_cast<long long>(static_cast<double>(real.count()) * time_scale_));
    if (waited < real) skipped_ += real - waited;
    return waited;
  }

  awaitable<void> sleep_for(ms duration) {
    asio::steady_timer timer(io_);
    timer.expires_after(duration);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }

  // Sleeps up to `duration`, woken early by wake() (a state change, a lost link, the end), so the
  // firmware's loops react at once instead of on their next poll.
  awaitable<void> wait_for_change(ms duration) {
    asio::steady_timer timer(io_);
    timer.expires_after(duration);
    waiting_.insert(&timer);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    waiting_.erase(&timer);
  }
  void wake() {
    for (auto* timer : waiting_)
      timer->cancel();
  }

  // Waits `duration` while the state stays `s` (the firmware's delay() loops keep serving the console);
  // true when the whole time passed in that state.
  awaitable<bool> stay(State s, ms duration) {
    const auto deadline = Clock::now() + duration;
    for (;;) {
      if (state_ != s || finished_) co_return false;
      const auto now = Clock::now();
      if (now >= deadline) co_return true;
      co_await wait_for_change(std::chrono::duration_cast<ms>(deadline - now) + 1ms);
    }
  }

  long long millis() const {
    return std::chrono::duration_cast<ms>(Clock::now() - boot_start_ + skipped_).count();
  }

  void emit(std::string_view bytes) {
    if (!out_.write(bytes)) finish(false, ResetReason::power_on, 0);  // the serial side is gone
  }
  // An Arduino Edgent line `[ms] text`. The ESP-IDF component's own lines differ and are not modelled
  // beyond its state lines (idf_log): it prints none of these.
  void log(std::string_view text) {
    if (esp_idf()) return;
    emit(fmt::format("[{}] {}\r\n", millis(), text));
  }
  // `I (ms) tag: text`, the ESP-IDF log frame.
  void idf_log(std::string_view tag, std::string_view text) {
    emit(fmt::format("I ({}) {}: {}\r\n", millis(), tag, text));
  }

  bool newer_dialect() const { return profile_.dialect == Dialect::edgent_1_2; }
  bool esp_idf() const { return profile_.dialect == Dialect::edgent_esp_idf; }
  bool esp8266() const { return profile_.board_type == "ESP8266"; }

  // `Blynk <template name>-<5 hex>`: real boards end the name in five upper-case hex characters
  // (`Blynk TempSensB04-8E17E`, tests/data/real-logs/01); here derived from the MAC.
  std::string ap_ssid() const {
    const std::string prefix = "Blynk";
    return fmt::format("{} {}-{:05X}", prefix, profile_.template_name.substr(0, 31 - 6 - prefix.size()),
                       crc32(profile_.mac) & 0xFFFFFu);
  }

  // ------------------------------------------------------------------------------------ boot

  void boot_rom() {
    if (!profile_.faults.boot_noise) return;
    // The ROM bootloader talks at another baud rate first: a run of bytes that are not UTF-8.
    std::string noise = "\xff\x00\xe0\x98\x1c\xfe\x86\xf8\x80\x9e\xe0\x06";
    std::uniform_int_distribution<int> byte(0x80, 0xff);
    for (int i = 0; i < 12; ++i)
      noise += static_cast<char>(byte(rng_));
    emit(noise);
    if (esp8266()) {
      // The ESP8266 ROM (74880 baud on a real board, so often garbage): `rst cause:` 1 power on, 2 reset pin
      // or software restart.
      emit(
          fmt::format("\r\n ets Jan  8 2013,rst cause:{}, boot mode:(3,6)\r\n\r\n"
                      "load 0x4010f000, len 3424, room 16 \r\ntail 0\r\nchksum 0x2e\r\n"
                      "load 0x3fff20b8, len 40, room 8 \r\ntail 0\r\nchksum 0x2b\r\ncsum 0x2b\r\n",
                      reason_ == ResetReason::power_on ? 1 : 2));
      return;
    }
    const char* rst = reason_ == ResetReason::power_on ? "rst:0x1 (POWERON_RESET)" : "rst:0xc (SW_CPU_RESET)";
    emit(fmt::format(
        "\r\nets Jul 29 2019 12:21:46\r\n\r\n{},boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
        "configsip: 0, "
        "SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\n"
        "mode:DIO, clock div:1\r\nload:0x3fff0030,len:1184\r\nload:0x40078000,len:13160\r\n"
        "load:0x40080400,len:3036\r\nentry 0x400805e4\r\n",
        rst));
  }

  void banner() {
    if (esp_idf()) {  // no logo: the component's first line
      idf_log("edgent.c", fmt::format("Blynk.Edgent initialized (device: {})", ap_ssid()));
      return;
    }
    emit(
        fmt::format("[{}] \r\n"
                    "    ___  __          __\r\n"
                    "   / _ )/ /_ _____  / /__\r\n"
                    "  / _  / / // / _ \\/  '_/\r\n"
                    " /____/_/\\_, /_//_/_/\\_\\\r\n"
                    "        /___/ v{} on {}\r\n"
                    "\r\n"
                    " #StandWithUkraine    https://bit.ly/swua\r\n"
                    "\r\n"
                    "\r\n",
                    millis(), profile_.library_version, profile_.board_type));
  }

  void device_block() {
    const auto& p = profile_;
    if (newer_dialect()) {
      const std::string rule(52, '-');
      std::string block = rule + "\r\n";
      block += fmt::format(" Device:    {}\r\n", ap_ssid());
      block += fmt::format(" Firmware:  {} (build {})\r\n", p.firmware_version, p.build);
      if (config_.valid)
        block += fmt::format(
            " Token:     {} - \u2022\u2022\u2022\u2022 - \u2022\u2022\u2022\u2022 - "
            "\u2022\u2022\u2022\u2022\r\n",
            config_.token.substr(0, 4));
      block += fmt::format(" Platform:  {} @ {}MHz\r\n", p.board_type, p.cpu_mhz);
      block += fmt::format(" Chip rev:  {}\r\n", p.chip_rev);
      block += fmt::format(" SDK:       {}\r\n", p.sdk);
      block += fmt::format(" Flash:     {}K\r\n", p.flash_kb);
      block += fmt::format(" Free mem:  {}\r\n", p.free_mem);
      block += rule + "\r\n";
      emit(block);
    } else if (!esp_idf()) {
      // As real 1.0/1.1 boards print it (tests/data/real-logs/01 for ESP8266, 05 for ESP32).
      const std::string rule(26, '-');
      log(rule);
      log(fmt::format("Product:  {}", p.template_name));
      if (esp8266()) log(fmt::format("Hardware: {}", p.hardware_version));
      log(fmt::format("Firmware: {} (build {})", p.firmware_version, p.build));
      if (config_.valid)
        log(fmt::format("Token:    ...{}", config_.token.size() >= 4
                                               ? config_.token.substr(config_.token.size() - 4)
                                               : config_.token));
      log(fmt::format("Device:   {} @ {}MHz", p.board_type, p.cpu_mhz));
      log(fmt::format("MAC:      {}", p.mac));
      log(fmt::format("Flash:    {}K", p.flash_kb));
      if (esp8266()) {
        log("ESP core: 3.0.2");
        log(fmt::format("ESP SDK:  {}", p.sdk));
        log("Boot Ver: 31");
        log("Boot Mode:1");
        // Sketch size / free sketch space and its MD5 (made up from the build: no image to hash).
        log(fmt::format("FW info:  469056/2674688, MD5:{:08x}{:08x}{:08x}{:08x}", crc32(p.build),
                        crc32(p.firmware_version), crc32(p.template_id), crc32(p.mac)));
      } else {
        log(fmt::format("ESP sdk:  {}", p.sdk));
        log(fmt::format("Chip rev: {}", p.chip_rev));
      }
      log(fmt::format("Free mem: {}", p.free_mem));
      log(rule);
    }
  }

  // GCC 12 miscompiles `if (!co_await ...)` in some coroutines (SIGILL at resume): hence the
  // `const bool stayedN = co_await ...;` statements.
  awaitable<void> main_loop() {
    boot_rom();
    co_await sleep_for(scaled(400ms));
    config_ = store_.load();
    banner();
    device_block();
    if (profile_.faults.reboot_loop) {
      co_await sleep_for(std::max<ms>(scaled(500ms), 50ms));
      emit("\r\nBrownout detector was triggered\r\n\r\n");
      finish(true, ResetReason::software, 0);
      co_return;
    }
    if (!esp_idf()) emit("\r\n>");
    set_state(config_.valid ? State::CONNECTING_NET : State::WAIT_CONFIG);
    // What arrived during boot waited in the UART buffer; the console reads it from the first loop on.
    console_ready_ = true;
    for (char c : pending_input_)
      console_char(c);
    pending_input_.clear();

    while (!finished_) {
      switch (state_) {
        case State::WAIT_CONFIG:
        case State::CONFIGURING:
          co_await config_mode();
          break;
        case State::CONNECTING_NET:
          co_await connect_net();
          break;
        case State::CONNECTING_CLOUD:
          co_await connect_cloud();
          break;
        case State::RUNNING:
          co_await running();
          break;
        case State::SWITCH_TO_STA:
          co_await switch_to_sta();
          break;
        case State::RESET_CONFIG:
          co_await reset_config();
          break;
        case State::OTA_UPGRADE:
          co_await ota_upgrade();
          break;
        default:
          co_await error_state();
          break;
      }
    }
  }

  void lose_link() {
    link_lost_ = true;
    wake();
  }

  // `logged = false`: a change the firmware makes without its transition line (the button reset's
  // RESET_CONFIG in real-logs/03).
  void set_state(State s, bool logged = true) {
    if (s == state_ || finished_) return;
    if (logged && esp_idf()) {
      // The component's first state is IDLE (tests/data/real-logs/10).
      idf_log("edgent.c", fmt::format("State: {} => {}", state_ == State::INIT ? "IDLE" : state_name(state_),
                                      state_name(s)));
    } else if (logged) {
      log(fmt::format("{} => {}", state_name(state_), state_name(s)));
    }
    state_ = s;
    ++state_epoch_;
    wake();
    if (s != State::CONNECTING_CLOUD && s != State::RUNNING) tls_.close();
    if (s != State::CONNECTING_NET && s != State::CONNECTING_CLOUD && s != State::RUNNING) wifi_.reset();
    if (!profile_.faults.crash_in_state.empty() && profile_.faults.crash_in_state == state_name(s))
      spawn(crash(state_epoch_));
  }

  void set_last_error(int code) {
    // Only an unprovisioned board records it (the app reads it from board_info.json); recording it
    // saves the configuration, and both are logged (tests/data/real-logs/02:
    // `[99506] Last error code: 701`, `[99510] Configuration stored to flash`).
    if (config_.valid) return;
    config_.last_error = code;
    log(fmt::format("Last error code: {}", code));
    store_.save(config_);
    log("Configuration stored to flash");
  }

  // ------------------------------------------------------------------------------------ states

  awaitable<void> config_mode() {
    const State entered = state_;
    // WiFi off, AP on: about 2.6 s on a real ESP32.
    const bool stayed1 = co_await stay(entered, scaled(2600ms));
    if (!stayed1) co_return;
    ap_ = std::make_unique<net::ApServer>(io_,
                                          [this](const std::string& target) { return ap_request(target); });
    write_endpoint_file(ap_->port());
    if (!newer_dialect()) {
      log(fmt::format("AP SSID: {}", ap_ssid()));
      log("AP IP:   192.168.4.1");
    }
    log("AP URL:  blynk.setup");
    if (profile_.faults.ota_after.count() > 0) spawn(ota_request(state_epoch_));
    while (!finished_ && (state_ == State::WAIT_CONFIG || state_ == State::CONFIGURING))
      co_await wait_for_change(1000ms);
    ap_.reset();
    remove_endpoint_file();
  }

  awaitable<void> switch_to_sta() {
    log("Switching to STA...");
    const bool stayed2 = co_await stay(State::SWITCH_TO_STA, scaled(1100ms));
    if (!stayed2) co_return;
    set_state(State::CONNECTING_NET);
  }

  awaitable<void> connect_net() {
    log(fmt::format("Connecting to WiFi: {}", config_.ssid));
    const SimNetwork* found = nullptr;
    for (const auto& n : profile_.networks)
      if (n.ssid == config_.ssid) found = &n;
    const bool joins = found && (found->password.empty() || found->password == config_.pass);
    if (joins) {
      const bool stayed3 = co_await stay(State::CONNECTING_NET, scaled(profile_.wifi_connect_time));
      if (!stayed3) co_return;
      wifi_ = *found;
      log(fmt::format("Using Dynamic IP: {}", profile_.ip));
      net_retries_ = profile_.wifi_retries;
      set_state(State::CONNECTING_CLOUD);
      co_return;
    }
    const bool stayed4 = co_await stay(State::CONNECTING_NET, scaled(profile_.wifi_fail_time));
    if (!stayed4) co_return;
    if (--net_retries_ <= 0) {
      set_last_error(701);
      set_state(State::ERROR);
    }
  }

  awaitable<void> connect_cloud() {
    // The ESP-IDF component's cloud side is MQTT, which is not modelled (the interceptor does not speak
    // it): such a board stays in CONNECTING_CLOUD.
    if (profile_.faults.hang_connecting_cloud || esp_idf()) {
      while (!finished_ && state_ == State::CONNECTING_CLOUD)
        co_await wait_for_change(1000ms);
      co_return;
    }
    if (esp8266()) {
      // ESP8266 sets its clock (certificate dates) first: `Current time: Mon Jan  2 15:47:06 2023`
      // before `Connecting to blynk.cloud:443` (tests/data/real-logs/01).
      const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
      std::tm utc{};
      gmtime_r(&now, &utc);
      char text[64];
      std::strftime(text, sizeof text, "%a %b %e %H:%M:%S %Y", &utc);
      log(fmt::format("Current time: {}", text));
    }
    if (profile_.provision_call && !config_.valid && !provisioned_) {
      const auto outcome = co_await provision();
      if (outcome == Outcome::aborted || state_ != State::CONNECTING_CLOUD || finished_) co_return;
      if (outcome == Outcome::invalid_token) {
        set_last_error(703);
        set_state(State::WAIT_CONFIG);
        co_return;
      }
      if (outcome == Outcome::failed) {
        set_last_error(702);
        set_state(State::ERROR);
        co_return;
      }
      provisioned_ = true;
    }
    const auto outcome = co_await login();
    if (outcome == Outcome::aborted || state_ != State::CONNECTING_CLOUD || finished_) co_return;
    if (outcome == Outcome::invalid_token) {
      set_last_error(703);
      set_state(State::WAIT_CONFIG);
      co_return;
    }
    if (outcome == Outcome::failed) {
      if (--cloud_retries_ <= 0) {
        set_last_error(702);
        set_state(State::ERROR);
        co_return;
      }
      co_await stay(State::CONNECTING_CLOUD, scaled(profile_.provision_backoff));
      co_return;
    }
    cloud_retries_ = profile_.cloud_retries;
    set_state(State::RUNNING);
    if (!config_.valid) {
      config_.valid = true;
      config_.last_error = 0;
      store_.save(config_);
      log("Configuration stored to flash");
    }
  }

  std::string provision_target() const {
    const auto& p = profile_;
    const auto enc = [](std::string_view v) { return percent_encode(v, true); };
    const auto& tmpl = p.faults.wrong_template_id.empty() ? p.template_id : p.faults.wrong_template_id;
    return fmt::format(
        "/external/api/provision?token={}&templateId={}&build={}&ver={}&type={}&fwType={}&blVer={}&boType={}",
        enc(config_.token), enc(tmpl), enc(p.build), enc(p.firmware_version), enc(p.mcu_type),
        enc(p.effective_firmware_type()), enc(p.library_version), enc(p.board_type));
  }

  awaitable<Outcome> provision() {
    auto backoff = profile_.provision_backoff;
    for (int attempt = 1;; ++attempt) {
      const auto outcome = co_await provision_attempt();
      if (state_ != State::CONNECTING_CLOUD || finished_) co_return Outcome::aborted;
      if (outcome != Outcome::failed) co_return outcome;
      if (attempt >= profile_.provision_retries) co_return Outcome::failed;
      const bool stayed5 = co_await stay(State::CONNECTING_CLOUD, scaled(backoff));
      if (!stayed5) co_return Outcome::aborted;
      backoff *= 2;
    }
  }

  awaitable<Outcome> provision_attempt() {
    const auto epoch = state_epoch_;
    Location where{config_.host, static_cast<std::uint16_t>(config_.port), provision_target()};
    for (int redirects = 0;;) {
      const auto connected = co_await tls_.connect(where.host, where.port, profile_.network_timeout);
      if (epoch != state_epoch_ || finished_) co_return Outcome::aborted;
      if (connected.status == net::ConnectStatus::tls_failed) {
        log("Secure connection failed");
        co_return Outcome::failed;
      }
      if (connected.status == net::ConnectStatus::connect_failed) {
        log(fmt::format("Provision failed: cannot connect to {}:{}", where.host, where.port));
        co_return Outcome::failed;
      }
      const auto host_header = where.port == 443 ? where.host : fmt::format("{}:{}", where.host, where.port);
      const auto answer = co_await tls_.http_get(host_header, where.target, profile_.network_timeout);
      tls_.close();
      if (epoch != state_epoch_ || finished_) co_return Outcome::aborted;
      if (!answer.error.empty()) {
        log(fmt::format("Provision failed: {}", answer.error));
        co_return Outcome::failed;
      }
      if (answer.status == 200) co_return Outcome::ok;
      if (answer.status == 400) {
        log("Invalid auth token");
        co_return Outcome::invalid_token;
      }
      const bool redirect =
          answer.status == 301 || answer.status == 302 || answer.status == 307 || answer.status == 308;
      if (!redirect || profile_.faults.no_redirects) {
        log(fmt::format("Provision failed: HTTP {}", answer.status));
        co_return Outcome::failed;
      }
      if (redirects >= 3) {
        log("Provision failed: too many redirects");
        co_return Outcome::failed;
      }
      const auto next = parse_location(answer.location, where);
      if (!next) {
        log(fmt::format("Provision failed: bad redirect '{}'", answer.location));
        co_return Outcome::failed;
      }
      ++redirects;
      where = *next;
      log(fmt::format("Redirecting to {}:{}", where.host, where.port));
    }
  }

  awaitable<Outcome> login() {
    const auto epoch = state_epoch_;
    std::string host = config_.host;
    auto port = static_cast<std::uint16_t>(config_.port);
    for (int redirects = 0;; ++redirects) {
      log(fmt::format("Connecting to {}:{}", host, port));
      const auto connected = co_await tls_.connect(host, port, profile_.network_timeout);
      if (epoch != state_epoch_ || finished_) co_return Outcome::aborted;
      if (connected.status == net::ConnectStatus::tls_failed) {
        log("Secure connection failed");
        co_return Outcome::failed;
      }
      if (connected.status == net::ConnectStatus::connect_failed) co_return Outcome::failed;
      if (!esp8266()) log("Certificate OK");  // ESP8266 on 1.1 prints none (tests/data/real-logs/01)
      const auto sent_at = Clock::now();
      const auto error =
          co_await tls_.write(frame(kLogin, next_id(), config_.token), profile_.network_timeout);
      if (epoch != state_epoch_ || finished_) co_return Outcome::aborted;
      std::string header;
      if (error.empty()) co_await tls_.read_exact(5, header, profile_.network_timeout);
      if (epoch != state_epoch_ || finished_) co_return Outcome::aborted;
      if (!error.empty() || header.size() != 5 || !tls_.is_open()) {
        log("Login timeout");
        tls_.close();
        co_return Outcome::failed;
      }
      const auto type = static_cast<std::uint8_t>(header[0]);
      const int status_or_length = be16(header, 3);
      if (type == kResponse) {
        if (status_or_length == kStatusOk) {
          const auto ping = std::chrono::duration_cast<ms>(Clock::now() - sent_at).count();
          log(fmt::format("Ready (ping: {}ms).", ping));
          co_await tls_.write(frame(kInternal, next_id(), info_body()), profile_.network_timeout);
          co_return Outcome::ok;
        }
        tls_.close();
        if (status_or_length == kStatusInvalidToken) {
          log("Invalid auth token");
          co_return Outcome::invalid_token;
        }
        log(fmt::format("Connect failed. code: {}", status_or_length));
        co_return Outcome::failed;
      }
      std::string body;
      co_await tls_.read_exact(static_cast<std::size_t>(status_or_length), body, profile_.network_timeout);
      tls_.close();
      if (epoch != state_epoch_ || finished_) co_return Outcome::aborted;
      if (type != kRedirect || redirects >= 3) {
        log(fmt::format("Connect failed. code: {}", -1));
        co_return Outcome::failed;
      }
      const auto nul = body.find('\0');
      host = body.substr(0, nul);
      port = 443;
      if (nul != std::string::npos) {
        try {
          port = static_cast<std::uint16_t>(std::stoi(body.substr(nul + 1)));
        } catch (const std::exception&) {
        }
      }
      log(fmt::format("Redirecting to {}:{}", host, port));
    }
  }

  std::string info_body() const {
    const auto& p = profile_;
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"ver", p.library_version},
        {"h-beat", std::to_string(std::max<long long>(1, p.heartbeat.count() / 1000))},
        {"buff-in", "1024"},
        {"dev", p.board_type},
        {"cpu", p.board_type},
        {"con", "WiFi"},
        {"build", p.build},
        {"tmpl", p.template_id},
        {"fw-type", p.effective_firmware_type()},
        {"fw", p.firmware_version},
        {"blynk", p.library_version}};
    std::string body;
    for (const auto& [k, v] : pairs) {
      if (!body.empty()) body += '\0';
      body += k;
      body += '\0';
      body += v;
    }
    return body;
  }

  std::uint16_t next_id() {
    if (++msg_id_ == 0) msg_id_ = 1;
    return msg_id_;
  }

  awaitable<void> running() {
    const auto epoch = state_epoch_;
    link_lost_ = false;
    ping_outstanding_ = 0;
    spawn(read_cloud(epoch));
    auto next_ping = Clock::now() + profile_.heartbeat;
    while (!finished_ && state_ == State::RUNNING && epoch == state_epoch_) {
      if (link_lost_) {
        log("Disconnected");
        tls_.close();
        set_state(State::CONNECTING_CLOUD);
        co_return;
      }
      if (Clock::now() >= next_ping) {
        if (ping_outstanding_ != 0) {
          log("Heartbeat timeout");
          lose_link();
          continue;
        }
        ping_outstanding_ = next_id();
        const auto error = co_await tls_.write(frame(kPing, ping_outstanding_, {}), profile_.network_timeout);
        if (!error.empty()) lose_link();
        next_ping = Clock::now() + profile_.heartbeat;
        continue;
      }
      co_await wait_for_change(std::chrono::duration_cast<ms>(next_ping - Clock::now()) + 1ms);
    }
    tls_.close();
  }

  awaitable<void> read_cloud(std::uint64_t epoch) {
    for (;;) {
      std::string header;
      const auto error = co_await tls_.read_exact(5, header, ms(0));
      if (epoch != state_epoch_ || finished_) co_return;
      if (!error.empty()) {
        lose_link();
        co_return;
      }
      const auto type = static_cast<std::uint8_t>(header[0]);
      const auto id = be16(header, 1);
      const auto length = be16(header, 3);
      if (type == kResponse) {
        if (id == ping_outstanding_) ping_outstanding_ = 0;
        continue;
      }
      std::string body;
      if (length > 0) {
        const auto body_error = co_await tls_.read_exact(length, body, profile_.network_timeout);
        if (epoch != state_epoch_ || finished_) co_return;
        if (!body_error.empty()) {
          lose_link();
          co_return;
        }
      }
      if (type == kPing) {
        std::string answer = frame(kResponse, id, {});
        answer[3] = static_cast<char>(kStatusOk >> 8);
        answer[4] = static_cast<char>(kStatusOk & 0xff);
        co_await tls_.write(answer, profile_.network_timeout);
      } else if (type == kRedirect) {
        const auto nul = body.find('\0');
        config_.host = body.substr(0, nul);
        log(fmt::format("Redirecting to {}:{}", config_.host,
                        nul == std::string::npos ? std::string("443") : body.substr(nul + 1)));
        lose_link();
        co_return;
      }
      // HARDWARE (20) and others: the sketch's business, not Edgent's.
      (void)kHardware;
    }
  }

  awaitable<void> reset_config() {
    if (button_reset_) {
      button_reset_ = false;
      log("Resetting configuration!");
      config_ = BoardConfig{};
      store_.erase();
      provisioned_ = false;
      log("Configuration stored to flash");
      const bool stayed9 = co_await stay(State::RESET_CONFIG, scaled(255ms));
      if (!stayed9) co_return;
      if (!esp8266()) log("nvs_flash_erase: Success");
      set_state(State::WAIT_CONFIG);
      co_return;
    }
    log("Resetting configuration!");
    config_ = BoardConfig{};
    store_.erase();
    provisioned_ = false;
    const bool stayed6 = co_await stay(State::RESET_CONFIG, scaled(100ms));
    if (!stayed6) co_return;
    set_state(State::WAIT_CONFIG);
  }

  awaitable<void> error_state() {
    const bool stayed7 = co_await stay(state_, scaled(10000ms));
    if (!stayed7) co_return;
    log("Restarting after error.");
    finish(true, ResetReason::software, 0);
  }

  awaitable<void> crash(std::uint64_t epoch) {
    co_await sleep_for(profile_.faults.crash_after);
    if (epoch != state_epoch_ || finished_) co_return;
    emit(
        "Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.\r\n"
        "\r\n"
        "Core  1 register dump:\r\n"
        "PC      : 0x400d2f3e  PS      : 0x00060c30  A0      : 0x800d3b21  A1      : 0x3ffb1f50  \r\n"
        "A2      : 0x00000000  A3      : 0x3ffc1a2c  A4      : 0x00000001  A5      : 0x3ffb1f70  \r\n"
        "EXCVADDR: 0x00000000  LBEG    : 0x4000c2e0  LEND    : 0x4000c2f6  LCOUNT  : 0xffffffff  \r\n"
        "\r\n"
        "\r\n"
        "Backtrace: 0x400d2f3b:0x3ffb1f50 0x400d3b1e:0x3ffb1f80 0x400d8a45:0x3ffb1fb0 "
        "0x40089792:0x3ffb1fd0\r\n"
        "\r\n"
        "\r\n"
        "\r\n"
        "\r\n"
        "ELF file SHA256: 5c1d2e3f4a5b6c7d\r\n"
        "\r\n"
        "Rebooting...\r\n");
    finish(true, ResetReason::panic, 0);
  }

  // ------------------------------------------------------------------------------------ faults

  awaitable<void> garbage_bursts() {
    std::uniform_int_distribution<int> byte(0x80, 0xff);
    while (!finished_) {
      co_await sleep_for(profile_.faults.garbage_every);
      if (finished_) co_return;
      std::string burst;
      for (std::size_t i = 0; i < profile_.faults.garbage_bytes; ++i)
        burst += static_cast<char>(byte(rng_));
      emit(burst + "\r\n");
    }
  }

  // The button held (faults.button_hold_after), as real-logs/03 shows it: the reset comes 570 ms after
  // the hold message, the configuration is erased, and the state goes RESET_CONFIG => WAIT_CONFIG
  // without a logged transition into RESET_CONFIG.
  awaitable<void> button_hold() {
    co_await sleep_for(profile_.faults.button_hold_after);
    if (finished_) co_return;
    log("Hold the button for 10 seconds to reset configuration...");
    co_await sleep_for(scaled(570ms));
    if (finished_) co_return;
    button_reset_ = true;
    set_state(State::RESET_CONFIG, false);
  }

  // An OTA request in config mode (faults.ota_after), timed as in real-logs/05.
  awaitable<void> ota_request(std::uint64_t epoch) {
    co_await sleep_for(profile_.faults.ota_after);
    if (finished_ || epoch != state_epoch_) co_return;
    log("Disconnected");
    set_state(State::OTA_UPGRADE);
  }

  awaitable<void> ota_upgrade() {
    log(fmt::format("Firmware update URL: {}", profile_.faults.ota_url));
    const bool stayed8 = co_await stay(State::OTA_UPGRADE, scaled(6281ms));
    if (!stayed8) co_return;
    if (profile_.faults.ota_status != 200) {
      log("HTTP response should be 200");
      set_state(State::ERROR);
      co_return;
    }
    // A successful download (and flashing) is not modelled: the board restarts on its old firmware.
    log("Update successfully completed. Rebooting.");
    finish(true, ResetReason::software, 0);
  }

  awaitable<void> serial_vanish() {
    co_await sleep_for(profile_.faults.serial_vanish_after);
    if (finished_) co_return;
    // The USB-serial bridge goes away: no goodbye, the harness sees its port close.
    finish(false, ResetReason::power_on, 0);
  }

  // ------------------------------------------------------------------------------------ serial in

  awaitable<void> read_serial() {
    std::array<char, 512> buffer{};
    for (;;) {
      error_code ec;
      const auto n =
          co_await input_.async_read_some(asio::buffer(buffer), asio::redirect_error(use_awaitable, ec));
      if (finished_) co_return;
      if (ec) {
        // EOF or EIO: the harness closed its side of the serial line.
        finish(false, ResetReason::power_on, 0);
        co_return;
      }
      for (std::size_t i = 0; i < n && !finished_; ++i) {
        if (console_ready_) {
          console_char(buffer[i]);
        } else if (pending_input_.size() < 256) {
          pending_input_ += buffer[i];  // the UART's receive buffer until the console starts
        }
      }
    }
  }

  awaitable<void> read_signals() {
    std::array<char, 16> buffer{};
    for (;;) {
      error_code ec;
      const auto n =
          co_await signals_.async_read_some(asio::buffer(buffer), asio::redirect_error(use_awaitable, ec));
      if (finished_ || ec) co_return;
      for (std::size_t i = 0; i < n; ++i) {
        if (buffer[i] == SIGUSR1) {
          finish(true, ResetReason::power_on, 0);  // the EN pin
          co_return;
        }
        if (buffer[i] == SIGTERM || buffer[i] == SIGINT || buffer[i] == SIGHUP) {
          finish(false, ResetReason::power_on, 0);
          co_return;
        }
      }
    }
  }

  // BlynkConsole: echo, CR or LF runs the line, a full 256-byte buffer starts over silently.
  void console_char(char c) {
    if (line_.size() >= 256) line_.clear();
    line_ += c;
    if (c != '\r' && c != '\n') {
      emit(std::string_view(&c, 1));
      return;
    }
    auto args = split_args(line_);
    if (args.empty()) return;  // blank line: nothing printed, the buffer keeps its CR/LF
    line_.clear();
    emit("\r\n");
    bool prompt = true;
    if (!run_command(args, prompt)) emit("Command not found.\r\n");
    if (prompt && !finished_) emit(">");
  }

  static std::string unescape(std::string_view arg) {
    std::string out;
    for (std::size_t i = 0; i < arg.size(); ++i) {
      if (arg[i] != '\\' || i + 1 >= arg.size()) {
        out += arg[i];
        continue;
      }
      const char e = arg[++i];
      switch (e) {
        case '0':
          out += '\0';
          break;
        case 'b':
          out += '\b';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'x': {
          std::string hex;
          while (hex.size() < 2 && i + 1 < arg.size() &&
                 std::isxdigit(static_cast<unsigned char>(arg[i + 1])))
            hex += arg[++i];
          out += static_cast<char>(hex.empty() ? 0 : std::stoi(hex, nullptr, 16));
          break;
        }
        default:
          out += e;
          break;
      }
    }
    // The firmware keeps C strings: an escaped NUL ends the argument.
    return out.substr(0, out.find('\0'));
  }

  static std::vector<std::string> split_args(std::string_view line) {
    std::vector<std::string> args;
    std::size_t i = 0;
    while (i < line.size() && args.size() < 15) {
      while (i < line.size() && std::string_view(" \n\r\t").find(line[i]) != std::string_view::npos)
        ++i;
      const auto start = i;
      while (i < line.size() && std::string_view(" \n\r\t").find(line[i]) == std::string_view::npos)
        ++i;
      if (i > start) args.push_back(unescape(line.substr(start, i - start)));
    }
    return args;
  }

  static bool same(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(x) == std::tolower(y);
           });
  }

  bool run_command(const std::vector<std::string>& args, bool& prompt) {
    const auto& cmd = args[0];
    const auto& p = profile_;
    if (same(cmd, "help") || same(cmd, "?")) {
      emit("Available commands: help, ?, reboot, config, devinfo, connect, wifi, firmware, status\r\n");
    } else if (same(cmd, "reboot")) {
      emit(R"({"status":"OK","msg":"rebooting wifi module"})"
           "\r\n");
      prompt = false;  // the firmware restarts inside the command
      spawn(reboot_after(100ms));
    } else if (same(cmd, "config")) {
      if (args.size() < 2 || args[1] == "start") {
        set_state(State::WAIT_CONFIG);
      } else if (args[1] == "erase") {
        set_state(State::RESET_CONFIG);
      }
    } else if (same(cmd, "devinfo")) {
      emit(fmt::format(R"({{"name":"{}","board":"{}","tmpl_id":"{}","fw_type":"{}","fw_ver":"{}"}})"
                       "\r\n",
                       json_escape(ap_ssid()), json_escape(p.template_name), json_escape(p.template_id),
                       json_escape(p.effective_firmware_type()), json_escape(p.firmware_version)));
    } else if (same(cmd, "connect")) {
      if (args.size() < 3) {
        emit(R"({"status":"error","msg":"invalid arguments. expected: <auth> <ssid> <pass>"})"
             "\r\n");
      } else if (args[1].size() != 32) {
        emit(R"({"status":"error","msg":"invalid token size"})"
             "\r\n");
      } else {
        emit(R"({"status":"OK","msg":"trying to connect..."})"
             "\r\n");
        config_ = BoardConfig{};
        config_.token = args[1];
        config_.ssid = args[2];
        config_.pass = args.size() >= 4 ? args[3] : "";
        provisioned_ = false;
        set_state(State::SWITCH_TO_STA);
      }
    } else if (same(cmd, "wifi")) {
      if (wifi_)
        emit(fmt::format("mac:{} ip:{} ({} [{}] {}dBm)\r\n", p.mac, p.ip, wifi_->ssid, wifi_->bssid,
                         wifi_->rssi));
      else
        emit(fmt::format("mac:{} ip:0.0.0.0 ( [00:00:00:00:00:00] 0dBm)\r\n", p.mac));
    } else if (same(cmd, "firmware")) {
      emit(fmt::format(
          " Version:   {} (build {})\r\n Type:      {}\r\n Platform:  {}\r\n SDK:       {}\r\n"
          " Blynk:     {}\r\n",
          p.firmware_version, p.build, p.effective_firmware_type(), p.board_type, p.sdk, p.library_version));
    } else if (same(cmd, "status")) {
      auto s = millis() / 1000;
      const auto days = s / 86400;
      s %= 86400;
      const char* reset = reason_ == ResetReason::power_on ? "POWERON_RESET" : "SW_CPU_RESET";
      emit(
          fmt::format(" Uptime:          {}d {}h {}m {}s\r\n Reset reason:    {}\r\n State:           {}\r\n"
                      " Free mem:        {}\r\n",
                      days, s / 3600, (s % 3600) / 60, s % 60, reset, state_name(state_), p.free_mem));
    } else {
      return false;
    }
    return true;
  }

  awaitable<void> reboot_after(ms delay) {
    co_await sleep_for(delay);
    finish(true, ResetReason::software, 0);
  }

  // ------------------------------------------------------------------------------------ setup AP

  net::ApResponse ap_request(const std::string& target) {
    const auto q = parse_target(target);
    const auto& p = profile_;
    net::ApResponse r;
    if (q.path == "/board_info.json") {
      set_state(State::CONFIGURING);
      log("Sending board info...");
      r.body = fmt::format(
          R"({{"board":"{}","tmpl_id":"{}","fw_type":"{}","fw_ver":"{}","ssid":"{}","bssid":"{}","mac":"{}",)"
          R"("last_error":{},"wifi_scan":true,"static_ip":true}})",
          json_escape(p.template_name), json_escape(p.template_id), json_escape(p.effective_firmware_type()),
          json_escape(p.firmware_version), json_escape(ap_ssid()), mac_plus_one(p.mac), p.mac,
          config_.last_error);
    } else if (q.path == "/wifi_scan.json") {
      log("Scanning networks...");
      log(fmt::format("Found networks: {}", p.networks.size()));
      auto nets = p.networks;
      std::stable_sort(nets.begin(), nets.end(),
                       [](const auto& a, const auto& b) { return a.rssi > b.rssi; });
      if (nets.size() > 15) nets.resize(15);
      if (nets.empty()) {
        r.body = "[]";
      } else {
        r.body = "[\n";
        for (std::size_t i = 0; i < nets.size(); ++i) {
          r.body += fmt::format(R"(  {{"ssid":"{}","bssid":"{}","rssi":{},"sec":"{}","ch":{}}})",
                                json_escape(nets[i].ssid), nets[i].bssid, nets[i].rssi, nets[i].security,
                                nets[i].channel);
          if (i + 1 != nets.size()) r.body += ",\n";
        }
        r.body += "\n]";
      }
    } else if (q.path == "/config") {
      log("Applying configuration...");
      auto ssid = q.arg("ssid");
      if (!q.arg("ssidManual").empty()) ssid = q.arg("ssidManual");
      const auto pass = q.arg("pass");
      const auto token = q.arg("blynk");
      const auto host = q.arg("host");
      const auto port = q.arg("port_ssl");
      log(fmt::format("WiFi SSID: {} Pass: {}", ssid, pass));
      log(fmt::format("Blynk cloud: {} @ {}:{}", token, host, port));
      if (token.size() == 32 && !ssid.empty()) {
        const int last_error = config_.last_error;
        config_ = BoardConfig{};
        config_.last_error = last_error;
        config_.ssid = ssid;
        config_.pass = pass;
        config_.token = token;
        if (!host.empty()) config_.host = host;
        if (!port.empty()) config_.port = std::atoi(port.c_str());  // Arduino toInt(): garbage gives 0
        provisioned_ = false;
        if (std::atoi(q.arg("save").c_str()) != 0) {
          config_.valid = true;
          store_.save(config_);
          r.body = R"({"status":"ok","msg":"Configuration saved"})";
        } else {
          r.body = R"({"status":"ok","msg":"Trying to connect..."})";
        }
        net_retries_ = 1;
        cloud_retries_ = 1;
        set_state(State::SWITCH_TO_STA);
      } else {
        log("Configuration invalid");
        r.status = 500;
        r.body = R"({"status":"error","msg":"Configuration invalid"})";
      }
    } else if (q.path == "/reset") {
      set_state(State::RESET_CONFIG);
      r.body = R"({"status":"ok","msg":"Configuration reset"})";
    } else if (q.path == "/reboot") {
      r.drop = true;
      spawn(reboot_after(10ms));
    } else {
      r.status = 404;
      r.content_type = "text/plain";
      r.body = "Not found: " + q.path;
    }
    return r;
  }

  void write_endpoint_file(std::uint16_t port) {
    if (options_.ap_endpoint_file.empty()) return;
    auto temp = options_.ap_endpoint_file;
    temp += ".tmp";
    {
      std::FILE* f = std::fopen(temp.c_str(), "w");
      if (!f) throw std::runtime_error(fmt::format("cannot write {}", temp.string()));
      std::fprintf(f, "127.0.0.1:%u\n", static_cast<unsigned>(port));
      std::fclose(f);
    }
    std::filesystem::rename(temp, options_.ap_endpoint_file);
    endpoint_written_ = true;
  }

  void remove_endpoint_file() {
    if (!endpoint_written_) return;
    std::error_code ec;
    std::filesystem::remove(options_.ap_endpoint_file, ec);
    endpoint_written_ = false;
  }

  asio::io_context& io_;
  const Profile& profile_;
  const SimOptions& options_;
  StateStore& store_;
  SerialOut& out_;
  ResetReason reason_;
  asio::posix::stream_descriptor input_;
  asio::posix::stream_descriptor signals_;
  net::TlsClient tls_;
  std::unique_ptr<net::ApServer> ap_;
  double time_scale_;
  std::mt19937 rng_;
  Clock::time_point boot_start_ = Clock::now();
  ms skipped_{0};              // delays not waited at this time scale (counted in the stamps)
  bool button_reset_ = false;  // RESET_CONFIG was entered by the button (its own lines)

  BootResult result_;
  bool finished_ = false;
  State state_ = State::INIT;
  std::uint64_t state_epoch_ = 0;
  BoardConfig config_;
  std::optional<SimNetwork> wifi_;
  bool provisioned_ = false;
  int net_retries_ = profile_.wifi_retries;
  int cloud_retries_ = profile_.cloud_retries;
  std::uint16_t msg_id_ = 0;
  std::uint16_t ping_outstanding_ = 0;
  bool link_lost_ = false;
  std::set<asio::steady_timer*> waiting_;  // wait_for_change() sleepers, for wake()
  bool console_ready_ = false;
  std::string pending_input_;
  std::string line_;
  bool endpoint_written_ = false;
};

}  // namespace

BootResult run_firmware(const Profile& profile, const SimOptions& options, StateStore& store, SerialOut& out,
                        int signal_fd, ResetReason reason) {
  asio::io_context io;
  auto board = std::make_unique<Board>(io, profile, options, store, out, signal_fd, reason);
  board->start();
  io.run();
  const auto result = board->result();
  // The board goes first (it closes its sockets and files); io's destructor then drops the
  // coroutines the reset interrupted.
  board.reset();
  return result;
}

}  // namespace provhil::sim
