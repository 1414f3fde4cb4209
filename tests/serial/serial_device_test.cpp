// libserialport backend without hardware: enumeration over a sysfs-shaped tree, selectors, by-id links,
// open errors, the exclusive lock. Nothing here opens a real UART (never /dev/ttyS0: it is the console).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "fake_sysfs.hpp"
#include "serial/detail/fd_port.hpp"
#include "serial/port.hpp"
#include "support/temp_dir.hpp"

namespace provhil::serial {
namespace {

namespace fs = std::filesystem;
using provhil::test::TempDir;
using provhil::test::write_file;
using test::FakeSysfs;

TEST(SerialEnumeration, ListsUsbAndRealUartsSkipsVirtualAndAbsentOnes) {
  FakeSysfs sys;
  sys.add_usb("ttyUSB0", "pci0/usb1/1-1", "10c4", "ea60", "0001", "CP2102 USB to UART");
  sys.add_usb("ttyACM0", "pci0/usb1/1-2", "303a", "1001", "F4:12:FA:00:11:22", "USB JTAG/serial debug unit");
  sys.add_uart("ttyS0", "4");  // a real 16550A
  sys.add_uart("ttyS1", "0");  // PORT_UNKNOWN: registered by the driver but absent
  sys.add_virtual("tty0");
  fs::create_directories(sys.dir / "dev");
  write_file(sys.dir / "dev/ttyUSB0", "");
  fs::create_directories(sys.dir / "by-id");
  fs::create_symlink(sys.dir / "dev/ttyUSB0", sys.dir / "by-id/usb-Silicon_Labs_CP2102_0001-if00-port0");

  auto ports = detail::list_ports_in(sys.tty(), sys.dir / "dev", sys.dir / "by-id");
  ASSERT_EQ(ports.size(), 3U);
  EXPECT_EQ(ports[0].path, (sys.dir / "dev/ttyACM0").string());
  EXPECT_EQ(ports[0].vid, 0x303a);
  EXPECT_EQ(ports[0].serial_number, "F4:12:FA:00:11:22");
  EXPECT_EQ(ports[1].path, (sys.dir / "dev/ttyS0").string());
  EXPECT_EQ(ports[1].transport, "native");
  EXPECT_FALSE(ports[1].vid.has_value());
  const auto& usb = ports[2];
  EXPECT_EQ(usb.transport, "usb");
  EXPECT_EQ(usb.vid, 0x10c4);
  EXPECT_EQ(usb.pid, 0xea60);
  EXPECT_EQ(usb.serial_number, "0001");
  EXPECT_EQ(usb.manufacturer, "Silicon Labs");
  EXPECT_EQ(usb.product, "CP2102 USB to UART");
  EXPECT_EQ(usb.usb_bus, 1);
  EXPECT_EQ(usb.usb_address, 7);
  EXPECT_EQ(usb.by_id, (sys.dir / "by-id/usb-Silicon_Labs_CP2102_0001-if00-port0").string());
}

TEST(SerialEnumeration, RealMachineEnumeratesWithoutOpening) {
  // Reads sysfs only; on this machine at least it must not throw. (sp_list_ports would open ttyS*.)
  auto ports = list_ports();
  for (const auto& port : ports)
    EXPECT_FALSE(port.path.empty());
}

std::vector<PortInfo> attached() {
  std::vector<PortInfo> ports(3);
  ports[0].path = "/dev/ttyUSB0";
  ports[0].vid = 0x10c4;
  ports[0].pid = 0xea60;
  ports[0].serial_number = "0001";
  ports[1].path = "/dev/ttyUSB1";
  ports[1].vid = 0x10c4;
  ports[1].pid = 0xea60;
  ports[1].serial_number = "0002";
  ports[2].path = "/dev/ttyUSB2";
  ports[2].vid = 0x1a86;
  ports[2].pid = 0x7523;  // CH340: no serial number
  return ports;
}

TEST(UsbSelector, PicksTheOneThatMatches) {
  EXPECT_EQ(select_usb_port({0x10c4, 0xea60, "0002"}, attached()).path, "/dev/ttyUSB1");
  EXPECT_EQ(select_usb_port({0x1a86, 0x7523, ""}, attached()).path, "/dev/ttyUSB2");
}

TEST(UsbSelector, AmbiguousListsTheCandidates) {
  try {
    select_usb_port({0x10c4, 0xea60, ""}, attached());
    FAIL() << "ambiguous selector accepted";
  } catch (const PortError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("2 ports match"), std::string::npos) << what;
    EXPECT_NE(what.find("/dev/ttyUSB0"), std::string::npos) << what;
    EXPECT_NE(what.find("/dev/ttyUSB1"), std::string::npos) << what;
    EXPECT_NE(what.find("usb:10c4:ea60"), std::string::npos) << what;
  }
}

TEST(UsbSelector, MissingListsWhatIsAttached) {
  try {
    select_usb_port({0x10c4, 0xea60, "0009"}, attached());
    FAIL() << "missing board accepted";
  } catch (const PortError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("no attached port matches"), std::string::npos) << what;
    EXPECT_NE(what.find("/dev/ttyUSB2  usb:1a86:7523"), std::string::npos) << what;
  }
  try {
    select_usb_port({0x10c4, 0xea60, ""}, {});
    FAIL() << "nothing attached";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("no serial ports attached"), std::string::npos) << error.what();
  }
}

