// The CI examples docs/ci.md points to (docs/examples/): the GitLab pipeline parses as YAML and has the
// pieces the page describes, the Jenkinsfile's brackets and quotes balance, and every provhil option
// the three files use exists in that subcommand's --help of the real binary.
#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using provhil::test::read_file;
using provhil::test::run_process;

const fs::path examples = fs::path(PROVHIL_SOURCE_DIR) / "docs" / "examples";

// Every "provhil SUB ..." command in `text`: the subcommand and its options (tokens starting with -).
// A command ends at the line's end or a shell separator; in Groovy source (`groovy`) also at a quote,
// which ends the Groovy string that holds it.
std::vector<std::pair<std::string, std::vector<std::string>>> provhil_commands(const std::string& text,
                                                                               bool groovy = false) {
  std::vector<std::pair<std::string, std::vector<std::string>>> commands;
  static const std::regex shell(R"(provhil[ \t]+([a-z]+)([^\n;|&]*))");
  static const std::regex in_groovy(R"(provhil[ \t]+([a-z]+)([^\n;|&'"]*))");
  const auto& command = groovy ? in_groovy : shell;
  static const std::regex option(R"((?:^|\s)(--?[A-Za-z][-A-Za-z]*))");
  for (std::sregex_iterator it(text.begin(), text.end(), command), end; it != end; ++it) {
    std::vector<std::string> options;
    std::string rest = (*it)[2];
    for (std::sregex_iterator o(rest.begin(), rest.end(), option); o != end; ++o)
      options.push_back((*o)[1]);
    commands.emplace_back((*it)[1], options);
  }
  return commands;
}

// The options of `provhil SUB` that its --help does not list ("SUB: unknown subcommand" when the
// subcommand itself is unknown).
std::vector<std::string> unknown_options(const std::string& sub, const std::vector<std::string>& options) {
  static std::map<std::string, provhil::test::ProcessResult> helps;
  if (!helps.contains(sub)) helps[sub] = run_process({PROVHIL_BINARY, sub, "--help"});
  const auto& help = helps[sub];
  if (help.exit_code != 0) return {sub + ": unknown subcommand"};
  std::vector<std::string> unknown;
  for (const auto& name : options) {
    std::regex listed("(^|[\\s,])" + name + "([\\s=,]|$)");
    if (!std::regex_search(help.out, listed)) unknown.push_back(sub + " " + name);
  }
  return unknown;
}

// Strings every provhil command in `node` (scalars anywhere below it) into one text.
void collect_scalars(const YAML::Node& node, std::string& out) {
  if (node.IsScalar()) {
    out += node.as<std::string>() + "\n";
  } else if (node.IsSequence()) {
    for (const auto& item : node)
      collect_scalars(item, out);
  } else if (node.IsMap()) {
    for (const auto& entry : node)
      collect_scalars(entry.second, out);
  }
}

