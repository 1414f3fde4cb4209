// Real boards through libserialport 0.1.1 (a pseudo-terminal, which it does not know, as a plain tty), plus
// enumeration from sysfs. 0.1.1 takes no lock, leaves HUPCL set, spins on read() == 0 after an unplug and
// resolves no symlinks: each is handled here.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "serial/detail/fd_port.hpp"

namespace provhil::serial {

namespace fs = std::filesystem;

namespace {

std::string sp_error_text() {
  char* message = sp_last_error_message();
  std::string text = message != nullptr ? message : "unknown error";
  sp_free_error_message(message);
  return text;
}

std::string read_attribute(const fs::path& file) {
  std::ifstream in(file);
  std::string value;
  std::getline(in, value);
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ' || value.back() == '\r'))
    value.pop_back();
  return value;
}

std::string list_attached(const std::vector<PortInfo>& ports) {
  std::string text;
  for (const auto& port : ports) {
    text += fmt::format("\n  {}", port.path);
    if (port.vid && port.pid) text += fmt::format("  usb:{:04x}:{:04x}", *port.vid, *port.pid);
    if (!port.serial_number.empty()) text += ":" + port.serial_number;
    if (!port.product.empty()) text += "  " + port.product;
  }
  return text.empty() ? "\n  (no serial ports attached)" : text;
}

class SerialPort final : public detail::FdPort {
 public:
  SerialPort(std::string_view text, const SerialSettings& settings)
      : FdPort(std::string(text)), settings_(settings) {
    if (text.starts_with("usb:")) {
      auto spec = parse_port_spec(text);
      auto info = select_usb_port(spec.usb, list_ports());
      device_ = info.path;
      usb_ = info;
    } else {
      device_ = resolve_device_path(std::string(text)).string();
      for (const auto& info : list_ports())
        if (info.path == device_ && info.vid) usb_ = info;
    }
    attach(open_device(), false, false);  // sp_close() closes the fd
  }
  ~SerialPort() override { SerialPort::close(); }

  void close() override {
    FdPort::close();
    release();
  }

  ReadResult read(std::span<char> buffer, Clock::time_point deadline) override {
    auto result = FdPort::read(buffer, deadline);
    if (result.status != ReadStatus::vanished || settings_.reopen_grace.count() <= 0 || !usb_ ||
        usb_->serial_number.empty())
      return result;
    // Native-USB boards drop off the bus on reset and come back: wait for the same serial number.
    auto until = Clock::now() + settings_.reopen_grace;
    while (Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      try {
        auto info = select_usb_port({*usb_->vid, *usb_->pid, usb_->serial_number}, list_ports());
        release();
        device_ = info.path;
        reattach(open_device());
        return {ReadStatus::timeout, 0, {}};
      } catch (const PortError&) {
        // not back yet
      }
    }
    return {ReadStatus::vanished, 0,
            fmt::format("{} (not back within {} ms)", result.reason, settings_.reopen_grace.count())};
  }

  std::string describe() const override {
    if (!usb_) return device_;
    return fmt::format("{} (usb {:04x}:{:04x}{})", device_, *usb_->vid, *usb_->pid,
                       usb_->serial_number.empty() ? "" : " serial " + usb_->serial_number);
  }
  PortKind kind() const override { return usb_ ? PortKind::usb : PortKind::device; }
  PortCapabilities capabilities() const override {
    return {.modem_lines = true, .signal = false, .write = true};
  }

  void set_dtr(bool on) override { set_line(TIOCM_DTR, on, "DTR"); }
  void set_rts(bool on) override { set_line(TIOCM_RTS, on, "RTS"); }

 private:
  void set_line(int bit, bool on, const char* what) {
    if (fd() < 0) throw PortError(describe(), fmt::format("cannot set {}: port closed", what));
    if (::ioctl(fd(), on ? TIOCMBIS : TIOCMBIC, &bit) != 0)
      throw PortError(describe(), fmt::format("cannot set {}: {}", what, detail::errno_text(errno)));
  }

