// Profile loading: the fixtures that ship, and errors that say file:line:col and why.
#include <gtest/gtest.h>

#include "sim/profile.hpp"
#include "sim/simulator.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace provhil::test {
namespace {

using provhil::sim::load_profile;
using provhil::sim::ProfileError;

const std::filesystem::path kFixtures = std::filesystem::path(PROVHIL_SOURCE_DIR) / "fixtures/sim";

TEST(SimProfile, ShippedProfilesLoad) {
  const auto esp32 = load_profile(kFixtures / "esp32.yaml");
  EXPECT_EQ(esp32.dialect, sim::Dialect::edgent_1_2);
  EXPECT_TRUE(esp32.provision_call);
  const auto lab = std::find_if(esp32.networks.begin(), esp32.networks.end(),
                                [](const auto& n) { return n.ssid == "LabNet"; });
  ASSERT_NE(lab, esp32.networks.end());
  EXPECT_EQ(lab->password, "labpass123");
  EXPECT_GE(esp32.networks.size(), 4u);
  EXPECT_EQ(load_profile(kFixtures / "esp32-edgent-1.1.yaml").dialect, sim::Dialect::edgent_1_1);
  EXPECT_FALSE(load_profile(kFixtures / "esp32-stock.yaml").provision_call);
}

std::string error_of(const std::string& yaml) {
  TempDir dir;
  const auto path = write_file(dir / "bad.yaml", yaml);
  try {
    load_profile(path);
  } catch (const ProfileError& e) {
    std::string what = e.what();
    const auto at = what.find("bad.yaml");
    return at == std::string::npos ? what : what.substr(at);
  }
  return "(no error)";
}

TEST(SimProfile, ErrorsSayWhereAndWhy) {
  EXPECT_EQ(error_of("dialect: edgent-9\n"),
            "bad.yaml:1:10: unknown dialect 'edgent-9' (known: edgent-1.1, edgent-1.2, edgent-esp-idf)");
  EXPECT_EQ(error_of("board:\n  typo: 1\n"),
            "bad.yaml:2:3: unknown key 'typo' in board (known: chip_rev, cpu_mhz, flash_kb, free_mem, mac, "
            "sdk, type)");
  EXPECT_EQ(error_of("cloud:\n  heartbeat: soon\n"),
            "bad.yaml:2:14: 'cloud.heartbeat' must be a duration like 500ms, 2s or 1m, not 'soon'");
  EXPECT_EQ(error_of("wifi:\n  networks:\n    - { pass: x }\n"),
            "bad.yaml:3:7: 'wifi.networks[0]' needs an ssid");
  EXPECT_EQ(error_of("firmware: { template_id: ABC }\n"),
            "bad.yaml:1:26: 'firmware.template_id' must start with TMPL");
  EXPECT_EQ(error_of("faults: { reboot_loop: maybe }\n"),
            "bad.yaml:1:24: 'faults.reboot_loop' must be true or false, not 'maybe'");
  EXPECT_NE(error_of("board: [unclosed\n").find("bad.yaml:2:"), std::string::npos)
      << error_of("board: [unclosed\n");
}

TEST(SimProfile, ResolveEntriesParse) {
  std::string error;
  const auto e = sim::parse_resolve("blynk.cloud:443=127.0.0.1:8443", error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "blynk.cloud");
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->address, "127.0.0.1");
  EXPECT_EQ(e->address_port, 8443);
  EXPECT_FALSE(sim::parse_resolve("blynk.cloud=127.0.0.1:1", error));
  EXPECT_EQ(error, "--resolve 'blynk.cloud=127.0.0.1:1': 'blynk.cloud' must be NAME:PORT");
  EXPECT_FALSE(sim::parse_resolve("a:1=b:99999", error));
}

TEST(SimProfile, InvalidProfileExitsWithUsageAndSaysWhere) {
  TempDir dir;
  const auto path = write_file(dir / "bad.yaml", "time_scale: fast\n");
  const auto r = run_process({SIM_CHILD_BINARY, "--profile", path.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.yaml:1:13: 'time_scale' must be a number >= 0, not 'fast'"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace provhil::test
