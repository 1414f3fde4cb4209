// Lab projects: the root is found from any subfolder by its provhil.yaml (as git finds .git), the
// project file's paths and errors, and the inventory's fallback to the installed dialects and profiles.
#include <gtest/gtest.h>

#include "scenario/loader.hpp"
#include "scenario/project.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace provhil::scenario {
namespace {

namespace fs = std::filesystem;

std::string all_of(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics)
    text += d.to_string() + "\n";
  return text;
}

TEST(ProjectRoot, FoundFromTheRootAndFromAnySubfolder) {
  test::TempDir dir;
  test::write_file(dir / "lab/provhil.yaml", "");
  fs::create_directories(dir / "lab/scenarios/wifi/deep");
  EXPECT_EQ(find_project_root(dir / "lab"), dir / "lab");
  EXPECT_EQ(find_project_root(dir / "lab/scenarios"), dir / "lab");
  EXPECT_EQ(find_project_root(dir / "lab/scenarios/wifi/deep/"), dir / "lab");
  EXPECT_EQ(find_project_root(dir / "lab/scenarios/wifi/deep/../.."), dir / "lab");
}

TEST(ProjectRoot, TheNearestProjectWins) {
  test::TempDir dir;
  test::write_file(dir / "outer/provhil.yaml", "");
  test::write_file(dir / "outer/inner/provhil.yaml", "");
  fs::create_directories(dir / "outer/inner/x");
  EXPECT_EQ(find_project_root(dir / "outer/inner/x"), dir / "outer/inner");
  EXPECT_EQ(find_project_root(dir / "outer"), dir / "outer");
}

TEST(ProjectRoot, NoneAboveIsNullopt) {
  test::TempDir dir;  // under /tmp: no provhil.yaml there or above
  fs::create_directories(dir / "a/b");
  EXPECT_EQ(find_project_root(dir / "a/b"), std::nullopt);
  // A folder named provhil.yaml is not the marker.
  fs::create_directories(dir / "a/provhil.yaml");
  EXPECT_EQ(find_project_root(dir / "a/b"), std::nullopt);
}

TEST(ProjectRoot, TheRepositoryIsAProject) {
  EXPECT_EQ(find_project_root(test::source_dir() / "scenarios"),
            fs::absolute(test::source_dir()).lexically_normal());
  auto project = load_project(test::source_dir());
  ASSERT_TRUE(project.ok()) << all_of(project.diagnostics);
  EXPECT_EQ(project.value->inventory, (test::source_dir() / "fixtures/boards.yaml").lexically_normal());
}

TEST(ProjectFile, DefaultsWhenEmptyAndPathsRelativeToTheRoot) {
  test::TempDir dir;
  test::write_file(dir / "provhil.yaml", "# nothing but a comment\n");
  auto empty = load_project(dir.path());
  ASSERT_TRUE(empty.ok()) << all_of(empty.diagnostics);
  EXPECT_EQ(empty.value->inventory, dir / "boards.yaml");
  EXPECT_EQ(empty.value->scenarios, std::vector<fs::path>{dir / "scenarios"});
  EXPECT_EQ(empty.value->reports, dir / "reports");

  test::write_file(dir / "provhil.yaml",
                   "inventory: lab/rack-2.yaml\nscenarios: [smoke, regress/wifi.yaml]\n"
                   "reports: ../out\n");
  auto given = load_project(dir.path());
  ASSERT_TRUE(given.ok()) << all_of(given.diagnostics);
  EXPECT_EQ(given.value->inventory, dir / "lab/rack-2.yaml");
  EXPECT_EQ(given.value->scenarios, (std::vector<fs::path>{dir / "smoke", dir / "regress/wifi.yaml"}));
  EXPECT_EQ(given.value->reports, (dir.path().parent_path() / "out").lexically_normal());
}

TEST(ProjectFile, TheDefaultTextInitWritesLoadsToTheDefaults) {
  test::TempDir dir;
  test::write_file(dir / "provhil.yaml", default_project_file_text());
  auto loaded = load_project(dir.path());
  ASSERT_TRUE(loaded.ok()) << all_of(loaded.diagnostics);
  EXPECT_EQ(loaded.value->inventory, dir / "boards.yaml");
  EXPECT_EQ(loaded.value->scenarios, std::vector<fs::path>{dir / "scenarios"});
}

