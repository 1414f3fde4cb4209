// The typed provision request and its checks, without a server.
#include "intercept/provision.hpp"

#include <gtest/gtest.h>

#include "common/secrets.hpp"

namespace {

using namespace provhil::intercept;

const std::string kToken = "Rps15JICmtRVbFyS_95houlLbm6xIQ2L";
const std::string kExample1 = "/external/api/provision?token=" + kToken + "&templateId=TMPL8sRFwcfqL";
const std::string kExample2 =
    kExample1 + "&build=Oct+1&ver=1.0.0&type=MCU&fwType=TMPL8sRFwcfqL&blVer=2.27.2&boType=ESP32";

ProvisionRequest get(const std::string& target) {
  return parse_provision_request("GET", target, {{"Host", "fra1.blynk.cloud"}});
}

const CheckVerdict* find(const std::vector<CheckVerdict>& verdicts, const std::string& name) {
  for (const auto& v : verdicts)
    if (v.check == name) return &v;
  return nullptr;
}

TEST(ProvisionRequest, ParsesTheFirstDocExample) {
  auto request = get(kExample1);
  EXPECT_EQ(request.path, "/external/api/provision");
  EXPECT_EQ(request.token, kToken);
  EXPECT_EQ(request.template_id, "TMPL8sRFwcfqL");
  EXPECT_FALSE(request.build.has_value());
  EXPECT_EQ(request.header("host"), "fra1.blynk.cloud");
}

TEST(ProvisionRequest, ParsesTheSecondDocExampleWithPlusAsSpace) {
  auto request = get(kExample2);
  EXPECT_EQ(request.build, "Oct 1");
  EXPECT_EQ(request.ver, "1.0.0");
  EXPECT_EQ(request.type, "MCU");
  EXPECT_EQ(request.fw_type, "TMPL8sRFwcfqL");
  EXPECT_EQ(request.bl_ver, "2.27.2");
  EXPECT_EQ(request.bo_type, "ESP32");
  EXPECT_TRUE(request.unknown_params().empty());
}

TEST(ProvisionRequest, DecodesPercentEncodingAndKeepsUnknownParameters) {
  auto request = get(kExample1 + "&build=Oct%201%2B2&colour=bl%C3%BCe&flag");
  EXPECT_EQ(request.build, "Oct 1+2");
  EXPECT_EQ(request.param("colour"),
            "bl\xC3\xBC"
            "e");
  EXPECT_EQ(request.param("flag"), "");
  EXPECT_EQ(request.unknown_params(), (std::vector<std::string>{"colour", "flag"}));
}

TEST(ProvisionRequest, InvalidPercentEncodingSaysWhere) {
  try {
    get("/external/api/provision?token=ab%zzcd");
    FAIL() << "no error";
  } catch (const ProvisionParseError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid percent-encoding at offset 32"), std::string::npos)
        << e.what();
  }
}

TEST(BuiltinChecks, AllPassOnTheDocExamples) {
  for (const auto& target : {kExample1, kExample2}) {
    auto verdicts = run_builtin_checks(get(target), BuiltinChecks{});
    EXPECT_GE(verdicts.size(), 5u);
    for (const auto& v : verdicts)
      EXPECT_TRUE(v.passed) << v.check << ": " << v.detail;
  }
}

TEST(BuiltinChecks, EachFailsOnItsOwnFault) {
  struct Case {
    std::string method, target, check, detail_part;
  };
  const std::vector<Case> cases = {
      {"GET", "/external/api/provision?token=short&templateId=TMPL8sRFwcfqL", "builtin:token_format",
       "5 characters"},
      {"GET", "/external/api/provision?token=Rps15JICmtRVbFyS_95houlLbm6xIQ2!&templateId=TMPL8sRFwcfqL",
       "builtin:token_format", "32 of"},
      {"GET", "/external/api/provision?templateId=TMPL8sRFwcfqL", "builtin:token_format", "no token"},
      {"GET", "/external/api/provision?token=" + kToken + "&templateId=TMP8sRFwcfqL",
       "builtin:template_id_format", "TMP8sRFwcfqL"},
      {"GET", kExample1 + "&type=ESP", "builtin:type_value", "ESP"},
      {"GET", kExample1 + "&ver=one", "builtin:ver_format", "one"},
      {"GET", kExample1 + "&blVer=2..7", "builtin:blVer_format", "2..7"},
      {"GET", kExample1 + "&token=" + kToken, "builtin:no_duplicates", "token"},
      {"POST", kExample1, "builtin:method_get", "POST"},
      {"GET", "/external/api/provision/" + kExample1.substr(23), "builtin:path_exact",
       "/external/api/provision/"},
  };
  for (const auto& c : cases) {
    auto verdicts = run_builtin_checks(parse_provision_request(c.method, c.target, {}), BuiltinChecks{});
    const auto* v = find(verdicts, c.check);
    ASSERT_NE(v, nullptr) << c.check << " missing for " << c.target;
    EXPECT_FALSE(v->passed) << c.check << " passed for " << c.target;
    EXPECT_NE(v->detail.find(c.detail_part), std::string::npos) << v->detail;
    int failed = 0;
    for (const auto& other : verdicts)
      failed += other.passed ? 0 : 1;
    EXPECT_EQ(failed, 1) << "only " << c.check << " should fail for " << c.method << " " << c.target;
  }
}

TEST(BuiltinChecks, EachCanBeSwitchedOff) {
  BuiltinChecks none{false, false, false, false, false, false, false};
  auto verdicts = run_builtin_checks(parse_provision_request("POST", "/x?token=a&token=b&type=Q", {}), none);
  EXPECT_TRUE(verdicts.empty());
  BuiltinChecks only_token = none;
  only_token.token_format = true;
  verdicts = run_builtin_checks(get("/x?token=a"), only_token);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].check, "builtin:token_format");
}

