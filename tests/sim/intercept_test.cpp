// The simulated board against the real interceptor (module intercept): the documented provision call
// passes its checks and the Blynk login follows, exactly as the runner will use them together.
#include "intercept/interceptor.hpp"
#include "sim_test_support.hpp"

namespace provhil::test {
namespace {

using namespace std::chrono_literals;
namespace ic = provhil::intercept;

TEST_F(SimTest, ProvisionsThroughTheInterceptor) {
  ic::InterceptorConfig config;
  config.ca_dir = dir_ / "lab-ca";
  ic::Interceptor interceptor(config);

  ic::ProvisionExpectation provision;
  provision.token = kToken;
  provision.owner = "sim-test";
  provision.query = {ic::ValueCheck::equals("templateId", "TMPL8sRFwcfqL"),
                     ic::ValueCheck::equals("build", "Oct  1 2023 12:00:00"),
                     ic::ValueCheck::matches("ver", R"(\d+\.\d+\.\d+)"),
                     ic::ValueCheck::one_of("type", {"MCU", "NCP"}),
                     ic::ValueCheck::equals("fwType", "TMPL8sRFwcfqL"),
                     ic::ValueCheck::equals("blVer", "1.2.0"),
                     ic::ValueCheck::equals("boType", "ESP32")};
  provision.answers = {ic::Answer::ok()};
  const auto provision_id = interceptor.expect_provision(provision);
  ic::LoginExpectation login;
  login.token = kToken;
  login.owner = "sim-test";
  login.count = ic::CountRule::at_least_n(1);
  login.info = {ic::ValueCheck::equals("tmpl", "TMPL8sRFwcfqL"), ic::ValueCheck::equals("fw", "0.1.0")};
  const auto login_id = interceptor.expect_login(login);

  // From an address of its own, as the runner starts each simulated board.
  start_with(test_profile(), {"--ca", interceptor.ca_certificate_path().string(), "--resolve",
                              "blynk.cloud:443=127.0.0.1:" + std::to_string(interceptor.port()),
                              "--source-address", "127.77.0.9"});
  configure();
  want("Certificate OK\r\n");
  want("CONNECTING_CLOUD => RUNNING\r\n");

  const auto deadline = std::chrono::steady_clock::now() + 15s;
  const auto provisioned = interceptor.wait(provision_id, deadline);
  EXPECT_TRUE(provisioned.passed()) << provisioned.summary;
  ASSERT_EQ(provisioned.exchanges.size(), 1u);
  EXPECT_EQ(provisioned.exchanges[0].sni, "blynk.cloud");
  EXPECT_EQ(provisioned.exchanges[0].client.rfind("127.77.0.9:", 0), 0u) << provisioned.exchanges[0].client;
  const auto logged_in = interceptor.wait(login_id, deadline);
  EXPECT_TRUE(logged_in.passed()) << logged_in.summary;
}

}  // namespace
}  // namespace provhil::test