TEST(ByIdLinks, ResolvedThroughChainsOfLinks) {
  TempDir dir;
  auto device = write_file(dir / "dev/ttyUSB3", "");
  fs::create_directories(dir / "by-id");
  fs::create_symlink("../dev/ttyUSB3", dir / "by-id/usb-FTDI_FT232R_A1B2C3-if00-port0");
  fs::create_symlink(dir / "by-id/usb-FTDI_FT232R_A1B2C3-if00-port0", dir / "board-a");
  EXPECT_EQ(resolve_device_path(dir / "board-a"), fs::canonical(device));
  auto links = by_id_links(dir / "by-id");
  ASSERT_EQ(links.size(), 1U);
  EXPECT_EQ(links.begin()->first, fs::canonical(device).string());
  EXPECT_TRUE(by_id_links(dir / "no-such-dir").empty());
}

TEST(ByIdLinks, DanglingLinkSaysTheBoardIsUnplugged) {
  TempDir dir;
  fs::create_symlink(dir / "dev/ttyUSB9", dir / "usb-gone-if00-port0");
  try {
    open_serial((dir / "usb-gone-if00-port0").string());
    FAIL() << "opened a dangling link";
  } catch (const PortError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("ttyUSB9"), std::string::npos) << what;
    EXPECT_NE(what.find("does not exist"), std::string::npos) << what;
  }
}

TEST(SerialOpen, MissingDeviceIsAClearError) {
  try {
    open_serial("/dev/ttyUSB-provhil-none");
    FAIL() << "opened";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("/dev/ttyUSB-provhil-none: no such device"), std::string::npos)
        << error.what();
  }
}

TEST(SerialOpen, AFileThatIsNoSerialPortIsRefused) {
  TempDir dir;
  auto file = write_file(dir / "not-a-tty", "x");
  try {
    open_serial(file.string());
    FAIL() << "opened a regular file";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("not a serial port"), std::string::npos) << error.what();
  }
}

TEST(SerialOpen, UsbSelectorWithNothingAttachedListsPorts) {
  try {
    open_serial("usb:dead:beef:0001");
    FAIL() << "opened";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find("usb:dead:beef:0001: no attached port matches"),
              std::string::npos)
        << error.what();
  }
}

TEST(SerialLock, SecondOpenIsBusyAndNamesTheHolder) {
  TempDir dir;
  auto file = write_file(dir / "ttyFAKE", "");
  int first = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
  int second = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  detail::lock_exclusive(first, file.string());
  try {
    detail::lock_exclusive(second, file.string());
    FAIL() << "locked twice";
  } catch (const PortError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("busy: held by pid " + std::to_string(::getpid())), std::string::npos) << what;
  }
  ::close(first);
  EXPECT_NO_THROW(detail::lock_exclusive(second, file.string()));  // released with its holder
  ::close(second);
}

TEST(SerialLock, BusyNamesTheOtherProcessNeverTheOneWaiting) {
  // Issue 14: a run that found its board held listed itself among the holders.
  TempDir dir;
  auto file = write_file(dir / "ttyFAKE", "");
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Async-signal-safe calls only: open, lock, tell the parent, wait to be killed.
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) ::_exit(1);
    char byte = 'r';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    for (;;)
      ::pause();
  }
  // Killed however the test ends (a failed ASSERT returns early): it must not outlive the test.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } reaper{child};
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);

  int mine = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(mine, 0);
  try {
    detail::lock_exclusive(mine, file.string());
    ADD_FAILURE() << "locked a port another process holds";
  } catch (const PortBusy& busy) {
    ASSERT_EQ(busy.holders().size(), 1U) << busy.what();
    EXPECT_EQ(busy.holders()[0].pid, child);
    std::string what = busy.what();
    EXPECT_NE(what.find("busy: held by pid " + std::to_string(child)), std::string::npos) << what;
    EXPECT_EQ(what.find("pid " + std::to_string(::getpid())), std::string::npos) << what;
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  reaper.pid = -1;
  EXPECT_NO_THROW(detail::lock_exclusive(mine, file.string()));  // free once its holder is gone
  ::close(mine);
}

}  // namespace
}  // namespace provhil::serial

namespace {

// Root opens anything, so the EACCES path cannot be provoked here: the hint itself is checked.
TEST(OpenErrors, PermissionDeniedNamesTheDialoutGroupOtherErrorsNothing) {
  auto hint = provhil::serial::detail::open_error_hint(EACCES);
  EXPECT_NE(hint.find("dialout"), std::string::npos) << hint;
  EXPECT_NE(hint.find("usermod -aG dialout"), std::string::npos) << hint;
  EXPECT_EQ(provhil::serial::detail::open_error_hint(ENOENT), "");
  EXPECT_EQ(provhil::serial::detail::open_error_hint(EBUSY), "");
}

}  // namespace