TEST(ProjectFile, AnUnknownKeyIsAnErrorWithItsPlace) {
  test::TempDir dir;
  test::write_file(dir / "provhil.yaml", "inventory: boards.yaml\nscenario: [x]\nscenarios: []\n");
  auto loaded = load_project(dir.path());
  EXPECT_FALSE(loaded.ok());
  auto text = all_of(loaded.diagnostics);
  EXPECT_NE(text.find((dir / "provhil.yaml").string() + ":2:1: error:"), std::string::npos) << text;
  EXPECT_NE(text.find("did you mean 'scenarios'"), std::string::npos) << text;
  EXPECT_NE(text.find(":3:12: error: 'scenarios' is empty"), std::string::npos) << text;
}

TEST(ProjectFile, NotAMappingIsAnError) {
  test::TempDir dir;
  test::write_file(dir / "provhil.yaml", "- boards.yaml\n");
  auto loaded = load_project(dir.path());
  EXPECT_FALSE(loaded.ok());
  EXPECT_NE(all_of(loaded.diagnostics).find("the project file must be a mapping"), std::string::npos)
      << all_of(loaded.diagnostics);
}

// ---- the inventory's fallback to the installed data -------------------------------------------------

struct Installed {
  test::TempDir dir;
  Installed() {
    test::write_file(dir / "share/provhil/sim/esp32.yaml", "dialect: edgent-1.2\n");
    test::write_file(dir / "share/provhil/dialects/edgent-1.2.yaml", "dialect: edgent-1.2\n");
  }
  fs::path data() const { return dir / "share/provhil"; }
};

const char* const sim_inventory = "boards:\n  - name: sim-1\n    sim: { profile: sim/esp32.yaml }\n";

TEST(InstalledData, AProjectWithoutProfilesOrDialectsUsesTheInstalledOnes) {
  Installed installed;
  test::TempDir project;
  auto file = test::write_file(project / "boards.yaml", sim_inventory);
  InventoryOptions options;
  options.data_dir = installed.data();
  auto loaded = load_inventory(file, options);
  ASSERT_TRUE(loaded.ok()) << all_of(loaded.diagnostics);
  EXPECT_EQ(loaded.value->boards.at(0).sim_profile, installed.data() / "sim/esp32.yaml");
  EXPECT_EQ(loaded.value->dialects_dir, installed.data() / "dialects");
}

TEST(InstalledData, TheProjectsOwnFilesComeFirst) {
  Installed installed;
  test::TempDir project;
  auto file = test::write_file(project / "boards.yaml", sim_inventory);
  test::write_file(project / "sim/esp32.yaml", "dialect: edgent-1.2\n");
  fs::create_directories(project / "dialects");
  InventoryOptions options;
  options.data_dir = installed.data();
  auto loaded = load_inventory(file, options);
  ASSERT_TRUE(loaded.ok()) << all_of(loaded.diagnostics);
  EXPECT_EQ(loaded.value->boards.at(0).sim_profile, project / "sim/esp32.yaml");
  EXPECT_EQ(loaded.value->dialects_dir, project / "dialects");
}

TEST(InstalledData, ANamedDialectFolderIsNeverReplaced) {
  Installed installed;
  test::TempDir project;
  auto file = test::write_file(project / "boards.yaml", std::string(sim_inventory) + "dialects: mine\n");
  InventoryOptions options;
  options.data_dir = installed.data();
  auto loaded = load_inventory(file, options);
  ASSERT_TRUE(loaded.value);
  EXPECT_EQ(loaded.value->dialects_dir, project / "mine");
}

TEST(InstalledData, AMissingProfileNamesBothPlaces) {
  Installed installed;
  test::TempDir project;
  auto file = test::write_file(project / "boards.yaml",
                               "boards:\n  - name: sim-1\n    sim: { profile: sim/esp8266.yaml }\n");
  InventoryOptions options;
  options.data_dir = installed.data();
  auto loaded = load_inventory(file, options);
  EXPECT_FALSE(loaded.ok());
  auto text = all_of(loaded.diagnostics);
  EXPECT_NE(
      text.find(":3:21: error: simulator profile not found: " + (project / "sim/esp8266.yaml").string() +
                " (nor installed: " + (installed.data() / "sim/esp8266.yaml").string() + ")"),
      std::string::npos)
      << text;

  options.data_dir.reset();  // nothing installed: only the project's place is named
  auto alone = load_inventory(file, options);
  text = all_of(alone.diagnostics);
  EXPECT_NE(text.find("simulator profile not found: " + (project / "sim/esp8266.yaml").string() + "\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace provhil::scenario