// Where the brackets or quotes of Groovy source stop balancing ("" when they balance). Knows line and
// block comments, '...', "...", '''...''' and """...""" strings (a ${...} inside a string is text here).
std::string groovy_imbalance(const std::string& text) {
  std::vector<std::pair<char, int>> open;
  int line = 1;
  auto closing = [](char c) { return c == '(' ? ')' : c == '[' ? ']' : '}'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') ++line;
    if (text.compare(i, 2, "//") == 0) {
      while (i < text.size() && text[i] != '\n')
        ++i;
      ++line;
      continue;
    }
    if (text.compare(i, 2, "/*") == 0) {
      auto end = text.find("*/", i + 2);
      if (end == std::string::npos) return "unterminated /* comment from line " + std::to_string(line);
      line += static_cast<int>(
          std::count(text.begin() + static_cast<long>(i), text.begin() + static_cast<long>(end), '\n'));
      i = end + 1;
      continue;
    }
    if (c == '\'' || c == '"') {
      std::string quote = text.compare(i, 3, std::string(3, c)) == 0 ? std::string(3, c) : std::string(1, c);
      int from = line;
      std::size_t j = i + quote.size();
      for (;; ++j) {
        if (j >= text.size()) return "unterminated string from line " + std::to_string(from);
        if (text[j] == '\\') {
          ++j;
          continue;
        }
        if (quote.size() == 1 && text[j] == '\n') return "string not closed on line " + std::to_string(from);
        if (text[j] == '\n') ++line;
        if (text.compare(j, quote.size(), quote) == 0) break;
      }
      i = j + quote.size() - 1;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') open.emplace_back(c, line);
    if (c == ')' || c == ']' || c == '}') {
      if (open.empty()) return std::string("unmatched ") + c + " on line " + std::to_string(line);
      if (closing(open.back().first) != c)
        return std::string("'") + c + "' on line " + std::to_string(line) + " closes '" + open.back().first +
               "' from line " + std::to_string(open.back().second);
      open.pop_back();
    }
  }
  if (!open.empty())
    return std::string("'") + open.back().first + "' from line " + std::to_string(open.back().second) +
           " is never closed";
  return "";
}

TEST(CiExamples, TheCheckersCatchWhatTheyLookFor) {
  // The checks below must be able to fail: an unknown option, a made-up subcommand, a stray brace, an
  // open string.
  EXPECT_EQ(unknown_options("run", {"--shard", "--no-such-option"}),
            std::vector<std::string>{"run --no-such-option"});
  EXPECT_EQ(unknown_options("frobnicate", {"--x"}).size(), 1U);
  EXPECT_EQ(groovy_imbalance("a { b ( c ) }"), "");
  EXPECT_EQ(groovy_imbalance("sh 'x } y' // ) {\n"), "");
  EXPECT_NE(groovy_imbalance("a { b ( c } )"), "");
  EXPECT_NE(groovy_imbalance("a { sh 'x }"), "");
  EXPECT_NE(groovy_imbalance("a {\n"), "");
  auto commands =
      provhil_commands("provhil run --lab x.yaml --shard \"1/2\" -q || provhil report --rebuild\n");
  ASSERT_EQ(commands.size(), 2U);
  EXPECT_EQ(commands[0].first, "run");
  EXPECT_EQ(commands[0].second, (std::vector<std::string>{"--lab", "--shard", "-q"}));
  EXPECT_EQ(commands[1].first, "report");
  EXPECT_EQ(commands[1].second, std::vector<std::string>{"--rebuild"});
  commands = provhil_commands("sh \"provhil run --shard ${k}/${n}\" --not-provhils", true);
  ASSERT_EQ(commands.size(), 1U);
  EXPECT_EQ(commands[0].second, std::vector<std::string>{"--shard"});
}

TEST(CiExamples, GitLabPipelineParsesAndHoldsItsBoardSetForAllShards) {
  YAML::Node parent = YAML::LoadFile((examples / "gitlab-ci.yml").string());
  auto trigger_job = parent["hil:esp32-bench"];
  ASSERT_TRUE(trigger_job.IsMap());
  EXPECT_EQ(trigger_job["resource_group"].as<std::string>(), "esp32-bench");
  EXPECT_EQ(trigger_job["trigger"]["strategy"].as<std::string>(), "depend");
  auto child_path = trigger_job["trigger"]["include"].as<std::string>();
  ASSERT_TRUE(fs::exists(fs::path(PROVHIL_SOURCE_DIR) / child_path)) << child_path;

  YAML::Node child = YAML::LoadFile((fs::path(PROVHIL_SOURCE_DIR) / child_path).string());
  auto hil = child["hil"];
  ASSERT_TRUE(hil.IsMap());
  EXPECT_GE(hil["parallel"].as<int>(), 2);
  EXPECT_GE(hil["tags"].size(), 1U);
  std::string script;
  collect_scalars(hil["script"], script);
  EXPECT_NE(script.find("--shard \"${CI_NODE_INDEX}/${CI_NODE_TOTAL}\""), std::string::npos) << script;
  std::string after;
  collect_scalars(hil["after_script"], after);
  EXPECT_NE(after.find("provhil report --rebuild"), std::string::npos) << after;
  EXPECT_EQ(hil["artifacts"]["when"].as<std::string>(), "always");
  EXPECT_EQ(hil["artifacts"]["reports"]["junit"].as<std::string>(), "reports/junit.xml");
  EXPECT_EQ(hil["artifacts"]["paths"][0].as<std::string>(), "reports/");
}

TEST(CiExamples, JenkinsfileBalancesAndLocksItsBoardSet) {
  auto text = read_file(examples / "Jenkinsfile");
  EXPECT_EQ(groovy_imbalance(text), "");
  EXPECT_NE(text.find("lock(resource: 'esp32-bench')"), std::string::npos);
  EXPECT_NE(text.find("junit testResults: 'reports/shard-*/junit.xml', keepProperties: true"),
            std::string::npos);
  EXPECT_NE(text.find("parallel branches"), std::string::npos);
  EXPECT_NE(text.find("--shard ${k}/${shards}"), std::string::npos);
}

TEST(CiExamples, EveryProvhilOptionUsedExists) {
  std::string text;
  for (const char* file : {"gitlab-ci.yml", "gitlab-ci-hil.yml"}) {
    YAML::Node node = YAML::LoadFile((examples / file).string());
    collect_scalars(node, text);
  }
  auto commands = provhil_commands(text);
  std::string groovy;
  // The Jenkinsfile without its comment lines (prose that may say "provhil").
  std::istringstream jenkinsfile(read_file(examples / "Jenkinsfile"));
  for (std::string line; std::getline(jenkinsfile, line);) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line.compare(first, 2, "//") != 0) groovy += line + "\n";
  }
  auto from_jenkinsfile = provhil_commands(groovy, true);
  EXPECT_GE(from_jenkinsfile.size(), 3U);
  commands.insert(commands.end(), from_jenkinsfile.begin(), from_jenkinsfile.end());
  std::set<std::string> checked;
  std::vector<std::string> unknown;
  for (const auto& [sub, options] : commands) {
    for (const auto& u : unknown_options(sub, options))
      unknown.push_back(u);
    for (const auto& o : options)
      checked.insert(sub + " " + o);
  }
  EXPECT_TRUE(unknown.empty()) << testing::PrintToString(unknown);
  // The examples do use the options the page is about.
  for (const char* used : {"run --shard", "run --wait-for-boards", "run --reports", "report --rebuild",
                           "report --reports", "validate --lab"})
    EXPECT_TRUE(checked.contains(used)) << used << " is not used: " << testing::PrintToString(checked);
}

}  // namespace
