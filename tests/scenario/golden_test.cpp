// Golden loader errors: each broken file of corpus/ gives exactly the diagnostics of its .expected
// file (file:line:column, what was found, what was expected). PROVHIL_UPDATE_GOLDEN=1 rewrites them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "scenario/loader.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace provhil::scenario {
namespace {

// The broken .yaml files of `dir` (not its lab.yaml), sorted.
std::vector<std::filesystem::path> corpus_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".yaml" && entry.path().filename() != "lab.yaml")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string diagnostics_text(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics)
    text += d.to_string() + "\n";
  return test::replace_all(text, test::source_dir().string(), "<src>");
}

// `actual` against the file's .expected beside it (rewritten instead with PROVHIL_UPDATE_GOLDEN=1).
void expect_golden(const std::filesystem::path& file, const std::string& actual) {
  EXPECT_NE(actual.find(": error: "), std::string::npos) << "a broken file must give at least one error";
  auto expected_file = std::filesystem::path(file).replace_extension(".expected");
  if (std::getenv("PROVHIL_UPDATE_GOLDEN") != nullptr) {
    test::write_file(expected_file, actual);
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(expected_file)) << "missing " << expected_file;
  EXPECT_EQ(actual, test::read_file(expected_file));
}

std::string diagnostics_of(const std::filesystem::path& file, const Inventory& inventory,
                           const DialectSet& dialects) {
  auto label = "corpus/" + file.filename().string();
  auto loaded = parse_scenario(test::read_file(file), label);
  auto diagnostics = loaded.diagnostics;
  if (loaded.value) {
    auto more = check_scenario(*loaded.value, inventory, dialects);
    diagnostics.insert(diagnostics.end(), more.begin(), more.end());
  }
  return diagnostics_text(diagnostics);
}

TEST(ScenarioGolden, EveryBrokenFileGivesItsExpectedErrors) {
  auto inventory = load_inventory(test::corpus_dir() / "lab.yaml");
  ASSERT_TRUE(inventory.ok()) << (inventory.diagnostics.empty() ? "" : inventory.diagnostics[0].to_string());
  auto dialects = load_dialects(inventory.value->dialects_dir);
  ASSERT_TRUE(dialects.ok());
  ASSERT_EQ(check_inventory(*inventory.value, *dialects.value).size(), 0u);

  auto files = corpus_files(test::corpus_dir());
  ASSERT_GE(files.size(), 10u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    expect_golden(file, diagnostics_of(file, *inventory.value, *dialects.value));
  }
}

// Broken inventories (corpus/inventory/): port strings and reset strategies are parsed by the serial
// module and checked against each other when the inventory is loaded, each error at its value.
TEST(ScenarioGolden, EveryBrokenInventoryGivesItsExpectedErrors) {
  auto files = corpus_files(test::corpus_dir() / "inventory");
  ASSERT_GE(files.size(), 3u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    auto loaded = load_inventory(file);
    ASSERT_TRUE(loaded.value);
    expect_golden(file, diagnostics_text(loaded.diagnostics));
  }
}

// Loading goes on after the first error: a file with errors on several lines reports each line.
TEST(ScenarioGolden, ReportsAllErrorsOfAFileNotOnlyTheFirst) {
  auto loaded = parse_scenario(test::read_file(test::corpus_dir() / "unknown-step-kind.yaml"), "f.yaml");
  ASSERT_EQ(loaded.diagnostics.size(), 3u);
  EXPECT_EQ(loaded.diagnostics[0].where.line, 4);
  EXPECT_EQ(loaded.diagnostics[1].where.line, 5);
  EXPECT_EQ(loaded.diagnostics[2].where.line, 6);
  EXPECT_NE(loaded.diagnostics[0].message.find("did you mean 'expect'?"), std::string::npos);
  EXPECT_NE(loaded.diagnostics[1].message.find("did you mean 'send'?"), std::string::npos);
  EXPECT_EQ(loaded.diagnostics[2].message.find("did you mean"), std::string::npos);
  // The valid step around them is still loaded.
  ASSERT_TRUE(loaded.value);
  EXPECT_EQ(loaded.value->steps.size(), 1u);
}

}  // namespace
}  // namespace provhil::scenario
