#include <signal.h>

#include <gtest/gtest.h>

#include "read_helpers.hpp"
#include "serial/reset.hpp"
#include "support/temp_dir.hpp"

namespace provhil::serial {
namespace {

using namespace std::chrono_literals;

TEST(ResetParse, EveryStrategyAndItsOptions) {
  EXPECT_EQ(parse_reset_strategy("none").kind, ResetKind::none);
  auto esp32 = parse_reset_strategy("esp32-dtr-rts", {{"pulse_ms", "250"}, {"bootloader", "true"}});
  EXPECT_EQ(esp32.kind, ResetKind::esp32_dtr_rts);
  EXPECT_EQ(esp32.pulse, 250ms);
  EXPECT_TRUE(esp32.bootloader);
  EXPECT_EQ(parse_reset_strategy("dtr-pulse").pulse, 100ms);
  auto console = parse_reset_strategy("console:restart now", {{"line_ending", "lf"}});
  EXPECT_EQ(console.console_command, "restart now");
  EXPECT_EQ(console.line_ending, "\n");
  EXPECT_EQ(parse_reset_strategy("console").console_command, "reboot");
  auto command = parse_reset_strategy("command:uhubctl -l 1-1 -p '{board} x'", {{"timeout_ms", "5000"}});
  ASSERT_EQ(command.command.size(), 5U);
  EXPECT_EQ(command.command[4], "{board} x");
  EXPECT_EQ(command.command_timeout, 5000ms);
  EXPECT_EQ(parse_reset_strategy("signal").signal_number, SIGUSR1);
  EXPECT_EQ(parse_reset_strategy("signal:SIGUSR2").signal_number, SIGUSR2);
  EXPECT_EQ(parse_reset_strategy("signal:HUP").signal_number, SIGHUP);
  EXPECT_EQ(parse_reset_strategy("signal", {{"signal", "10"}}).signal_number, 10);
}

TEST(ResetParse, BadValuesSayWhatIsAccepted) {
  auto message = [](auto&& parse) -> std::string {
    try {
      parse();
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "accepted";
  };
  EXPECT_NE(message([] { parse_reset_strategy("power-cycle"); }).find("accepted: esp32-dtr-rts"),
            std::string::npos);
  EXPECT_NE(message([] { parse_reset_strategy("none:x"); }).find("takes no"), std::string::npos);
  EXPECT_NE(message([] { parse_reset_strategy("command:"); }).find("needs a program"), std::string::npos);
  EXPECT_NE(message([] { parse_reset_strategy("signal:SIGNOPE"); }).find("SIGNOPE"), std::string::npos);
  EXPECT_NE(message([] {
              parse_reset_strategy("dtr-pulse", {{"pulse_ms", "soon"}});
            }).find("soon"),
            std::string::npos);
  EXPECT_NE(message([] {
              parse_reset_strategy("dtr-pulse", {{"colour", "red"}});
            }).find("unknown"),
            std::string::npos);
}

TEST(ResetSupport, StrategiesThePortKindCannotDoAreRefusedUpFront) {
  auto esp32 = parse_reset_strategy("esp32-dtr-rts");
  EXPECT_EQ(reset_unsupported_reason(esp32, PortKind::device), "");
  EXPECT_EQ(reset_unsupported_reason(esp32, PortKind::usb), "");
  EXPECT_NE(reset_unsupported_reason(esp32, PortKind::pty).find("DTR/RTS"), std::string::npos);
  EXPECT_NE(reset_unsupported_reason(esp32, PortKind::tcp).find("tcp"), std::string::npos);
  EXPECT_NE(reset_unsupported_reason(parse_reset_strategy("dtr-pulse"), PortKind::replay), "");
  auto signal = parse_reset_strategy("signal");
  EXPECT_EQ(reset_unsupported_reason(signal, PortKind::pty), "");
  EXPECT_NE(reset_unsupported_reason(signal, PortKind::usb), "");
  EXPECT_NE(reset_unsupported_reason(parse_reset_strategy("console"), PortKind::replay), "");
  EXPECT_EQ(reset_unsupported_reason(parse_reset_strategy("console"), PortKind::tcp), "");
  EXPECT_EQ(reset_unsupported_reason(parse_reset_strategy("command:true"), PortKind::tcp), "");
  EXPECT_EQ(reset_unsupported_reason(parse_reset_strategy("none"), PortKind::replay), "");
}

std::unique_ptr<Port> spawn_sh(const std::string& script) {
  SpawnOptions options;
  options.argv = {"sh", "-c", script};
  return spawn_pty(options);
}

TEST(ResetRun, SignalReachesThePtyChild) {
  auto port = spawn_sh("trap 'echo EN-pulled' USR2; echo ready; while :; do sleep 0.05; done");
  test::read_until(*port, "ready");
  perform_reset(parse_reset_strategy("signal:USR2"), *port, "sim-1");
  EXPECT_NE(test::read_until(*port, "EN-pulled").find("EN-pulled"), std::string::npos);
}

TEST(ResetRun, ConsoleCommandIsWrittenWithItsLineEnding) {
  auto port = spawn_sh("IFS= read -r line; printf 'got[%s]\\n' \"$line\"");
  perform_reset(parse_reset_strategy("console:reboot", {{"line_ending", "lf"}}), *port, "b");
  EXPECT_NE(test::read_until(*port, "got[").find("got[reboot]"), std::string::npos);
}

TEST(ResetRun, ModemLineStrategiesFailOnAPty) {
  auto port = spawn_sh("exec sleep 30");
  EXPECT_THROW(perform_reset(parse_reset_strategy("esp32-dtr-rts"), *port, "b"), PortError);
  EXPECT_THROW(perform_reset(parse_reset_strategy("dtr-pulse"), *port, "b"), PortError);
  EXPECT_NO_THROW(perform_reset(parse_reset_strategy("none"), *port, "b"));
}

TEST(ResetRun, ExternalCommandGetsTheBoardName) {
  provhil::test::TempDir dir;
  auto out = dir / "called";
  auto strategy =
      parse_reset_strategy("command:sh -c 'echo \"$0 $PROVHIL_BOARD\" > " + out.string() + "' {board}");
  auto port = spawn_sh("exec sleep 30");
  perform_reset(strategy, *port, "devkit-a");
  EXPECT_EQ(provhil::test::read_file(out), "devkit-a devkit-a\n");
}

TEST(ResetRun, FailingCommandReportsStatusAndOutput) {
  auto strategy = parse_reset_strategy("command:sh -c 'echo hub 3 not found >&2; exit 4'");
  auto port = spawn_sh("exec sleep 30");
  try {
    perform_reset(strategy, *port, "b");
    FAIL() << "no error";
  } catch (const ResetError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("exit status 4"), std::string::npos) << what;
    EXPECT_NE(what.find("hub 3 not found"), std::string::npos) << what;
  }
}

TEST(ResetRun, HangingCommandIsKilledAtItsDeadline) {
  auto strategy = parse_reset_strategy("command:sleep 30", {{"timeout_ms", "200"}});
  auto port = spawn_sh("exec sleep 30");
  auto start = Clock::now();
  try {
    perform_reset(strategy, *port, "b");
    FAIL() << "no error";
  } catch (const ResetError& error) {
    EXPECT_NE(std::string(error.what()).find("did not finish within 200 ms"), std::string::npos)
        << error.what();
  }
  EXPECT_GE(Clock::now() - start, 200ms);
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(ResetRun, MissingProgramIsAClearError) {
  auto port = spawn_sh("exec sleep 30");
  try {
    perform_reset(parse_reset_strategy("command:/nonexistent/hubctl"), *port, "b");
    FAIL() << "no error";
  } catch (const ResetError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/hubctl"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace provhil::serial
