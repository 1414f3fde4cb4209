// The .deb that cpack built (fixture package.cpack): its control fields and file list as dpkg-deb reads
// them, and its binary, extracted anywhere, starting a lab project and running it from the project's
// root and from a subfolder.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/version.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace provhil::test;

const fs::path deb = PROVHIL_DEB;

std::string field(const std::string& name) {
  auto result = run_process({"dpkg-deb", "-f", deb.string(), name});
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  auto value = result.out;
  while (!value.empty() && value.back() == '\n')
    value.pop_back();
  return value;
}

TEST(Package, IsNamedAfterVersionAndArchitecture) {
  EXPECT_EQ(deb.filename().string(),
            "provhil_" + provhil::project_version() + "_" + std::string(PROVHIL_DEB_ARCH) + ".deb");
  EXPECT_TRUE(fs::is_regular_file(deb));
  EXPECT_EQ(field("Package"), "provhil");
  EXPECT_EQ(field("Version"), provhil::project_version());
  EXPECT_EQ(field("Architecture"), PROVHIL_DEB_ARCH);
  EXPECT_EQ(field("Section"), "devel");
  EXPECT_NE(field("Maintainer").find('@'), std::string::npos) << field("Maintainer");
  auto description = field("Description");
  EXPECT_NE(description.find("\n provhil drives boards"), std::string::npos) << description;
}

TEST(Package, DependsComesFromTheBinarysLibraries) {
  auto info = run_process({"dpkg-deb", "-I", deb.string()});
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  EXPECT_NE(info.out.find(" Depends: "), std::string::npos) << info.out;
  auto depends = field("Depends");
  // dpkg-shlibdeps: one entry per library package the binary links, versioned where the library's
  // symbols file says (libserialport0 has none).
  for (const char* package : {"libc6 (>= ", "libstdc++6 (>= ", "libssl3 (>= ", "libserialport0",
                              "libyaml-cpp0.7 (>= ", "libfmt9 (>= ", "libboost-json1.81.0 (>= "})
    EXPECT_NE(depends.find(package), std::string::npos) << package << " missing from: " << depends;
  // Nothing a lab runner does not need at run time.
  for (const char* package : {"-dev", "libgtest", "cmake"})
    EXPECT_EQ(depends.find(package), std::string::npos) << package << " in: " << depends;
}

TEST(Package, HoldsTheBinaryDataAndDocsUnderUsr) {
  auto listing = run_process({"dpkg-deb", "-c", deb.string()});
  ASSERT_EQ(listing.exit_code, 0) << describe(listing);
  std::set<std::string> files;
  std::set<std::string> folders;
  std::istringstream lines(listing.out);
  for (std::string line; std::getline(lines, line);) {
    // "-rwxr-xr-x root/root  123 2026-01-01 00:00 ./usr/bin/provhil"
    auto path = line.substr(line.find(" ./") + 1);
    EXPECT_TRUE(path == "./" || path.rfind("./usr/", 0) == 0) << line;
    EXPECT_NE(line.find(" root/root "), std::string::npos) << line;
    if (line[0] == '-') files.insert(path);
    if (line[0] == 'd') folders.insert(path);
    if (path == "./usr/bin/provhil") {
      EXPECT_EQ(line.substr(0, 10), "-rwxr-xr-x") << line;
    }
  }
  for (const char* file :
       {"./usr/bin/provhil", "./usr/share/provhil/dialects/edgent-1.1.yaml",
        "./usr/share/provhil/dialects/edgent-1.2.yaml", "./usr/share/provhil/dialects/edgent-state.yaml",
        "./usr/share/provhil/sim/esp32.yaml", "./usr/share/provhil/sim/esp32-stock.yaml",
        "./usr/share/provhil/sim/esp32-edgent-1.1.yaml", "./usr/share/provhil/examples/boards.yaml",
        "./usr/share/provhil/examples/scenarios/provision-ap.yaml",
        "./usr/share/provhil/examples/scenarios/stock-edgent-login.yaml", "./usr/share/doc/provhil/README.md",
        "./usr/share/doc/provhil/lab-setup.md"})
    EXPECT_EQ(files.count(file), 1u) << file << " missing from:\n" << listing.out;
  // No empty folder (e.g. for a man page or completions the build did not produce).
  for (const auto& folder : folders) {
    bool used = std::any_of(files.begin(), files.end(),
                            [&](const std::string& f) { return f.rfind(folder, 0) == 0; });
    EXPECT_TRUE(used || folder == "./") << "empty folder in the package: " << folder;
  }
  for (const auto& file : files) {
    bool known = file == "./usr/bin/provhil" || file.rfind("./usr/share/provhil/", 0) == 0 ||
                 file.rfind("./usr/share/doc/provhil/", 0) == 0 ||
                 file.rfind("./usr/share/man/man1/", 0) == 0 || file.find("completion") != std::string::npos;
    EXPECT_TRUE(known) << "unexpected file in the package: " << file;
  }
}

