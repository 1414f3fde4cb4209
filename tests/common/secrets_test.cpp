#include <gtest/gtest.h>

#include "common/secrets.hpp"

namespace {

using provhil::SecretMasker;

TEST(SecretMasker, MasksEveryOccurrenceWithItsLabel) {
  SecretMasker masker;
  masker.add("Rps15JICmtRVbFyS_95houlLbm6xIQ2L", "token");
  EXPECT_EQ(
      masker.mask("Blynk cloud: Rps15JICmtRVbFyS_95houlLbm6xIQ2L @ a and Rps15JICmtRVbFyS_95houlLbm6xIQ2L"),
      "Blynk cloud: [MASKED:token] @ a and [MASKED:token]");
}

TEST(SecretMasker, MasksWireFormsOfAPassword) {
  SecretMasker masker;
  masker.add("my pass&word\"", "wifi");
  EXPECT_EQ(masker.mask("pass=my+pass%26word%22&x"), "pass=[MASKED:wifi]&x");
  EXPECT_EQ(masker.mask("pass=my%20pass%26word%22"), "pass=[MASKED:wifi]");
  EXPECT_EQ(masker.mask(R"({"pass":"my pass&word\""})"), R"({"pass":"[MASKED:wifi]"})");
}

TEST(SecretMasker, LongerSecretWinsOverOneInsideIt) {
  SecretMasker masker;
  masker.add("secret", "a");
  masker.add("supersecret", "b");
  EXPECT_EQ(masker.mask("x supersecret y secret"), "x [MASKED:b] y [MASKED:a]");
}

TEST(SecretMasker, IgnoresTooShortSecretsAndCanBeDisabled) {
  SecretMasker masker;
  masker.add("ab");
  masker.add("hunter22");
  EXPECT_EQ(masker.mask("ab hunter22"), "ab [MASKED]");
  masker.set_enabled(false);
  EXPECT_EQ(masker.mask("ab hunter22"), "ab hunter22");
  EXPECT_EQ(masker.secrets().size(), 1U);
}

// Issue 16 #8: any percent-encoding that decodes to a secret is masked, in either case.
TEST(SecretMasker, MasksEveryEncodingThatDecodesToTheSecret) {
  SecretMasker masker;
  masker.add("Rps15JICmtRVbFyS_95houlLbm6xIQ2L", "token");
  EXPECT_EQ(masker.mask("token=%52ps15JICmtRVbFyS_95houlLbm6xIQ2L&x=1"), "token=[MASKED:token]&x=1");
  EXPECT_EQ(masker.mask("token=%52%70%73%31%35JICmtRVbFyS%5f95houlLbm6xIQ2%4c"), "token=[MASKED:token]");
  masker.add("my pass", "wifi");
  EXPECT_EQ(masker.mask("p=my+pa%73s q=%6dy%20pass"), "p=[MASKED:wifi] q=[MASKED:wifi]");
  EXPECT_EQ(masker.mask("100% sure, %zz and +"), "100% sure, %zz and +");
}

TEST(PercentEncode, EncodesReservedBytes) {
  EXPECT_EQ(provhil::percent_encode("Oct 1", true), "Oct+1");
  EXPECT_EQ(provhil::percent_encode("Oct 1", false), "Oct%201");
  EXPECT_EQ(provhil::percent_encode("a/b?c=d", false), "a%2Fb%3Fc%3Dd");
}

}  // namespace
