// The lab CA on disk, checked with the openssl command line as a third party.
#include "intercept/lab_ca.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace provhil::intercept;
using provhil::test::run_process;
using provhil::test::TempDir;

TEST(LabCa, InitWritesAnEcCaWithAPrivateKeyOnlyTheOwnerReads) {
  TempDir tmp;
  auto info = init_lab_ca(tmp / "ca");
  struct stat st {};
  ASSERT_EQ(stat(info.key_pem.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::exists(info.cert_der));

  auto text = run_process({"openssl", "x509", "-in", info.cert_pem.string(), "-noout", "-text"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("CA:TRUE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Certificate Sign"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("prime256v1"), std::string::npos) << text.out;
  // Back-dated two days, valid ten years: checkend says it is valid now and in 9 years.
  EXPECT_EQ(run_process({"openssl", "x509", "-in", info.cert_pem.string(), "-noout", "-checkend",
                         std::to_string(9L * 365 * 24 * 3600)})
                .exit_code,
            0);
  auto der =
      run_process({"openssl", "x509", "-inform", "DER", "-in", info.cert_der.string(), "-noout", "-subject"});
  EXPECT_EQ(der.exit_code, 0) << der.err;
  auto start = run_process({"openssl", "x509", "-in", info.cert_pem.string(), "-noout", "-startdate"});
  // notBefore is about 48 hours ago: check with the dates OpenSSL parses itself.
  auto epoch = run_process({"date", "-d", start.out.substr(start.out.find('=') + 1), "+%s"});
  ASSERT_EQ(epoch.exit_code, 0) << epoch.err;
  long age = static_cast<long>(std::time(nullptr)) - std::stol(epoch.out);
  EXPECT_NEAR(age, 2 * 24 * 3600, 600);
}

TEST(LabCa, FingerprintMatchesOpenssl) {
  TempDir tmp;
  init_lab_ca(tmp / "ca");
  auto info = load_lab_ca(tmp / "ca");
  auto fp =
      run_process({"openssl", "x509", "-in", info.cert_pem.string(), "-noout", "-fingerprint", "-sha256"});
  ASSERT_EQ(fp.exit_code, 0);
  EXPECT_NE(fp.out.find(info.sha256_fingerprint), std::string::npos)
      << fp.out << " vs " << info.sha256_fingerprint;
  EXPECT_EQ(info.sha256_fingerprint.size(), 32u * 3 - 1);
}

TEST(LabCa, RefusesToOverwriteUnlessForced) {
  TempDir tmp;
  auto first = init_lab_ca(tmp / "ca");
  EXPECT_THROW(init_lab_ca(tmp / "ca"), LabCaError);
  EXPECT_EQ(ensure_lab_ca(tmp / "ca").sha256_fingerprint, first.sha256_fingerprint);
  auto second = init_lab_ca(tmp / "ca", true);
  EXPECT_NE(second.sha256_fingerprint, first.sha256_fingerprint);
}

TEST(LabCa, MissingCaSaysWhereAndWhatToDo) {
  TempDir tmp;
  try {
    load_lab_ca(tmp / "nothing");
    FAIL();
  } catch (const LabCaError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find((tmp / "nothing").string()), std::string::npos) << what;
    EXPECT_NE(what.find("provhil ca init"), std::string::npos) << what;
  }
}

}  // namespace
