// Where the binary finds its shared data: <prefix>/share/provhil beside <prefix>/bin, a build tree's
// staged copy, or $PROVHIL_DATA_DIR alone.
#include <gtest/gtest.h>

#include "common/data_dir.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using provhil::data_dir_candidates;
using provhil::find_data_dir;
using provhil::test::TempDir;

TEST(DataDir, AnInstalledBinaryLooksInItsPrefixsShareFolderFirst) {
  auto candidates = data_dir_candidates("/opt/lab/bin/provhil", std::nullopt);
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0], fs::path("/opt/lab/share/provhil"));
  EXPECT_EQ(candidates[1], fs::path("/opt/lab/bin/share/provhil"));
}

TEST(DataDir, TheEnvironmentOverrideIsTheOnlyPlaceSearched) {
  auto candidates = data_dir_candidates("/usr/bin/provhil", std::string("/srv/provhil-data"));
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0], fs::path("/srv/provhil-data"));
}

TEST(DataDir, FindsThePrefixOfAPackageExtractedAnywhere) {
  TempDir dir;
  fs::create_directories(dir / "root/usr/bin");
  fs::create_directories(dir / "root/usr/share/provhil/dialects");
  EXPECT_EQ(find_data_dir(dir / "root/usr/bin/provhil", std::nullopt), dir / "root/usr/share/provhil");
}

TEST(DataDir, FindsABuildTreesStagedCopyBesideTheBinary) {
  TempDir dir;
  fs::create_directories(dir / "build/dev/share/provhil");
  EXPECT_EQ(find_data_dir(dir / "build/dev/provhil", std::nullopt), dir / "build/dev/share/provhil");
}

TEST(DataDir, NothingInstalledIsNullopt) {
  TempDir dir;
  fs::create_directories(dir / "bin");
  EXPECT_EQ(find_data_dir(dir / "bin/provhil", std::nullopt), std::nullopt);
  // An override that does not exist is not silently replaced by the installed data.
  fs::create_directories(dir / "share/provhil");
  EXPECT_EQ(find_data_dir(dir / "bin/provhil", (dir / "missing").string()), std::nullopt);
  EXPECT_EQ(find_data_dir(dir / "bin/provhil", std::nullopt), dir / "share/provhil");
}

}  // namespace
