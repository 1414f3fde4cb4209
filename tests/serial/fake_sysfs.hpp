#pragma once
// A folder tree shaped like /sys/class/tty and /sys/devices, for enumeration without hardware.
#include <filesystem>
#include <string>

#include "support/temp_dir.hpp"

namespace provhil::serial::test {

namespace fs = std::filesystem;
using provhil::test::TempDir;
using provhil::test::write_file;

struct FakeSysfs {
  TempDir dir;
  fs::path tty() const { return dir / "sys/class/tty"; }

  void add_usb(const std::string& name, const std::string& usb_dir, const std::string& vid,
               const std::string& pid, const std::string& serial, const std::string& product) {
    auto device = dir / "sys/devices" / usb_dir;
    write_file(device / "idVendor", vid + "\n");
    write_file(device / "idProduct", pid + "\n");
    if (!serial.empty()) write_file(device / "serial", serial + "\n");
    write_file(device / "manufacturer", "Silicon Labs\n");
    write_file(device / "product", product + "\n");
    write_file(device / "busnum", "1\n");
    write_file(device / "devnum", "7\n");
    auto interface = device / (usb_dir.substr(usb_dir.rfind('/') + 1) + ":1.0") / name;
    fs::create_directories(interface);
    fs::create_directories(dir / "sys/drivers/cp210x");
    fs::create_symlink(dir / "sys/drivers/cp210x", interface / "driver");
    fs::create_directories(tty() / name);
    fs::create_symlink(interface, tty() / name / "device");
  }
  void add_uart(const std::string& name, const std::string& type) {
    auto device = dir / "sys/devices/platform/serial8250" / name;
    fs::create_directories(device);
    fs::create_directories(dir / "sys/drivers/serial8250");
    fs::create_symlink(dir / "sys/drivers/serial8250", device / "driver");
    write_file(tty() / name / "type", type + "\n");
    fs::create_symlink(device, tty() / name / "device");
  }
  void add_virtual(const std::string& name) { fs::create_directories(tty() / name); }
};

}  // namespace provhil::serial::test
