// State without a home: a mock run on simulated boards needs no lab CA folder (nor a writable home);
// the CA folder can be given by --ca-dir or PROVHIL_CA_DIR; an unusable one is reported with the OS's
// reason and the ways to choose another.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace provhil::test;

// A HOME that even root cannot create folders under: a regular file.
struct NoHome {
  TempDir dir;
  fs::path home = write_file(dir / "home-is-a-file", "");
  ProcessOptions options() const {
    ProcessOptions o;
    o.working_dir = PROVHIL_SOURCE_DIR;
    o.timeout = std::chrono::minutes(3);
    o.env["HOME"] = home.string();
    o.env["XDG_STATE_HOME"] = "";
    o.env["PROVHIL_CA_DIR"] = "";
    return o;
  }
  std::vector<std::string> run(std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv{
        PROVHIL_BINARY, "run",       "scenarios/provision-console.yaml", "--sim-time-scale", "0",
        "-q",           "--reports", (dir / "reports").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
};

TEST(NoHome, AMockRunOnSimulatedBoardsNeedsNoWritableHome) {
  NoHome no_home;
  auto result = run_process(no_home.run(), no_home.options());
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("1 passed, 0 failed"), std::string::npos) << result.out;
}

TEST(NoHome, AMockRunOnSimulatedBoardsNeedsNoHomeAtAll) {
  NoHome no_home;
  auto argv = no_home.run();
  argv.insert(argv.begin(), {"env", "-u", "HOME", "-u", "XDG_STATE_HOME", "-u", "PROVHIL_CA_DIR"});
  auto result = run_process(argv, no_home.options());
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("1 passed, 0 failed"), std::string::npos) << result.out;
}

TEST(NoHome, InitAndAMockRunPassAsNobody) {
  // `nobody` has the home /nonexistent and may write nowhere but /tmp and the folder it is given. It
  // gets an installed layout of its own (the repo's folders may not be open to it).
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to the nobody user (CI runs as root)";
  TempDir dir;
  fs::permissions(
      dir.path(),
      fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec,
      fs::perm_options::add);
  const fs::path source = PROVHIL_SOURCE_DIR;
  fs::create_directories(dir / "usr/bin");
  fs::copy_file(PROVHIL_BINARY, dir / "usr/bin/provhil");
  fs::create_directories(dir / "usr/share/provhil/examples");
  fs::copy(source / "fixtures/dialects", dir / "usr/share/provhil/dialects", fs::copy_options::recursive);
  fs::copy(source / "fixtures/sim", dir / "usr/share/provhil/sim", fs::copy_options::recursive);
  fs::copy(source / "fixtures/boards.yaml", dir / "usr/share/provhil/examples/boards.yaml");
  fs::copy(source / "scenarios", dir / "usr/share/provhil/examples/scenarios", fs::copy_options::recursive);
  fs::create_directories(dir / "lab");
  auto user = run_process({"id", "-u", "nobody"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  ASSERT_EQ(::chown((dir / "lab").c_str(), static_cast<uid_t>(std::stoul(user.out)), static_cast<gid_t>(-1)),
            0);

  ProcessOptions options;
  options.working_dir = (dir / "lab").string();
  options.timeout = std::chrono::minutes(3);
  auto as_nobody = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"setpriv",
                                  "--reuid=nobody",
                                  "--regid=nogroup",
                                  "--clear-groups",
                                  "env",
                                  "-u",
                                  "XDG_STATE_HOME",
                                  "-u",
                                  "PROVHIL_CA_DIR",
                                  "-u",
                                  "PROVHIL_DATA_DIR",
                                  "HOME=/nonexistent",
                                  (dir / "usr/bin/provhil").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, options);
  };
  auto init = as_nobody({"init"});
  ASSERT_EQ(init.exit_code, 0) << describe(init);
  auto run = as_nobody({"run", "--sim-time-scale", "0", "-q", "--filter", "provision-console"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(fs::is_regular_file(dir / "lab/reports/junit.xml"));
  EXPECT_FALSE(fs::exists("/nonexistent"));
}

TEST(NoHome, AnUnusableCaFolderSaysWhyAndWhichOptionsExist) {
  NoHome no_home;
  auto init = run_process({PROVHIL_BINARY, "ca", "init"}, no_home.options());
  EXPECT_EQ(init.exit_code, 3) << describe(init);
  EXPECT_NE(init.err.find(no_home.home.string() +
                          "/.local/state/provhil/ca: cannot create the folder: Not a directory"),
            std::string::npos)
      << init.err;
  EXPECT_NE(init.err.find("--ca-dir DIR or the PROVHIL_CA_DIR environment variable"), std::string::npos)
      << init.err;

  // No home at all: no default folder (never a shared one such as /tmp), and the same options.
  auto homeless = run_process(
      {"env", "-u", "HOME", "-u", "XDG_STATE_HOME", "-u", "PROVHIL_CA_DIR", PROVHIL_BINARY, "ca", "init"},
      no_home.options());
  EXPECT_EQ(homeless.exit_code, 3) << describe(homeless);
  EXPECT_NE(homeless.err.find("no lab CA folder: none of PROVHIL_CA_DIR, XDG_STATE_HOME and HOME is set"),
            std::string::npos)
      << homeless.err;
  EXPECT_NE(homeless.err.find("--ca-dir DIR or the PROVHIL_CA_DIR environment variable"), std::string::npos)
      << homeless.err;

  // Named on purpose, a CA folder is used even for simulated boards, and its failure stops the run.
  auto run = run_process(no_home.run({"--ca-dir", (no_home.home / "ca").string()}), no_home.options());
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_NE(run.err.find((no_home.home / "ca").string() + ": cannot create the folder: Not a directory"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("PROVHIL_CA_DIR"), std::string::npos) << run.err;
}

TEST(NoHome, TheEnvironmentNamesTheCaFolder) {
  NoHome no_home;
  auto options = no_home.options();
  options.env["PROVHIL_CA_DIR"] = (no_home.dir / "lab-ca").string();
  auto init = run_process({PROVHIL_BINARY, "ca", "init"}, options);
  ASSERT_EQ(init.exit_code, 0) << describe(init);
  EXPECT_TRUE(fs::is_regular_file(no_home.dir / "lab-ca/ca.der"));
  auto show = run_process({PROVHIL_BINARY, "ca", "show"}, options);
  EXPECT_EQ(show.exit_code, 0) << describe(show);
  EXPECT_NE(show.out.find((no_home.dir / "lab-ca/ca.der").string()), std::string::npos) << show.out;
  auto shown_by_flag = run_process(
      {PROVHIL_BINARY, "ca", "show", "--ca-dir", (no_home.dir / "lab-ca").string()}, no_home.options());
  EXPECT_EQ(shown_by_flag.out, show.out);

  // Named on purpose, the CA folder serves a run on simulated boards too (created there when missing).
  options.env["PROVHIL_CA_DIR"] = (no_home.dir / "run-ca").string();
  auto run = run_process(no_home.run(), options);
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(fs::is_regular_file(no_home.dir / "run-ca/ca.pem"));
}

}  // namespace
