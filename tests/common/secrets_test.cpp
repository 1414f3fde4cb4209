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

TEST(PercentEncode, EncodesReservedBytes) {
  EXPECT_EQ(provhil::percent_encode("Oct 1", true), "Oct+1");
  EXPECT_EQ(provhil::percent_encode("Oct 1", false), "Oct%201");
  EXPECT_EQ(provhil::percent_encode("a/b?c=d", false), "a%2Fb%3Fc%3Dd");
}

}  // namespace
