// The real provhil binary, run as a child process: help, version, usage errors and exit codes.
#include <gtest/gtest.h>

#include "common/version.hpp"
#include "support/process.hpp"

namespace {

using provhil::test::run_process;

TEST(Cli, HelpListsEverySubcommandAndExitsZero) {
  auto result = run_process({PROVHIL_BINARY, "--help"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const char* sub : {"run", "validate", "ports", "intercept", "sim", "ca"}) {
    EXPECT_NE(result.out.find(sub), std::string::npos) << "help does not mention " << sub << ":\n"
                                                       << result.out;
  }
  EXPECT_NE(result.out.find("Exit codes"), std::string::npos) << result.out;
}

TEST(Cli, VersionPrintsTheProjectVersion) {
  auto result = run_process({PROVHIL_BINARY, "--version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("provhil " + provhil::project_version()), std::string::npos) << result.out;
  EXPECT_EQ(result.out, "provhil " + provhil::full_version() + "\n");
}

TEST(Cli, NoSubcommandIsAUsageError) {
  auto result = run_process({PROVHIL_BINARY});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("subcommand"), std::string::npos) << result.err;
}

TEST(Cli, UnknownSubcommandIsAUsageError) {
  auto result = run_process({PROVHIL_BINARY, "frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("frobnicate"), std::string::npos) << result.err;
}

TEST(Cli, UnknownOptionIsAUsageError) {
  auto result = run_process({PROVHIL_BINARY, "--no-such-option"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no-such-option"), std::string::npos) << result.err;
}

TEST(Cli, SubcommandHelpExitsZero) {
  auto result = run_process({PROVHIL_BINARY, "validate", "--help"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("validate"), std::string::npos) << result.out;
}

}  // namespace
