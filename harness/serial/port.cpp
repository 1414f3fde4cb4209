#include "serial/port.hpp"

#include <charconv>

#include <fmt/format.h>

namespace provhil::serial {

PortError::PortError(std::string port, const std::string& message)
    : std::runtime_error(port.empty() ? message : fmt::format("{}: {}", port, message)),
      port_(std::move(port)),
      reason_(message) {}

std::string PortHolder::to_string() const {
  return fmt::format("pid {} ({})", pid, command);
}

namespace {

std::string join_holders(const std::vector<PortHolder>& holders) {
  std::string text;
  for (const auto& holder : holders) {
    if (!text.empty()) text += ", ";
    text += holder.to_string();
  }
  return text;
}

}  // namespace

PortBusy::PortBusy(std::string port, std::vector<PortHolder> holders, std::string unknown_holder)
    : PortError(std::move(port),
                "busy: held by " + (holders.empty() ? unknown_holder : join_holders(holders))),
      holders_(std::move(holders)),
      unknown_holder_(std::move(unknown_holder)) {}

std::string PortBusy::holders_text() const {
  return holders_.empty() ? unknown_holder_ : join_holders(holders_);
}

std::string_view to_string(PortKind kind) {
  switch (kind) {
    case PortKind::device:
      return "device";
    case PortKind::usb:
      return "usb";
    case PortKind::tcp:
      return "tcp";
    case PortKind::rfc2217:
      return "rfc2217";
    case PortKind::pty:
      return "pty";
    case PortKind::replay:
      return "replay";
  }
  return "unknown";
}

std::string UsbSelector::to_string() const {
  return serial.empty() ? fmt::format("usb:{:04x}:{:04x}", vid, pid)
                        : fmt::format("usb:{:04x}:{:04x}:{}", vid, pid, serial);
}

void Port::set_dtr(bool) {
  throw PortError(describe(), fmt::format("cannot set DTR: a {} port has no modem lines", to_string(kind())));
}

void Port::set_rts(bool) {
  throw PortError(describe(), fmt::format("cannot set RTS: a {} port has no modem lines", to_string(kind())));
}

void Port::send_signal(int) {
  throw PortError(describe(),
                  fmt::format("cannot send a signal: a {} port has no child process", to_string(kind())));
}

namespace {

constexpr std::string_view accepted_forms =
    "accepted: a device path (/dev/ttyUSB0), a /dev/serial/by-id/... link, usb:VID:PID[:SERIAL] (hex), "
    "tcp://host:port, rfc2217://host:port, pty:COMMAND [ARGS], "
    "replay:PATH[?pacing=original|fast][&strip=NAME,...]";

[[noreturn]] void bad(std::string_view text, std::string_view why) {
  throw std::invalid_argument(fmt::format("port \"{}\": {} ({})", text, why, accepted_forms));
}

std::uint16_t parse_hex16(std::string_view text, std::string_view whole, std::string_view what) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (text.empty() || text.size() > 4 || error != std::errc() || end != text.data() + text.size())
    bad(whole, fmt::format("{} \"{}\" is not 1 to 4 hex digits", what, text));
  return static_cast<std::uint16_t>(value);
}

void parse_host_port(std::string_view rest, std::string_view whole, PortSpec& spec) {
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:4000
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      bad(whole, "expected [IPv6]:port");
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) bad(whole, "missing :port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (!port.empty() && port.back() == '/') port.remove_suffix(1);
  if (host.empty()) bad(whole, "missing host");
  unsigned number = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || number == 0 ||
      number > 65535)
    bad(whole, fmt::format("port number \"{}\" is not 1..65535", port));
  spec.host = std::string(host);
  spec.tcp_port = static_cast<std::uint16_t>(number);
}

std::vector<std::string> split_command(std::string_view text, std::string_view whole) {
  std::vector<std::string> argv;
  std::string current;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        current += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) argv.push_back(std::move(current));
      current.clear();
      in_word = false;
    } else {
      current += c;
      in_word = true;
    }
  }
  if (quote != 0) bad(whole, "unterminated quote in the command");
  if (in_word) argv.push_back(std::move(current));
  if (argv.empty()) bad(whole, "pty: needs a command");
  return argv;
}

}  // namespace

