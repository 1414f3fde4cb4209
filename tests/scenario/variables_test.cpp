#include <gtest/gtest.h>

#include <boost/regex.hpp>

#include <set>

#include "common/secrets.hpp"
#include "scenario/loader.hpp"
#include "scenario/variables.hpp"

namespace provhil::scenario {
namespace {

struct Fixture {
  Board board;
  Inventory inventory;
  Fixture() {
    board.name = "sim-1";
    board.port = "/dev/pts/7";
    board.dialect = "edgent-1.2";
    board.vars["ap_ssid"] = "Blynk Lab-0A1B";
    inventory.lab.wifi_ssid.value = "LabNet";
    inventory.lab.wifi_pass.value = "labpass123";
    inventory.lab.values["region"].value = "fra1";
  }
};

TEST(ScenarioVariables, ResolvesEveryKindOfReference) {
  Fixture f;
  auto loaded = parse_scenario(R"(
scenario: v
vars: { template_id: TMPL8sRFwcfqL, url: "https://${lab.region}.blynk.cloud:${interceptor.port}/${vars.template_id}" }
steps: [{ reset: hard }]
)",
                               "v.yaml");
  ASSERT_TRUE(loaded.ok());
  auto context = make_context(*loaded.value, f.board, f.inventory, "T0123456789abcdefghijklmnopqrstu",
                              "127.0.0.1", 8443);
  EXPECT_EQ(context.vars.at("url"), "https://fra1.blynk.cloud:8443/TMPL8sRFwcfqL");
  EXPECT_EQ(resolve("${board.name} ${board.port} ${board.dialect} ${board.ap_ssid}", context),
            "sim-1 /dev/pts/7 edgent-1.2 Blynk Lab-0A1B");
  EXPECT_EQ(resolve("${board.token}", context), "T0123456789abcdefghijklmnopqrstu");
  EXPECT_EQ(resolve("${lab.wifi.ssid}/${lab.wifi.pass}", context), "LabNet/labpass123");
  EXPECT_EQ(resolve("${interceptor.host}:${interceptor.port}", context), "127.0.0.1:8443");
  EXPECT_EQ(resolve("${template_id} ${vars.template_id}", context), "TMPL8sRFwcfqL TMPL8sRFwcfqL");
  context.captures["mac"] = "24:0A:C4:00:00:01";
  context.captures["template_id"] = "captured";  // a capture is newer than a var of the same name
  EXPECT_EQ(resolve("${mac} ${template_id}", context), "24:0A:C4:00:00:01 captured");
  EXPECT_EQ(resolve("literal $${board.name} and $5 and $", context), "literal ${board.name} and $5 and $");
}

TEST(ScenarioVariables, UndefinedReferencesThrowWithTheirName) {
  Fixture f;
  VariableContext context;
  context.board = &f.board;
  context.lab = &f.inventory.lab;
  try {
    resolve("x ${board.nope} y", context);
    FAIL() << "no exception";
  } catch (const ResolveError& e) {
    EXPECT_STREQ(e.what(), "undefined variable '${board.nope}'");
  }
  EXPECT_THROW(resolve("${mac}", context), ResolveError);
  EXPECT_THROW(resolve("${lab.other}", context), ResolveError);
  EXPECT_THROW(resolve("${unterminated", context), ResolveError);

  Scenario s;
  s.vars.push_back(Scenario::Var{"a", "${nothing}", SourceLocation{"s.yaml", 3, 7}});
  try {
    make_context(s, f.board, f.inventory, "t", "h", 1);
    FAIL() << "no exception";
  } catch (const ResolveError& e) {
    EXPECT_STREQ(e.what(), "var a (s.yaml:3:7): undefined variable '${nothing}'");
  }
}

TEST(ScenarioVariables, RegexEscapingKeepsValuesLiteral) {
  Fixture f;
  VariableContext context;
  context.vars["host"] = "a.b+c(1)";
  auto pattern = resolve(R"(Connecting to ${host}:\d+)", context, Escape::regex);
  boost::regex re(pattern, boost::regex::perl);
  EXPECT_TRUE(boost::regex_search(std::string("[1] Connecting to a.b+c(1):443"), re));
  EXPECT_FALSE(boost::regex_search(std::string("[1] Connecting to aXbbc1:443"), re));

  Matcher literal{Matcher::Kind::literal, "Ready (ping: ${host})", {}};
  Dialect dialect;
  boost::regex lit(matcher_regex(literal, dialect, context), boost::regex::perl);
  EXPECT_TRUE(boost::regex_search(std::string("x Ready (ping: a.b+c(1)) y"), lit));
  EXPECT_THROW(matcher_regex(Matcher{Matcher::Kind::state, "RUNNING", {}}, dialect, context), ResolveError);
}

TEST(ScenarioVariables, FreshTokensLookValidAndDiffer) {
  std::set<std::string> seen;
  boost::regex valid("[-_a-zA-Z0-9]{32}");
  for (int i = 0; i < 1000; ++i) {
    auto token = generate_token();
    ASSERT_TRUE(boost::regex_match(token, valid)) << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ScenarioVariables, FindsReferencesAndReportsBadOnes) {
  std::string error;
  auto refs = find_references("a ${board.token} $${not} ${x}", &error);
  EXPECT_TRUE(error.empty());
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].name, "board.token");
  EXPECT_EQ(refs[0].offset, 2u);
  EXPECT_EQ(refs[1].name, "x");
  find_references("${}", &error);
  EXPECT_NE(error.find("bad variable reference '${}'"), std::string::npos) << error;
  error.clear();
  find_references("${a b}", &error);
  EXPECT_NE(error.find("bad variable reference '${a b}'"), std::string::npos) << error;
  error.clear();
  find_references("x ${open", &error);
  EXPECT_NE(error.find("without its closing"), std::string::npos) << error;
}

TEST(ScenarioVariables, InventorySecretsReachTheMasker) {
  Fixture f;
  f.inventory.lab.values["api_key"] =
      SecretValue{SecretValue::Source::env, "K", std::string("key-1234"), {}, true, {}};
  f.inventory.lab.values["region"].secret = false;
  f.board.token = SecretValue{SecretValue::Source::literal, "", std::string(32, 'A'), {}, true, {}};
  f.inventory.boards.push_back(f.board);
  SecretMasker masker;
  register_secrets(f.inventory, masker);
  auto masked = masker.mask("pass labpass123 key key-1234 token " + std::string(32, 'A') + " region fra1");
  EXPECT_EQ(masked.find("labpass123"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("key-1234"), std::string::npos) << masked;
  EXPECT_EQ(masked.find(std::string(32, 'A')), std::string::npos) << masked;
  EXPECT_NE(masked.find("fra1"), std::string::npos) << masked;
}

}  // namespace
}  // namespace provhil::scenario