// The package extracted into a folder of its own, as `dpkg -i` would lay it under /.
struct Extracted {
  TempDir dir;
  fs::path provhil = dir / "root/usr/bin/provhil";
  // No home the run could write to; no data folder but the package's own.
  fs::path home = write_file(dir / "home-is-a-file", "");
  Extracted() {
    auto result = run_process({"dpkg-deb", "-x", deb.string(), (dir / "root").string()});
    if (result.exit_code != 0) throw std::runtime_error("dpkg-deb -x failed: " + result.err);
  }
  ProcessResult run(const fs::path& cwd, std::vector<std::string> args) const {
    args.insert(args.begin(), provhil.string());
    ProcessOptions options;
    options.working_dir = cwd.string();
    options.timeout = std::chrono::minutes(3);
    options.env = {
        {"HOME", home.string()}, {"XDG_STATE_HOME", ""}, {"PROVHIL_DATA_DIR", ""}, {"PROVHIL_CA_DIR", ""}};
    return run_process(args, options);
  }
};

TEST(ExtractedPackage, PrintsItsVersion) {
  Extracted pkg;
  auto version = pkg.run(pkg.dir.path(), {"--version"});
  ASSERT_EQ(version.exit_code, 0) << describe(version);
  EXPECT_EQ(version.out.rfind("provhil " + provhil::project_version(), 0), 0u) << version.out;
}

TEST(ExtractedPackage, InitThenRunPassesAndASubfolderFindsTheRoot) {
  Extracted pkg;
  fs::create_directories(pkg.dir / "lab");
  auto init = pkg.run(pkg.dir / "lab", {"init"});
  ASSERT_EQ(init.exit_code, 0) << describe(init);
  // The installed dialects and profiles serve the project: the package's, not the build tree's.
  EXPECT_NE(init.out.find((pkg.dir / "root/usr/share/provhil").string()), std::string::npos) << init.out;

  auto run = pkg.run(pkg.dir / "lab", {"run", "--sim-time-scale", "0"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_NE(run.out.find("4 passed, 0 failed, 0 errors, 0 skipped"), std::string::npos) << run.out;
  EXPECT_TRUE(fs::is_regular_file(pkg.dir / "lab/reports/results.json"));

  fs::remove_all(pkg.dir / "lab/reports");
  auto from_subfolder =
      pkg.run(pkg.dir / "lab/scenarios", {"run", "--sim-time-scale", "0", "--filter", "provision-ap"});
  ASSERT_EQ(from_subfolder.exit_code, 0) << describe(from_subfolder);
  EXPECT_NE(from_subfolder.out.find("1 passed, 0 failed"), std::string::npos) << from_subfolder.out;
  EXPECT_TRUE(fs::is_regular_file(pkg.dir / "lab/reports/junit.xml"));
  EXPECT_FALSE(fs::exists(pkg.dir / "lab/scenarios/reports"));
}

}  // namespace
