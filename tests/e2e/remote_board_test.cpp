// A board on another host, end to end: a simulated board (`provhil sim`) on a pty that socat makes, Debian's
// ser2net serving that pty over RFC 2217 with the configuration docs/remote-boards.md gives a lab, and
// `provhil run` driving a shipped scenario through rfc2217://127.0.0.1:PORT.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "common/process.hpp"
#include "support/process.hpp"
#include "support/ser2net.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using provhil::test::read_file;
using provhil::test::TempDir;
using provhil::test::write_file;

const fs::path source_dir = PROVHIL_SOURCE_DIR;

std::string find_socat() {
  for (const char* path : {"/usr/bin/socat", "/bin/socat"})
    if (fs::exists(path)) return path;
  return {};
}

TEST(RemoteBoard, AShippedScenarioPassesOnASimulatedBoardBehindSer2netRfc2217) {
  auto socat = find_socat();
  ASSERT_FALSE(socat.empty()) << "socat is not installed: apt-get install socat (scripts/setup.sh does)";
  ASSERT_FALSE(provhil::test::find_ser2net().empty())
      << "ser2net is not installed: apt-get install ser2net (scripts/setup.sh does)";
  TempDir dir;
  auto ca = provhil::test::run_process({PROVHIL_BINARY, "ca", "init", "--ca-dir", (dir / "ca").string()});
  ASSERT_EQ(ca.exit_code, 0) << ca.out << ca.err;

  // The board: the simulator, its cloud (blynk.cloud:443) sent to the run's interceptor on a port chosen
  // here, on the pty socat gives it; socat's other side is a pty too, linked at DIR/board for ser2net.
  auto interceptor_port = provhil::test::free_loopback_port();
  auto board_script = write_file(
      dir / "board.sh",
      "#!/bin/sh\nexec " + std::string(PROVHIL_BINARY) + " sim --profile " +
          (source_dir / "fixtures/sim/esp32.yaml").string() + " --state " + (dir / "flash.json").string() +
          " --ca " + (dir / "ca/ca.pem").string() +
          " --time-scale 0 --resolve blynk.cloud:443=127.0.0.1:" + std::to_string(interceptor_port) + "\n");
  fs::permissions(board_script, fs::perms::owner_all);
  provhil::ProcessOptions board_options;
  board_options.argv = {socat, "PTY,link=" + (dir / "board").string() + ",raw,echo=0",
                        "EXEC:" + board_script.string() + ",pty,raw,echo=0,setsid,ctty"};
  provhil::Child board(board_options);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!fs::exists(dir / "board") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(fs::exists(dir / "board")) << "socat made no pty";

  auto ser2net_port = provhil::test::free_loopback_port();
  provhil::test::Ser2net ser2net(dir.path(),
                                 provhil::test::ser2net_config((dir / "board").string(), ser2net_port));
  ASSERT_TRUE(provhil::test::wait_until_listening(ser2net_port, 20s));

  auto inventory = write_file(
      dir / "lab.yaml",
      "boards:\n"
      "  - name: remote-1\n"
      "    port: rfc2217://127.0.0.1:" +
          std::to_string(ser2net_port) +
          "\n"
          "    reset: console           # ser2net cannot move a pty's modem lines: the firmware's reboot\n"
          "    dialect: edgent-1.2\n"
          "    tags: [provision-call]\n"
          "lab:\n"
          "  wifi: { ssid: LabNet, pass: labpass123 }\n"
          "interceptor: { listen: \"127.0.0.1:" +
          std::to_string(interceptor_port) +
          "\", advertise: 127.0.0.1, "
          "mode: mock, upstream: https://blynk.cloud }\n"
          "dialects: " +
          (source_dir / "fixtures" / "dialects").string() + "\n");
  auto reports = dir / "reports";
  provhil::test::ProcessOptions run_options;
  run_options.timeout = 100s;
  auto run = provhil::test::run_process(
      {PROVHIL_BINARY, "run", "--lab", inventory.string(), "--ca-dir", (dir / "ca").string(), "--reports",
       reports.string(), (source_dir / "scenarios/provision-console.yaml").string()},
      run_options);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto results = boost::json::parse(read_file(reports / "results.json")).as_object();
  auto cases = results.at("cases").as_array();
  ASSERT_EQ(cases.size(), 1U);
  EXPECT_EQ(cases[0].at("outcome").as_string(), "passed") << boost::json::serialize(cases[0]);
  // The board was reached through ser2net: the serial log holds what the simulator printed.
  EXPECT_NE(run.out.find("remote-1"), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find("error"), std::string::npos) << run.err;
  board.terminate(2s);
}

}  // namespace