TEST(ValueChecks, EachKindPassesAndFails) {
  std::optional<std::string> ver = "1.2.3", none;
  EXPECT_TRUE(run_value_check(ValueCheck::equals("ver", "1.2.3"), ver, "query").passed);
  auto v = run_value_check(ValueCheck::equals("ver", "1.2.4"), ver, "query");
  EXPECT_FALSE(v.passed);
  EXPECT_EQ(v.check, "query:ver equals \"1.2.4\"");
  EXPECT_EQ(v.detail, "ver was \"1.2.3\"");
  EXPECT_TRUE(run_value_check(ValueCheck::matches("ver", R"(\d+\.\d+\.\d+)"), ver, "query").passed);
  EXPECT_FALSE(run_value_check(ValueCheck::matches("ver", R"(\d+\.\d+)"), ver, "query").passed)
      << "whole value";
  EXPECT_FALSE(run_value_check(ValueCheck::matches("ver", ".*"), none, "query").passed);
  EXPECT_TRUE(
      run_value_check(ValueCheck::one_of("type", {"MCU", "NCP"}), std::string("NCP"), "query").passed);
  EXPECT_FALSE(run_value_check(ValueCheck::one_of("type", {"MCU", "NCP"}), std::string("X"), "query").passed);
  EXPECT_TRUE(run_value_check(ValueCheck::present("ver"), ver, "query").passed);
  EXPECT_FALSE(run_value_check(ValueCheck::present("ver"), none, "query").passed);
  EXPECT_TRUE(run_value_check(ValueCheck::absent("ver"), none, "query").passed);
  auto absent = run_value_check(ValueCheck::absent("ver"), ver, "header");
  EXPECT_FALSE(absent.passed);
  EXPECT_EQ(absent.check, "header:ver absent");
}

TEST(Exchange, JsonLineMasksTheTokenEvenWhenNobodyRegisteredIt) {
  Exchange ex;
  ex.kind = ExchangeKind::provision;
  ex.token = kToken;
  ex.target = kExample1;
  ex.verdicts.push_back({"query:token equals \"" + kToken + "\"", false, "token was \"" + kToken + "\""});
  provhil::SecretMasker masker;
  masker.add("hunter22", "pass");
  ex.answer_body = "{\"pass\":\"hunter22\"}";
  std::string line = ex.to_json_line(&masker);
  EXPECT_EQ(line.find(kToken), std::string::npos) << line;
  EXPECT_EQ(line.find("hunter22"), std::string::npos) << line;
  EXPECT_NE(line.find("[MASKED:token]"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
