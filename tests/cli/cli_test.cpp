// The real provhil binary, run as a child process: help, version, usage errors and exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/version.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using provhil::test::run_process;
namespace fs = std::filesystem;
const fs::path source_dir = PROVHIL_SOURCE_DIR;

// `provhil run` of a scenario no board can run: it prints a SKIP line (coloured when colour is on)
// and exits 4 (nothing ran) without touching a board. `tty`: on a real pseudo-terminal.
provhil::test::ProcessResult skip_run(bool tty, std::map<std::string, std::string> env,
                                      std::vector<std::string> extra = {}) {
  provhil::test::TempDir reports;
  std::vector<std::string> argv;
  if (tty) argv = {"/usr/bin/python3", (source_dir / "tests" / "cli" / "tty_run.py").string()};
  argv.insert(argv.end(),
              {PROVHIL_BINARY, "run", "tests/e2e/junit/no-board.yaml", "--reports", reports.path().string()});
  argv.insert(argv.end(), extra.begin(), extra.end());
  provhil::test::ProcessOptions options;
  options.working_dir = source_dir.string();
  env.emplace("NO_COLOR", "");
  env.emplace("FORCE_COLOR", "");
  env.emplace("TERM", "xterm-256color");
  options.env = std::move(env);
  return run_process(argv, options);
}

bool has_escape(const std::string& text) {
  return text.find("\x1b[") != std::string::npos;
}

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

TEST(Color, ATerminalGetsColourAPipeDoesNot) {
  auto on_tty = skip_run(true, {});
  EXPECT_EQ(on_tty.exit_code, 4) << on_tty.out << on_tty.err;
  EXPECT_TRUE(has_escape(on_tty.out)) << on_tty.out;
  auto piped = skip_run(false, {});
  EXPECT_EQ(piped.exit_code, 4) << piped.err;
  EXPECT_NE(piped.out.find("SKIP"), std::string::npos) << piped.out;
  EXPECT_FALSE(has_escape(piped.out)) << piped.out;
}

TEST(Color, TermDumbAndNoColorTurnItOffOnATerminal) {
  auto dumb = skip_run(true, {{"TERM", "dumb"}});
  EXPECT_NE(dumb.out.find("SKIP"), std::string::npos) << dumb.out;
  EXPECT_FALSE(has_escape(dumb.out)) << dumb.out;
  auto no_color = skip_run(true, {{"NO_COLOR", "1"}});
  EXPECT_NE(no_color.out.find("SKIP"), std::string::npos) << no_color.out;
  EXPECT_FALSE(has_escape(no_color.out)) << no_color.out;
}

