// Lab projects through the real binary: `provhil init` writes a working project and overwrites
// nothing; `run` and `validate` find the project's root from any subfolder; outside a project they say
// what to do. The build tree's binary finds its shared data in <build>/share/provhil.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace provhil::test;

ProcessResult provhil_in(const fs::path& cwd, std::vector<std::string> args) {
  args.insert(args.begin(), PROVHIL_BINARY);
  ProcessOptions options;
  options.working_dir = cwd.string();
  options.timeout = std::chrono::minutes(3);
  return run_process(args, options);
}

TEST(InitCli, WritesAProjectThatValidates) {
  TempDir dir;
  auto init = provhil_in(dir.path(), {"init", "lab"});
  ASSERT_EQ(init.exit_code, 0) << describe(init);
  for (const char* file : {"provhil.yaml", "boards.yaml", "scenarios/provision-ap.yaml",
                           "scenarios/stock-edgent-login.yaml", ".gitignore", "README.md"})
    EXPECT_TRUE(fs::is_regular_file(dir / "lab" / file)) << file << "\n" << init.out;
  // No copies of the dialects or profiles: the installed ones serve.
  EXPECT_FALSE(fs::exists(dir / "lab/dialects"));
  EXPECT_FALSE(fs::exists(dir / "lab/sim"));
  EXPECT_NE(read_file(dir / "lab/.gitignore").find("/reports/"), std::string::npos);
  // Real boards are there to copy from, commented out.
  EXPECT_NE(read_file(dir / "lab/boards.yaml").find("#   - name: devkit-a"), std::string::npos);

  auto validate = provhil_in(dir / "lab/scenarios", {"validate"});
  EXPECT_EQ(validate.exit_code, 0) << describe(validate);
  EXPECT_NE(validate.out.find("(4 scenarios, inventory ../boards.yaml)"), std::string::npos) << validate.out;
}

TEST(InitCli, RunFromASubfolderFindsTheRootAndWritesItsReports) {
  TempDir dir;
  ASSERT_EQ(provhil_in(dir.path(), {"init", "lab"}).exit_code, 0);
  fs::create_directories(dir / "lab/scenarios/notes");
  auto run = provhil_in(dir / "lab/scenarios/notes",
                        {"run", "--sim-time-scale", "0", "--filter", "provision-console", "-q"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(fs::is_regular_file(dir / "lab/reports/junit.xml")) << describe(run);
  EXPECT_FALSE(fs::exists(dir / "lab/scenarios/notes/reports"));
  EXPECT_NE(read_file(dir / "lab/reports/junit.xml").find("provision-console"), std::string::npos);
}

TEST(InitCli, OverwritesNothing) {
  TempDir dir;
  write_file(dir / "lab/boards.yaml", "# the lab's own\n");
  auto init = provhil_in(dir.path(), {"init", "lab"});
  EXPECT_EQ(init.exit_code, 2) << describe(init);
  EXPECT_NE(init.err.find("would overwrite " + (fs::path("lab") / "boards.yaml").string()), std::string::npos)
      << init.err;
  EXPECT_EQ(read_file(dir / "lab/boards.yaml"), "# the lab's own\n");
  EXPECT_FALSE(fs::exists(dir / "lab/provhil.yaml"));

  fs::remove(dir / "lab/boards.yaml");
  ASSERT_EQ(provhil_in(dir.path(), {"init", "lab"}).exit_code, 0);
  auto again = provhil_in(dir / "lab", {"init"});
  EXPECT_EQ(again.exit_code, 2) << describe(again);
  EXPECT_NE(again.err.find("is a provhil project already"), std::string::npos) << again.err;
}

TEST(ProjectCli, OutsideAProjectRunAndValidateSayWhatToDo) {
  TempDir dir;
  for (const char* command : {"run", "validate"}) {
    auto result = provhil_in(dir.path(), {command});
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_NE(result.err.find("not in a provhil project: no provhil.yaml in " + dir.path().string() +
                              " or any folder above it"),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("provhil init"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("--lab FILE"), std::string::npos) << result.err;
  }
}

TEST(ProjectCli, NamedFilesNeedNoProject) {
  TempDir dir;
  ASSERT_EQ(provhil_in(dir.path(), {"init", "lab"}).exit_code, 0);
  TempDir elsewhere;
  auto result = provhil_in(elsewhere.path(), {"validate", "--lab", (dir / "lab/boards.yaml").string(),
                                              (dir / "lab/scenarios").string()});
  EXPECT_EQ(result.exit_code, 0) << describe(result);
}

TEST(ProjectCli, AnInvalidProjectFileStopsWithItsPlace) {
  TempDir dir;
  write_file(dir / "provhil.yaml", "inventory: boards.yaml\nreport: out\n");
  auto result = provhil_in(dir.path(), {"run"});
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find((dir / "provhil.yaml").string() + ":2:1: error: unknown key 'report'"),
            std::string::npos)
      << result.err;
}

}  // namespace