  int open_device() {
    if (sp_get_port_by_name(device_.c_str(), &port_) != SP_OK) {
      auto why = sp_error_text();
      if (int fd = open_plain_tty(); fd >= 0) return fd;
      throw PortError(device_, fmt::format("not a serial port: {}", why));
    }
    if (sp_open(port_, SP_MODE_READ_WRITE) != SP_OK) {
      // EBUSY: another open file set TIOCEXCL (we do, after our flock), so the port is held, as when
      // the flock below fails; root passes TIOCEXCL and meets the flock instead.
      int code = sp_last_error_code();
      auto why = sp_error_text();
      release();
      if (code == EBUSY) throw PortBusy(device_, detail::find_holders(device_));
      throw PortError(device_, fmt::format("cannot open: {}{}", why, detail::open_error_hint(code)));
    }
    int fd = -1;
    sp_get_port_handle(port_, &fd);
    // libserialport opens without O_CLOEXEC: simulators and host commands this run spawns would
    // otherwise inherit the board's descriptor, show up as its holders and keep its lock alive.
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    try {
      detail::lock_exclusive(fd, device_);
    } catch (...) {
      release();
      throw;
    }
    ::ioctl(fd, TIOCEXCL);
    enum sp_flowcontrol flow = settings_.flow == FlowControl::rts_cts    ? SP_FLOWCONTROL_RTSCTS
                               : settings_.flow == FlowControl::xon_xoff ? SP_FLOWCONTROL_XONXOFF
                                                                         : SP_FLOWCONTROL_NONE;
    if (sp_set_baudrate(port_, settings_.baud) != SP_OK || sp_set_bits(port_, 8) != SP_OK ||
        sp_set_parity(port_, SP_PARITY_NONE) != SP_OK || sp_set_stopbits(port_, 1) != SP_OK ||
        sp_set_flowcontrol(port_, flow) != SP_OK) {
      auto why = sp_error_text();
      release();
      throw PortError(device_, fmt::format("cannot set {} baud 8N1: {}", settings_.baud, why));
    }
    // Closing must not drop DTR: on ESP32/Arduino boards that is a reset.
    termios settings{};
    if (::tcgetattr(fd, &settings) == 0) {
      settings.c_cflag &= ~static_cast<tcflag_t>(HUPCL);
      ::tcsetattr(fd, TCSANOW, &settings);
    }
    return fd;
  }

  // libserialport knows a port by its sysfs entry; a pseudo-terminal (socat's `pty,link=...`, a test
  // playing a board) has none. Such a tty is opened here with the same lock, settings and HUPCL rule.
  // -1: not a tty (the caller reports libserialport's reason).
  int open_plain_tty() {
    int fd = ::open(device_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EBUSY) throw PortBusy(device_, detail::find_holders(device_));
      return -1;
    }
    if (::isatty(fd) == 0) {
      ::close(fd);
      return -1;
    }
    try {
      detail::lock_exclusive(fd, device_);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::ioctl(fd, TIOCEXCL);
    termios settings{};
    ::tcgetattr(fd, &settings);
    ::cfmakeraw(&settings);
    settings.c_cflag |= CLOCAL | CREAD;
    settings.c_cflag &= ~static_cast<tcflag_t>(HUPCL | CRTSCTS);
    settings.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF);
    if (settings_.flow == FlowControl::rts_cts) settings.c_cflag |= CRTSCTS;
    if (settings_.flow == FlowControl::xon_xoff) settings.c_iflag |= IXON | IXOFF;
    // glibc's cfsetspeed takes the number of bits per second as well as the B* constants.
    if (::cfsetspeed(&settings, static_cast<speed_t>(settings_.baud)) != 0 ||
        ::tcsetattr(fd, TCSANOW, &settings) != 0) {
      int error = errno;
      ::close(fd);
      throw PortError(device_,
                      fmt::format("cannot set {} baud 8N1: {}", settings_.baud, detail::errno_text(error)));
    }
    plain_fd_ = fd;
    return fd;
  }

  void release() {
    if (plain_fd_ >= 0) {
      ::close(plain_fd_);
      plain_fd_ = -1;
    }
    if (port_ != nullptr) {
      sp_close(port_);  // closes the fd that FdPort used
      sp_free_port(port_);
      port_ = nullptr;
    }
  }

  SerialSettings settings_;
  std::string device_;
  std::optional<PortInfo> usb_;
  sp_port* port_ = nullptr;
  int plain_fd_ = -1;  // a tty libserialport does not know (open_plain_tty)
};

}  // namespace

std::unique_ptr<Port> open_serial(std::string_view device_or_selector, const SerialSettings& settings) {
  return std::make_unique<SerialPort>(device_or_selector, settings);
}