TEST(Color, ForceColorAndTheFlagWin) {
  EXPECT_TRUE(has_escape(skip_run(false, {{"FORCE_COLOR", "1"}}).out));
  EXPECT_TRUE(has_escape(skip_run(false, {}, {"--color", "always"}).out));
  EXPECT_FALSE(has_escape(skip_run(true, {{"FORCE_COLOR", "1"}}, {"--color", "never"}).out));
  auto bad = run_process({PROVHIL_BINARY, "run", "--color", "sometimes"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST(Cli, UnknownOptionGetsTheClosestOne) {
  auto result = run_process({PROVHIL_BINARY, "run", "--retires", "1", "--list"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("did you mean --retries?"), std::string::npos) << result.err;
  auto lab = run_process({PROVHIL_BINARY, "ports", "--inventroy", "x.yaml"});
  EXPECT_EQ(lab.exit_code, 2);
  EXPECT_NE(lab.err.find("did you mean --inventory?"), std::string::npos) << lab.err;
  // Case and an unambiguous start are forgiven the same way scenario keys are.
  auto upper = run_process({PROVHIL_BINARY, "run", "--RETRIES", "1", "--list"});
  EXPECT_NE(upper.err.find("did you mean --retries?"), std::string::npos) << upper.err;
}

TEST(Cli, OneInventoryFlagEverywhereAndTheOldSpellingStillWorks) {
  provhil::test::ProcessOptions options;
  options.working_dir = source_dir.string();
  for (const char* flag : {"--inventory", "--lab"}) {
    auto result = run_process({PROVHIL_BINARY, "run", flag, "fixtures/boards.yaml", "--list"}, options);
    EXPECT_EQ(result.exit_code, 0) << flag << ": " << result.err;
  }
  auto help = run_process({PROVHIL_BINARY, "ports", "--help"});
  EXPECT_NE(help.out.find("--inventory"), std::string::npos) << help.out;
}

TEST(Cli, OutOfRangeValuesAreRefused) {
  auto result = run_process({PROVHIL_BINARY, "run", "--sim-time-scale", "-1", "--list"});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.err.find("sim-time-scale"), std::string::npos) << result.err;
}

TEST(Cli, EverySubcommandHelpHasExamples) {
  for (const char* sub :
       {"init", "run", "validate", "ports", "intercept", "sim", "ca", "report", "completion"}) {
    auto result = run_process({PROVHIL_BINARY, sub, "--help"});
    EXPECT_EQ(result.exit_code, 0) << sub;
    EXPECT_NE(result.out.find("Examples:"), std::string::npos) << sub << ":\n" << result.out;
  }
}

TEST(Completion, BashCompletesSubcommandsAndOptionsFromTheDefinitions) {
  auto script = run_process({PROVHIL_BINARY, "completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  auto complete = [&](const std::string& words, int cword) {
    std::string program = "source " + std::string(PROVHIL_COMPLETION_BASH) + "\nCOMP_WORDS=(" + words +
                          ")\nCOMP_CWORD=" + std::to_string(cword) + "\n_provhil\necho \"${COMPREPLY[*]}\"\n";
    return run_process({"bash", "--norc", "-c", program});
  };
  auto subs = complete("provhil r", 1);
  EXPECT_EQ(subs.exit_code, 0) << subs.err;
  EXPECT_NE(subs.out.find("run"), std::string::npos) << subs.out;
  EXPECT_NE(subs.out.find("report"), std::string::npos) << subs.out;
  auto options = complete("provhil run --re", 2);
  EXPECT_NE(options.out.find("--retries"), std::string::npos) << options.out;
  EXPECT_NE(options.out.find("--reports"), std::string::npos) << options.out;
  EXPECT_EQ(options.out.find("--json"), std::string::npos)
      << "ports' option offered for run: " << options.out;
  auto nested = complete("provhil ca i", 2);
  EXPECT_NE(nested.out.find("init"), std::string::npos) << nested.out;
  // The built file is what `provhil completion bash` prints.
  EXPECT_EQ(provhil::test::read_file(PROVHIL_COMPLETION_BASH), script.out);
}

TEST(Completion, ZshLoadsTheScriptAndCompletesTheChosenSubcommandsOptions) {
  auto zsh = run_process({PROVHIL_BINARY, "completion", "zsh"});
  ASSERT_EQ(zsh.exit_code, 0);
  EXPECT_EQ(zsh.out.rfind("#compdef provhil", 0), 0u) << zsh.out;
  provhil::test::TempDir dir;
  auto script = provhil::test::write_file(dir / "_provhil", zsh.out);
  // compinit registers the script; zsh's own compgen (bashcompinit, in sh emulation as a completion
  // widget runs it) calls the function for "provhil run --re"; zsh filters by the prefix itself.
  auto complete = [&](const std::string& words, int cword) {
    std::string program = "autoload -U compinit; compinit -u -d " + (dir / "zcompdump").string() +
                          "; source " + script.string() +
                          "; print -r -- \"${_comps[provhil]}\"; COMP_WORDS=(" + words +
                          "); COMP_CWORD=" + std::to_string(cword) + "; compgen -F _provhil -- x";
    return run_process({"zsh", "-f", "-c", program});
  };
  auto run_options = complete("provhil run --re", 2);
  ASSERT_EQ(run_options.exit_code, 0) << describe(run_options);
  EXPECT_NE(run_options.out.find("_bash_complete"), std::string::npos) << run_options.out;
  EXPECT_NE(run_options.out.find("--retries\n"), std::string::npos) << run_options.out;
  EXPECT_EQ(run_options.out.find("--json"), std::string::npos)
      << "ports' option for run: " << run_options.out;
  auto subs = complete("provhil ca ''", 2);
  EXPECT_NE(subs.out.find("show\n"), std::string::npos) << subs.out;
  EXPECT_EQ(subs.out.find("--retries"), std::string::npos) << subs.out;
}

TEST(Completion, FishCompletesSubcommandsAndOptions) {
  auto fish = run_process({PROVHIL_BINARY, "completion", "fish"});
  ASSERT_EQ(fish.exit_code, 0);
  provhil::test::TempDir dir;
  auto script = provhil::test::write_file(dir / "provhil.fish", fish.out);
  auto complete = [&](const std::string& line) {
    return run_process(
        {"fish", "--no-config", "-c", "source " + script.string() + "; complete -C '" + line + "'"});
  };
  auto flag = complete("provhil run --fail");
  ASSERT_EQ(flag.exit_code, 0) << describe(flag);
  EXPECT_EQ(flag.out.rfind("--fail-on-flaky\t", 0), 0u) << flag.out;
  auto subs = complete("provhil r");
  EXPECT_NE(subs.out.find("run\t"), std::string::npos) << subs.out;
  EXPECT_NE(subs.out.find("report\t"), std::string::npos) << subs.out;
  auto nested = complete("provhil ca i");
  EXPECT_EQ(nested.out.rfind("init\t", 0), 0u) << nested.out;
  auto not_ports = complete("provhil run --js");
  EXPECT_EQ(not_ports.out.find("--json"), std::string::npos) << not_ports.out;
  auto bad = run_process({PROVHIL_BINARY, "completion", "tcsh"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(ManPage, BuiltFromTheHelpWithEverySubcommand) {
  ASSERT_TRUE(fs::exists(PROVHIL_MAN_PAGE)) << "the build makes it with help2man";
  provhil::test::ProcessOptions options;
  options.env = {{"MANWIDTH", "120"}};
  auto page = run_process({"man", "-l", PROVHIL_MAN_PAGE}, options);
  ASSERT_EQ(page.exit_code, 0) << page.err;
  for (const char* text : {"provhil run", "provhil completion", "--fail-on-flaky", "Exit codes", "NAME"})
    EXPECT_NE(page.out.find(text), std::string::npos) << text << " missing from:\n" << page.out;
}

TEST(Cli, AnUnreadableInventorySaysWhyTheOsRefused) {
  auto missing = run_process({PROVHIL_BINARY, "run", "--inventory", "/nonexistent/lab.yaml", "--list"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read the inventory file: No such file or directory"), std::string::npos)
      << missing.err;
  auto folder = run_process({PROVHIL_BINARY, "run", "--inventory", "/tmp", "--list"});
  EXPECT_EQ(folder.exit_code, 2);
  EXPECT_NE(folder.err.find("Is a directory"), std::string::npos) << folder.err;
}

}  // namespace
