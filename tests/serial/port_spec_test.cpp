#include <gtest/gtest.h>

#include "serial/port.hpp"
#include "support/loopback.hpp"

namespace provhil::serial {
namespace {

TEST(PortSpec, UsbSelectorWithAndWithoutSerial) {
  auto spec = parse_port_spec("usb:10c4:EA60:0001");
  EXPECT_EQ(spec.kind, PortKind::usb);
  EXPECT_EQ(spec.usb.vid, 0x10c4);
  EXPECT_EQ(spec.usb.pid, 0xea60);
  EXPECT_EQ(spec.usb.serial, "0001");
  EXPECT_EQ(spec.usb.to_string(), "usb:10c4:ea60:0001");
  auto any = parse_port_spec("usb:303a:1001");
  EXPECT_EQ(any.usb.pid, 0x1001);
  EXPECT_TRUE(any.usb.serial.empty());
  // A serial number may itself contain colons (some adapters print MAC-like serials).
  EXPECT_EQ(parse_port_spec("usb:303a:1001:F4:12:FA").usb.serial, "F4:12:FA");
}

TEST(PortSpec, BadUsbSelectorsSayWhy) {
  for (const char* text : {"usb:", "usb:10c4", "usb:xyz:ea60", "usb:10c4:12345", "usb:10c4:ea60:"}) {
    try {
      parse_port_spec(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find("accepted:"), std::string::npos) << error.what();
    }
  }
}

TEST(PortSpec, DevicePathsAndByIdLinks) {
  auto device = parse_port_spec("/dev/ttyUSB0");
  EXPECT_EQ(device.kind, PortKind::device);
  EXPECT_EQ(device.path, "/dev/ttyUSB0");
  auto link = parse_port_spec("/dev/serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0");
  EXPECT_EQ(link.kind, PortKind::device);
  EXPECT_THROW(parse_port_spec("ttyUSB0"), std::invalid_argument);
  EXPECT_THROW(parse_port_spec(""), std::invalid_argument);
  EXPECT_THROW(parse_port_spec("ftp://host:21"), std::invalid_argument);
}

TEST(PortSpec, TcpAndRfc2217) {
  auto tcp = parse_port_spec("tcp://lab-host-3:3001");
  EXPECT_EQ(tcp.kind, PortKind::tcp);
  EXPECT_EQ(tcp.host, "lab-host-3");
  EXPECT_EQ(tcp.tcp_port, 3001);
  auto v6 = parse_port_spec("tcp://[::1]:4000");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.tcp_port, 4000);
  EXPECT_EQ(parse_port_spec("rfc2217://10.0.0.5:2217").kind, PortKind::rfc2217);
  for (const char* text :
       {"tcp://host", "tcp://:4000", "tcp://host:0", "tcp://host:70000", "tcp://host:12ab"})
    EXPECT_THROW(parse_port_spec(text), std::invalid_argument) << text;
}

TEST(PortSpec, PtyCommandSplitsWithQuotes) {
  auto spec = parse_port_spec("pty:provhil sim --profile 'esp32 s3' \"two words\"");
  EXPECT_EQ(spec.kind, PortKind::pty);
  ASSERT_EQ(spec.argv.size(), 5U);
  EXPECT_EQ(spec.argv[0], "provhil");
  EXPECT_EQ(spec.argv[3], "esp32 s3");
  EXPECT_EQ(spec.argv[4], "two words");
  EXPECT_THROW(parse_port_spec("pty:"), std::invalid_argument);
  EXPECT_THROW(parse_port_spec("pty:sh -c 'unterminated"), std::invalid_argument);
}

TEST(PortSpec, ReplayWithPacing) {
  auto fast = parse_port_spec("replay:logs/board.log");
  EXPECT_EQ(fast.kind, PortKind::replay);
  EXPECT_EQ(fast.path, "logs/board.log");
  EXPECT_EQ(fast.pacing, ReplayPacing::fast);
  auto original = parse_port_spec("replay:/tmp/x.log?pacing=original");
  EXPECT_EQ(original.path, "/tmp/x.log");
  EXPECT_EQ(original.pacing, ReplayPacing::original);
  EXPECT_THROW(parse_port_spec("replay:/tmp/x.log?pacing=slow"), std::invalid_argument);
  EXPECT_THROW(parse_port_spec("replay:"), std::invalid_argument);
}

TEST(PortSpec, FlowControl) {
  EXPECT_EQ(parse_flow_control("none"), FlowControl::none);
  EXPECT_EQ(parse_flow_control("rtscts"), FlowControl::rts_cts);
  EXPECT_EQ(parse_flow_control("software"), FlowControl::xon_xoff);
  EXPECT_THROW(parse_flow_control("dsrdtr"), std::invalid_argument);
}

TEST(PortSpec, Rfc2217OpensARemotePortAndNamesItWhenItCannot) {
  // The backend exists now (tests/serial/rfc2217_test.cpp); nothing listens here: a connect error
  // naming the URL, not "not supported".
  std::uint16_t unused = 0;
  {
    test::LoopbackListener listener;
    unused = listener.port;
  }
  auto url = "rfc2217://127.0.0.1:" + std::to_string(unused);
  try {
    open_port(parse_port_spec(url));
    FAIL() << "rfc2217 opened";
  } catch (const PortError& error) {
    EXPECT_NE(std::string(error.what()).find(url), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("refused"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace provhil::serial
