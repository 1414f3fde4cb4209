// Each fault switch of the profile, over a real pty.
#include "common/text.hpp"
#include "sim_test_support.hpp"

namespace provhil::test {
namespace {

using namespace std::chrono_literals;

TEST_F(SimTest, FaultRebootLoop) {
  start_with(test_profile("faults: { reboot_loop: true }\n"));
  for (int i = 0; i < 3; ++i) {
    want("Brownout detector was triggered\r\n");
    want("Free mem:");
  }
  EXPECT_EQ(board_->output().find("INIT =>"), std::string::npos);
}

TEST_F(SimTest, FaultHangInConnectingCloud) {
  auto args = cloud_args();
  start_with(test_profile("faults: { hang_connecting_cloud: true }\n"), args);
  configure();
  want("CONNECTING_NET => CONNECTING_CLOUD\r\n");
  const auto after = board_->read_for(1500ms);
  EXPECT_EQ(after.find("Connecting to"), std::string::npos) << after;
  EXPECT_TRUE(server_->sni_names().empty());
  // The console still works, as on the real board.
  board_->send("config\r");
  want("CONNECTING_CLOUD => WAIT_CONFIG\r\n");
}

TEST_F(SimTest, FaultGarbageBursts) {
  start_with(test_profile("faults: { garbage_every: 100ms, garbage_bytes: 16 }\n"));
  want("AP URL:  blynk.setup\r\n");
  const auto after = board_->read_for(1000ms);
  EXPECT_FALSE(is_valid_utf8(after)) << sanitize_text(after);
  EXPECT_GE(after.size(), 4u * 18u) << sanitize_text(after);
}

TEST_F(SimTest, FaultWrongTemplateId) {
  auto args = cloud_args();
  start_with(test_profile("faults: { wrong_template_id: TMPLwrong0001 }\n"), args);
  configure();
  want("CONNECTING_CLOUD => RUNNING\r\n");
  ASSERT_EQ(server_->targets().size(), 1u);
  EXPECT_NE(server_->targets()[0].find("&templateId=TMPLwrong0001&"), std::string::npos)
      << server_->targets()[0];
}

TEST_F(SimTest, FaultNoRedirectSupport) {
  auto args = cloud_args();
  server_->on_http([](const std::string& target, const std::string&) { return HttpReply{308, {}, target}; });
  start_with(test_profile("faults: { no_redirects: true }\n", "  provision_retries: 2\n"), args);
  configure();
  want("Provision failed: HTTP 308\r\n");
  want("Provision failed: HTTP 308\r\n");
  want("CONNECTING_CLOUD => ERROR\r\n");
  EXPECT_EQ(server_->targets().size(), 2u);
  EXPECT_EQ(board_->output().find("Redirecting to"), std::string::npos);
}

TEST_F(SimTest, FaultSerialVanishes) {
  start_with(test_profile("faults: { serial_vanish_after: 500ms }\n"));
  want("INIT => WAIT_CONFIG\r\n");
  EXPECT_EQ(board_->wait_exit(10s), 0);
  board_->read_for(100ms);
  EXPECT_TRUE(board_->closed());
}

TEST_F(SimTest, FaultGuruMeditationCrash) {
  start_with(test_profile("faults: { crash_in_state: WAIT_CONFIG, crash_after: 200ms }\n"));
  want("INIT => WAIT_CONFIG\r\n");
  want("Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.\r\n");
  ASSERT_TRUE(board_->expect_regex(R"(Backtrace:( 0x[0-9a-f]{8}:0x[0-9a-f]{8})+\r\n)")) << board_->unread();
  want("Rebooting...\r\n");
  want("rst:0xc (SW_CPU_RESET)");
  want("INIT => WAIT_CONFIG\r\n");
}

}  // namespace
}  // namespace provhil::test
