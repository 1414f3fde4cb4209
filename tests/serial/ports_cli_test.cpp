// `provhil ports` as a user runs it, against a sysfs-shaped tree (this machine has no USB boards).
#include <gtest/gtest.h>

#include "fake_sysfs.hpp"
#include "support/process.hpp"

namespace provhil::serial {
namespace {

struct Lab {
  test::FakeSysfs sys;
  std::filesystem::path inventory;
  Lab() {
    sys.add_usb("ttyUSB0", "pci0/usb1/1-1", "10c4", "ea60", "0001", "CP2102 USB to UART");
    sys.add_usb("ttyACM0", "pci0/usb1/1-2", "303a", "1001", "F4:12:FA", "USB JTAG/serial debug unit");
    sys.add_uart("ttyS1", "0");
    std::filesystem::create_directories(sys.dir / "by-id");
    test::write_file(sys.dir / "dev/ttyUSB0", "");
    std::filesystem::create_symlink(sys.dir / "dev/ttyUSB0",
                                    sys.dir / "by-id/usb-Silicon_Labs_CP2102_0001-if00-port0");
    inventory =
        test::write_file(sys.dir / "boards.yaml",
                         "boards:\n"
                         "  - name: devkit-a\n    port: usb:10c4:ea60:0001\n    dialect: edgent-1.2\n"
                         "  - name: devkit-s3\n    port: usb:303a:1001\n    dialect: edgent-1.2\n"
                         "  - name: devkit-gone\n    port: usb:1a86:7523:XYZ\n    dialect: edgent-1.2\n");
  }
  provhil::test::ProcessResult run(std::vector<std::string> extra) {
    std::vector<std::string> argv = {PROVHIL_BINARY,    "ports",
                                     "--inventory",     inventory.string(),
                                     "--sys-class-tty", sys.tty().string(),
                                     "--dev-dir",       (sys.dir / "dev").string(),
                                     "--by-id-dir",     (sys.dir / "by-id").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return provhil::test::run_process(argv);
  }
};

TEST(PortsCommand, TableMapsPortsToInventoryBoards) {
  Lab lab;
  auto result = lab.run({});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("10c4:ea60"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("devkit-a"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("devkit-s3"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("usb-Silicon_Labs_CP2102_0001-if00-port0"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("board devkit-gone (usb:1a86:7523:XYZ): not attached"), std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("ttyS1"), std::string::npos) << result.out;  // absent UART
}

TEST(PortsCommand, Json) {
  Lab lab;
  auto result = lab.run({"--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("\"vid_pid\": \"10c4:ea60\", \"usb_serial\": \"0001\""), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("\"board\": \"devkit-a\"}"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\"boards_not_attached\": [{\"board\": \"devkit-gone\""), std::string::npos)
      << result.out;
}

TEST(PortsCommand, BadInventoryIsUsageError) {
  Lab lab;
  auto result =
      provhil::test::run_process({PROVHIL_BINARY, "ports", "--inventory", "/nonexistent/boards.yaml"});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("/nonexistent/boards.yaml"), std::string::npos) << result.err;
}

TEST(PortsCommand, RealMachineOpensNothingAndSucceeds) {
  auto result = provhil::test::run_process({PROVHIL_BINARY, "ports", "--json", "--inventory", ""});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("\"ports\": ["), std::string::npos) << result.out;
}

}  // namespace
}  // namespace provhil::serial