fs::path resolve_device_path(const fs::path& path) {
  std::error_code ec;
  auto resolved = fs::canonical(path, ec);
  if (ec) {
    if (fs::is_symlink(fs::symlink_status(path)))
      throw PortError(path.string(),
                      fmt::format("the link points to {}, which does not exist (board unplugged?)",
                                  fs::read_symlink(path, ec).string()));
    throw PortError(path.string(), "no such device (board unplugged? see `provhil ports`)");
  }
  return resolved;
}

std::map<std::string, std::string> by_id_links(const fs::path& by_id_dir) {
  std::map<std::string, std::string> links;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(by_id_dir, ec)) {
    std::error_code resolve_ec;
    auto target = fs::canonical(entry.path(), resolve_ec);
    if (!resolve_ec) links.emplace(target.string(), entry.path().string());
  }
  return links;
}

std::vector<PortInfo> list_ports(const fs::path& by_id_dir) {
  return detail::list_ports_in("/sys/class/tty", "/dev", by_id_dir);
}

PortInfo select_usb_port(const UsbSelector& selector, const std::vector<PortInfo>& ports) {
  std::vector<PortInfo> matches;
  for (const auto& port : ports)
    if (port.vid == selector.vid && port.pid == selector.pid &&
        (selector.serial.empty() || port.serial_number == selector.serial))
      matches.push_back(port);
  if (matches.size() == 1) return matches.front();
  if (matches.empty())
    throw PortError(selector.to_string(),
                    fmt::format("no attached port matches; attached:{}", list_attached(ports)));
  throw PortError(selector.to_string(),
                  fmt::format("{} ports match: add the USB serial number (usb:VID:PID:SERIAL) or use a "
                              "/dev/serial/by-id path; matching:{}",
                              matches.size(), list_attached(matches)));
}

namespace detail {

std::vector<PortInfo> list_ports_in(const fs::path& sys_class_tty, const fs::path& dev_dir,
                                    const fs::path& by_id_dir) {
  std::vector<PortInfo> ports;
  std::error_code ec;
  if (!fs::exists(sys_class_tty, ec)) return ports;
  auto links = by_id_links(by_id_dir);
  for (const auto& entry : fs::directory_iterator(sys_class_tty, ec)) {
    const auto name = entry.path().filename().string();
    std::error_code link_ec;
    auto device = fs::canonical(entry.path() / "device", link_ec);
    if (link_ec) continue;  // virtual terminals, ptys: no device behind them
    auto driver = fs::read_symlink(device / "driver", link_ec).filename().string();
    PortInfo info;
    info.path = (dev_dir / name).string();
    if (auto link = links.find(info.path); link != links.end()) info.by_id = link->second;
    // serial8250 registers ports that do not exist; sysfs "type" 0 (PORT_UNKNOWN) says so without opening it.
    auto type = read_attribute(entry.path() / "type");
    if ((driver == "serial8250" || name.starts_with("ttyS")) && (type.empty() || type == "0")) continue;
    // Walk up to the USB device (the one with idVendor): ttyUSB -> interface -> device.
    for (auto dir = device; dir.has_relative_path() && dir != dir.root_path(); dir = dir.parent_path()) {
      if (!fs::exists(dir / "idVendor")) continue;
      info.transport = "usb";
      auto vid = read_attribute(dir / "idVendor");
      auto pid = read_attribute(dir / "idProduct");
      try {
        info.vid = static_cast<std::uint16_t>(std::stoul(vid, nullptr, 16));
        info.pid = static_cast<std::uint16_t>(std::stoul(pid, nullptr, 16));
      } catch (const std::exception&) {
        info.vid.reset();
        info.pid.reset();
      }
      info.serial_number = read_attribute(dir / "serial");
      info.manufacturer = read_attribute(dir / "manufacturer");
      info.product = read_attribute(dir / "product");
      auto bus = read_attribute(dir / "busnum");
      auto address = read_attribute(dir / "devnum");
      if (!bus.empty()) info.usb_bus = std::atoi(bus.c_str());
      if (!address.empty()) info.usb_address = std::atoi(address.c_str());
      break;
    }
    if (info.transport.empty())
      info.transport = driver.find("bluetooth") != std::string::npos ? "bluetooth" : "native";
    info.description = !info.product.empty() ? info.product : driver.empty() ? name : driver;
    ports.push_back(std::move(info));
  }
  std::sort(ports.begin(), ports.end(), [](const PortInfo& a, const PortInfo& b) { return a.path < b.path; });
  return ports;
}

}  // namespace detail

}  // namespace provhil::serial