PortSpec parse_port_spec(std::string_view text) {
  PortSpec spec;
  spec.text = std::string(text);
  if (text.empty()) bad(text, "empty");
  if (text.starts_with("usb:")) {
    spec.kind = PortKind::usb;
    auto rest = text.substr(4);
    auto first = rest.find(':');
    if (first == std::string_view::npos) bad(text, "usb: needs VID:PID");
    spec.usb.vid = parse_hex16(rest.substr(0, first), text, "VID");
    rest = rest.substr(first + 1);
    auto second = rest.find(':');
    spec.usb.pid = parse_hex16(rest.substr(0, second), text, "PID");
    if (second != std::string_view::npos) {
      spec.usb.serial = std::string(rest.substr(second + 1));
      if (spec.usb.serial.empty()) bad(text, "empty USB serial number after the last ':'");
    }
    return spec;
  }
  if (text.starts_with("tcp://")) {
    spec.kind = PortKind::tcp;
    parse_host_port(text.substr(6), text, spec);
    return spec;
  }
  if (text.starts_with("rfc2217://")) {
    spec.kind = PortKind::rfc2217;
    parse_host_port(text.substr(10), text, spec);
    return spec;
  }
  if (text.starts_with("pty:")) {
    spec.kind = PortKind::pty;
    spec.argv = split_command(text.substr(4), text);
    return spec;
  }
  if (text.starts_with("replay:")) {
    spec.kind = PortKind::replay;
    auto rest = text.substr(7);
    // Options after the last '?': key=value pairs joined by '&' (a path may hold '?' itself).
    if (auto query = rest.rfind('?'); query != std::string_view::npos) {
      auto options = rest.substr(query + 1);
      rest = rest.substr(0, query);
      while (!options.empty()) {
        auto amp = options.find('&');
        auto item = options.substr(0, amp);
        options = amp == std::string_view::npos ? std::string_view{} : options.substr(amp + 1);
        auto eq = item.find('=');
        auto key = item.substr(0, eq);
        auto value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        if (key == "pacing") {
          if (value == "original") {
            spec.pacing = ReplayPacing::original;
          } else if (value == "fast") {
            spec.pacing = ReplayPacing::fast;
          } else {
            bad(text, fmt::format("pacing \"{}\" is not original or fast", value));
          }
        } else if (key == "strip") {
          while (!value.empty()) {
            auto comma = value.find(',');
            try {
              spec.strip.push_back(parse_replay_strip(value.substr(0, comma)));
            } catch (const std::invalid_argument& e) {
              bad(text, e.what());
            }
            value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
          }
        } else {
          bad(text, fmt::format("unknown replay option \"{}\" (accepted: pacing=original|fast, "
                                "strip=arduino-ide,platformio,idf-monitor,ansi,comments)",
                                key));
        }
      }
    }
    if (rest.empty()) bad(text, "replay: needs a file path");
    spec.path = std::string(rest);
    return spec;
  }
  if (text.find("://") != std::string_view::npos) bad(text, "unknown scheme");
  if (text.front() != '/') bad(text, "a device must be an absolute path");
  spec.kind = PortKind::device;
  spec.path = std::string(text);
  return spec;
}

FlowControl parse_flow_control(std::string_view text) {
  if (text == "none" || text.empty()) return FlowControl::none;
  if (text == "rtscts" || text == "rts-cts" || text == "hardware") return FlowControl::rts_cts;
  if (text == "xonxoff" || text == "xon-xoff" || text == "software") return FlowControl::xon_xoff;
  throw std::invalid_argument(
      fmt::format("flow control \"{}\": accepted: none, rtscts (hardware), xonxoff (software)", text));
}

std::unique_ptr<Port> open_port(const PortSpec& spec, const OpenOptions& options) {
  switch (spec.kind) {
    case PortKind::device:
      return open_serial(spec.path.string(), options.serial);
    case PortKind::usb:
      return open_serial(spec.usb.to_string(), options.serial);
    case PortKind::tcp:
      return connect_tcp(spec.host, spec.tcp_port, options.connect_timeout);
    case PortKind::rfc2217: {
      Rfc2217Options rfc2217;
      rfc2217.settings = options.serial;
      rfc2217.connect_timeout = options.connect_timeout;
      rfc2217.warning = options.warning ? options.warning : [](const std::string& text) {
        fmt::print(stderr, "provhil: warning: {}\n", text);
      };
      return connect_rfc2217(spec.host, spec.tcp_port, rfc2217);
    }
    case PortKind::pty: {
      SpawnOptions spawn = options.spawn;
      spawn.argv = spec.argv;
      return spawn_pty(spawn);
    }
    case PortKind::replay:
      return open_replay(spec.path, spec.pacing, spec.strip);
  }
  throw PortError(spec.text, "unknown port kind");
}

}  // namespace provhil::serial
