// The interceptor over real TLS on loopback, driven by curl (a third-party client) and by the
// project's own client.
#include "intercept/interceptor.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <sstream>
#include <thread>

#include "common/secrets.hpp"
#include "common/text.hpp"
#include "intercept/blynk.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tls_client.hpp"

namespace {

using namespace provhil::intercept;
using namespace std::chrono_literals;
using provhil::test::ClientOptions;
using provhil::test::get_request;
using provhil::test::ProcessResult;
using provhil::test::run_client;
using provhil::test::run_process;
using provhil::test::TempDir;
using steady = std::chrono::steady_clock;

const std::string kToken = "Rps15JICmtRVbFyS_95houlLbm6xIQ2L";
const std::string kOtherToken = "Zq81JICmtRVbFyS_95houlLbm6xIQ2Lx";
const std::string kTarget1 = "/external/api/provision?token=" + kToken + "&templateId=TMPL8sRFwcfqL";
const std::string kTarget2 =
    kTarget1 + "&build=Oct+1&ver=1.0.0&type=MCU&fwType=TMPL8sRFwcfqL&blVer=2.27.2&boType=ESP32";

class InterceptorTest : public ::testing::Test {
 protected:
  TempDir tmp;
  provhil::SecretMasker masker;
  std::unique_ptr<Interceptor> icpt;

  InterceptorConfig config() {
    InterceptorConfig c;
    c.ca_dir = tmp / "ca";
    c.journal_path = tmp / "journal.jsonl";
    c.masker = &masker;
    return c;
  }
  void start(InterceptorConfig c) { icpt = std::make_unique<Interceptor>(std::move(c)); }
  void start() { start(config()); }

  std::string url(const std::string& host, const std::string& target) const {
    return fmt::format("https://{}:{}{}", host, icpt->port(), target);
  }
  // curl against the interceptor, trusting only the lab CA, resolving the host to loopback.
  ProcessResult curl(const std::string& host, const std::string& target,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"curl",       "-sS",
                                     "--max-time", "20",
                                     "--cacert",   icpt->ca_certificate_path().string(),
                                     "--resolve",  fmt::format("{}:{}:127.0.0.1", host, icpt->port()),
                                     "-w",         "\n%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url(host, target));
    return run_process(argv);
  }
  ClientOptions client(const std::string& sni = "fra1.blynk.cloud") {
    ClientOptions o;
    o.port = icpt->port();
    o.sni = sni;
    o.ca_file = icpt->ca_certificate_path().string();
    return o;
  }
  ExpectationId expect(int n = 1, std::vector<Answer> answers = {}, std::vector<ValueCheck> query = {}) {
    ProvisionExpectation e;
    e.token = kToken;
    e.owner = "happy [sim-1]";
    e.count = CountRule::exactly_n(n);
    e.answers = std::move(answers);
    e.query = std::move(query);
    return icpt->expect_provision(std::move(e));
  }
  WaitResult wait(ExpectationId id, std::chrono::milliseconds within = 10s) {
    return icpt->wait(id, steady::now() + within);
  }
  std::string journal() { return provhil::test::read_file(tmp / "journal.jsonl"); }
};

TEST_F(InterceptorTest, CurlGetsBothDocExamplesAnsweredAndChecked) {
  start();
  auto id = expect(
      2, {}, {ValueCheck::matches("ver", R"(\d+\.\d+\.\d+)"), ValueCheck::one_of("type", {"MCU", "NCP"})});
  auto first = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "{}\n200");
  auto second = curl("fra1.blynk.cloud", kTarget2);
  EXPECT_EQ(second.out, "{}\n200") << second.err;
  auto result = wait(id);
  EXPECT_TRUE(result.satisfied) << result.summary;
  ASSERT_EQ(result.exchanges.size(), 2u);
  // The first lacks ver and type: the scenario checks fail there and pass on the second.
  EXPECT_FALSE(result.exchanges[0].checks_passed());
  for (const auto& v : result.exchanges[1].verdicts)
    EXPECT_TRUE(v.passed) << v.check << " " << v.detail;
  EXPECT_EQ(result.exchanges[1].sni, "fra1.blynk.cloud");
  EXPECT_TRUE(result.exchanges[1].tls_version == "TLSv1.3" || result.exchanges[1].tls_version == "TLSv1.2");
  EXPECT_FALSE(result.passed());
}

TEST_F(InterceptorTest, OwnClientWithoutSniGetsALeafForTheAdvertisedAddress) {
  start();
  auto id = expect();
  auto options = client("");
  options.sni.clear();  // verification then checks the IP SAN for 127.0.0.1
  auto r = run_client(options, get_request(kTarget2));
  ASSERT_TRUE(r.handshake_ok) << r.handshake_error;
  EXPECT_NE(r.received.find("HTTP/1.1 200 OK"), std::string::npos) << r.received;
  auto result = wait(id);
  EXPECT_TRUE(result.passed()) << result.summary;
}

TEST_F(InterceptorTest, OnlyTls12And13AreSpoken) {
  start();
  auto tls11 = curl("fra1.blynk.cloud", kTarget1, {"--tlsv1.1", "--tls-max", "1.1"});
  EXPECT_EQ(tls11.exit_code, 35) << tls11.err;  // handshake failed
  auto tls12 = curl("fra1.blynk.cloud", kTarget1, {"--tls-max", "1.2"});
  EXPECT_EQ(tls12.exit_code, 0) << tls12.err;
}

TEST_F(InterceptorTest, UnknownTokenGetsTheDocumented400AndIsTheRunsUnexpected) {
  start();
  auto r =
      curl("fra1.blynk.cloud", "/external/api/provision?token=" + kOtherToken + "&templateId=TMPL8sRFwcfqL");
  EXPECT_EQ(r.out, "{\"error\":{\"message\":\"Invalid token.\"}}\n400") << r.err;
  auto run = icpt->unowned_unexpected();
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0].token, kOtherToken);
  EXPECT_EQ(run[0].status, 400);
}

TEST_F(InterceptorTest, UnexpectedRequestIsReportedAgainstTheOwnerOfTheToken) {
  start();
  icpt->claim_token(kToken, "happy [sim-1]");
  ProvisionExpectation none;
  none.token = kOtherToken;
  none.owner = "happy [sim-1]";
  none.count = CountRule::no_request();
  auto id = icpt->expect_provision(none);
  EXPECT_EQ(curl("fra1.blynk.cloud", kTarget1).exit_code, 0);
  auto result = wait(id, 300ms);
  EXPECT_TRUE(result.satisfied);
  ASSERT_EQ(result.unexpected.size(), 1u);
  EXPECT_EQ(result.unexpected[0].token, kToken);
  EXPECT_FALSE(result.passed());
  EXPECT_TRUE(icpt->unowned_unexpected().empty());
}

TEST_F(InterceptorTest, NoneRuleFailsAsSoonAsARequestArrives) {
  start();
  ProvisionExpectation none;
  none.token = kToken;
  none.owner = "quiet [sim-1]";
  none.count = CountRule::no_request();
  auto id = icpt->expect_provision(none);
  std::thread later([&] { curl("fra1.blynk.cloud", kTarget1); });
  auto before = steady::now();
  auto result = wait(id, 30s);
  later.join();
  EXPECT_LT(steady::now() - before, 20s) << "the waiter was not woken by the arrival";
  EXPECT_FALSE(result.satisfied);
  EXPECT_EQ(result.count, 1);
}

TEST_F(InterceptorTest, WaitIsWokenByTheArrivalAndTimesOutWithoutOne) {
  start();
  auto id = expect();
  auto quiet = wait(id, 200ms);
  EXPECT_TRUE(quiet.timed_out);
  EXPECT_FALSE(quiet.satisfied);
  EXPECT_NE(quiet.summary.find("expected exactly 1 provision request(s) for happy [sim-1], got 0"),
            std::string::npos)
      << quiet.summary;
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);
    curl("fra1.blynk.cloud", kTarget1);
  });
  auto before = steady::now();
  auto result = wait(id, 60s);
  later.join();
  EXPECT_TRUE(result.satisfied);
  EXPECT_LT(steady::now() - before, 30s);
  // A second request breaks "exactly 1", seen when the expectation is finished.
  curl("fra1.blynk.cloud", kTarget1);
  auto final_result = icpt->finish(id);
  EXPECT_EQ(final_result.count, 2);
  EXPECT_FALSE(final_result.satisfied);
}

TEST_F(InterceptorTest, HeaderChecksAndScriptedAnswer) {
  start();
  ProvisionExpectation e;
  e.token = kToken;
  e.owner = "hdr";
  e.headers = {ValueCheck::equals("User-Agent", "provhil-test"), ValueCheck::absent("X-Debug"),
               ValueCheck::present("Authorization")};
  Answer answer;
  answer.status = 201;
  answer.headers = {{"X-Lab", "yes"}, {"Content-Type", "text/plain"}};
  answer.body = "created";
  e.answers = {answer};
  auto id = icpt->expect_provision(e);
  auto r = curl("fra1.blynk.cloud", kTarget1, {"-A", "provhil-test", "-H", "X-Debug: 1", "-i"});
  EXPECT_NE(r.out.find("X-Lab: yes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Content-Type: text/plain"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("created\n201"), std::string::npos) << r.out;
  auto result = wait(id);
  ASSERT_EQ(result.exchanges.size(), 1u);
  std::map<std::string, bool> seen;
  for (const auto& v : result.exchanges[0].verdicts)
    seen[v.check] = v.passed;
  EXPECT_TRUE(seen.at("header:User-Agent equals \"provhil-test\""));
  EXPECT_FALSE(seen.at("header:X-Debug absent"));
  EXPECT_FALSE(seen.at("header:Authorization present"));
}

TEST_F(InterceptorTest, AnswerForTheNthRequestOnlyTestsRetries) {
  start();
  Answer fail_first;
  fail_first.nth = 1;
  fail_first.status = 503;
  fail_first.body = R"({"error":{"message":"busy"}})";
  auto id = expect(2, {fail_first});
  EXPECT_EQ(curl("fra1.blynk.cloud", kTarget1).out, "{\"error\":{\"message\":\"busy\"}}\n503");
  EXPECT_EQ(curl("fra1.blynk.cloud", kTarget1).out, "{}\n200");
  auto result = wait(id);
  ASSERT_EQ(result.exchanges.size(), 2u);
  EXPECT_EQ(result.exchanges[0].status, 503);
  EXPECT_EQ(result.exchanges[1].status, 200);
}

TEST_F(InterceptorTest, RedirectToAnotherHostIsFollowedByCurl) {
  start();
  auto id = expect(2, {[&] {
                     auto a = Answer::redirect_to(url("lon1.blynk.cloud", kTarget1));
                     a.nth = 1;
                     return a;
                   }()});
  auto plain = curl("blynk.cloud", kTarget1, {"-D", "-", "-o", "/dev/null"});
  EXPECT_NE(plain.out.find("HTTP/1.1 308"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("Location: " + url("lon1.blynk.cloud", kTarget1)), std::string::npos) << plain.out;
  // -L follows to lon1 (a second SNI name, a second minted leaf): answered 200 there.
  icpt->finish(id);
  auto again = expect(2, {[&] {
                        auto a = Answer::redirect_to(url("lon1.blynk.cloud", kTarget1));
                        a.nth = 1;
                        return a;
                      }()});
  auto follow = curl("blynk.cloud", kTarget1,
                     {"-L", "--resolve", fmt::format("lon1.blynk.cloud:{}:127.0.0.1", icpt->port())});
  EXPECT_EQ(follow.out, "{}\n200") << follow.err;
  auto result = wait(again);
  ASSERT_EQ(result.exchanges.size(), 2u);
  EXPECT_EQ(result.exchanges[0].sni, "blynk.cloud");
  EXPECT_EQ(result.exchanges[1].sni, "lon1.blynk.cloud");
}

Answer with_fault(Fault::Kind kind) {
  Answer a;
  Fault f;
  f.kind = kind;
  a.faults = {f};
  return a;
}

TEST_F(InterceptorTest, ResetFaultGivesTheClientEconnreset) {
  start();
  auto id = expect(1, {with_fault(Fault::Kind::reset)});
  auto r = run_client(client(), get_request(kTarget1));
  ASSERT_TRUE(r.handshake_ok) << r.handshake_error;
  EXPECT_EQ(r.read_errno, ECONNRESET) << r.read_error;
  EXPECT_TRUE(r.received.empty());
  auto c = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(c.exit_code, 56) << c.err;  // failure receiving: connection reset
  EXPECT_EQ(to_string(wait(id).exchanges.at(0).answered_by), "fault:reset");
}

TEST_F(InterceptorTest, CloseFaultGivesAnEmptyReply) {
  start();
  expect(1, {with_fault(Fault::Kind::close)});
  auto c = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(c.exit_code, 52) << c.err;  // empty reply from server
  auto r = run_client(client(), get_request(kTarget1));
  EXPECT_TRUE(r.received.empty());
  EXPECT_EQ(r.read_error, "End of file") << "close_notify, then a clean end";
}

TEST_F(InterceptorTest, MalformedTruncatedAndTlsTruncationAsTheClientSeesThem) {
  start();
  expect(1, {with_fault(Fault::Kind::malformed)});
  auto malformed = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_NE(malformed.err.find("Unsupported response code"), std::string::npos) << malformed.err;

  icpt = nullptr;
  start();
  expect(1, {with_fault(Fault::Kind::truncated)});
  auto truncated = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(truncated.exit_code, 18) << truncated.err;  // partial file

  icpt = nullptr;
  start();
  expect(2, {with_fault(Fault::Kind::tls_truncation)});
  auto r = run_client(client(), get_request(kTarget1));
  EXPECT_EQ(r.read_error, "stream truncated") << r.read_error;
  EXPECT_NE(r.received.find("HTTP/1.1 200"), std::string::npos) << "half the answer arrived: " << r.received;
  auto tls_truncated = curl("fra1.blynk.cloud", kTarget1);
  // curl (7.88) takes a TCP close without close_notify as the end, then finds the body short.
  EXPECT_TRUE(tls_truncated.exit_code == 18 || tls_truncated.exit_code == 56) << tls_truncated.err;
}

TEST_F(InterceptorTest, DelayFaultHoldsTheAnswer) {
  start();
  Answer a = with_fault(Fault::Kind::delay);
  a.faults[0].delay = 400ms;
  expect(1, {a});
  auto before = steady::now();
  auto c = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(c.out, "{}\n200");
  EXPECT_GE(steady::now() - before, 400ms);
}

TEST_F(InterceptorTest, ConnectionFaultsAsTheClientSeesThem) {
  auto c = config();
  c.handshake_timeout = 1000ms;
  start(c);
  icpt->arm_connection_fault({ConnectionFault::Kind::tls_alert, "", "", 1, ""});
  auto alert = run_client(client(), get_request(kTarget1));
  EXPECT_FALSE(alert.handshake_ok);
  EXPECT_NE(alert.handshake_error.find("alert"), std::string::npos) << alert.handshake_error;

  icpt->arm_connection_fault({ConnectionFault::Kind::expired_cert, "fra1.blynk.cloud", "", 1, ""});
  auto expired = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(expired.exit_code, 60) << expired.err;
  EXPECT_NE(expired.err.find("expired"), std::string::npos) << expired.err;

  icpt->arm_connection_fault({ConnectionFault::Kind::wrong_name_cert, "", "", 1, ""});
  auto wrong = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(wrong.exit_code, 60) << wrong.err;

  // An SNI filter leaves other names alone.
  icpt->arm_connection_fault({ConnectionFault::Kind::tls_alert, "other.example", "", 1, ""});
  EXPECT_EQ(curl("fra1.blynk.cloud", kTarget1).exit_code, 0);

  // A client-address filter leaves other clients alone (the runner gives each simulated board an
  // address of its own in 127.0.0.0/8): curl from 127.0.0.1 passes, from 127.77.0.5 meets the alert.
  // Its journal entry goes to the scenario that armed it.
  icpt->arm_connection_fault({ConnectionFault::Kind::tls_alert, "", "127.77.0.5", 1, "case-a"});
  EXPECT_EQ(curl("fra1.blynk.cloud", kTarget1).exit_code, 0);
  auto from_board = curl("fra1.blynk.cloud", kTarget1, {"--interface", "127.77.0.5"});
  EXPECT_EQ(from_board.exit_code, 35) << from_board.err;  // TLS handshake failed
  auto owned = icpt->exchanges_for_owner("case-a");
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ(to_string(owned[0].answered_by), "fault:tls_alert");
  EXPECT_EQ(owned[0].client.rfind("127.77.0.5:", 0), 0u) << owned[0].client;

  icpt->arm_connection_fault({ConnectionFault::Kind::stall_handshake, "", "127.0.0.1", 1, ""});
  auto before = steady::now();
  auto stalled = run_client(client(), get_request(kTarget1));
  EXPECT_FALSE(stalled.handshake_ok);
  EXPECT_FALSE(stalled.timed_out) << "the handshake deadline closes a stalled connection";
  EXPECT_GE(steady::now() - before, 950ms);
  std::string j = journal();
  EXPECT_NE(j.find("fault:tls_alert"), std::string::npos);
  EXPECT_NE(j.find("fault:stall_handshake"), std::string::npos);
}

TEST_F(InterceptorTest, BadInputGetsACleanCloseOrA400AndAJournalEntry) {
  auto c = config();
  c.header_timeout = 1500ms;  // the slow client's deadline; others must be served well within it
  start(c);
  auto plain = client();
  plain.tls = false;
  auto garbage = run_client(plain, std::string("\x01\x02garbage\r\n\r\n", 13));
  EXPECT_TRUE(garbage.received.empty());
  EXPECT_FALSE(garbage.timed_out);

  auto http_on_tls = run_client(plain, get_request(kTarget1));
  EXPECT_NE(http_on_tls.received.find("HTTP/1.1 400"), std::string::npos) << http_on_tls.received;

  auto big_header = curl("fra1.blynk.cloud", kTarget1, {"-H", "X-Big: " + std::string(20000, 'a')});
  EXPECT_NE(big_header.out.find("400"), std::string::npos) << big_header.out << big_header.err;

  auto bad_percent = curl("fra1.blynk.cloud", "/external/api/provision?token=ab%zzcd");
  EXPECT_NE(bad_percent.out.find("invalid percent-encoding"), std::string::npos) << bad_percent.out;
  EXPECT_EQ(bad_percent.out.substr(bad_percent.out.size() - 3), "400");

  auto huge_target =
      run_client(client(), get_request("/external/api/provision?token=" + std::string(100 * 1024, 'x')));
  EXPECT_NE(huge_target.received.find("HTTP/1.1 400"), std::string::npos)
      << huge_target.received.substr(0, 200);

  // Slowloris: half a request, then silence. Others are served meanwhile; the slow one is closed
  // at the header deadline.
  auto slow_options = client();
  slow_options.timeout = 10s;
  provhil::test::ClientResult slow;
  std::thread slow_thread([&] {
    slow = run_client(slow_options, "GET /external/api/provision?token=x HTTP/1.1\r\nHost: a\r\n");
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(curl("fra1.blynk.cloud", kTarget1).exit_code, 0);
  slow_thread.join();
  EXPECT_FALSE(slow.timed_out) << "the slow client was never closed";

  // The deadline closes the socket as it fires; the entry follows a moment later.
  std::string j;
  for (auto until = steady::now() + 10s; steady::now() < until; std::this_thread::sleep_for(20ms))
    if ((j = journal()).find("slow client") != std::string::npos) break;
  for (const char* expected : {"not a TLS handshake", "plain HTTP on the TLS port",
                               "request header larger than", "invalid percent-encoding", "slow client"})
    EXPECT_NE(j.find(expected), std::string::npos) << "journal lacks \"" << expected << "\":\n" << j;
}

TEST_F(InterceptorTest, PlainHttpListenerServesBoardsOnPort80) {
  auto c = config();
  c.plain_http_port = 0;
  start(c);
  auto id = expect();
  ASSERT_TRUE(icpt->plain_port().has_value());
  auto r = run_process({"curl", "-sS", "--max-time", "20",
                        fmt::format("http://127.0.0.1:{}{}", *icpt->plain_port(), kTarget2)});
  EXPECT_EQ(r.out, "{}") << r.err;
  auto result = wait(id);
  ASSERT_EQ(result.exchanges.size(), 1u);
  EXPECT_EQ(result.exchanges[0].tls_version, "plain");
}

TEST_F(InterceptorTest, JournalHasEveryExchangeWithTokensMasked) {
  start();
  expect();
  curl("fra1.blynk.cloud", kTarget2);
  curl("fra1.blynk.cloud", "/external/api/provision?token=" + kOtherToken + "&templateId=TMPL8sRFwcfqL");
  std::string j = journal();
  EXPECT_EQ(j.find(kToken), std::string::npos) << j;
  EXPECT_EQ(j.find(kOtherToken), std::string::npos) << j;
  EXPECT_EQ(std::count(j.begin(), j.end(), '\n'), 2);
  EXPECT_NE(j.find("\"sni\":\"fra1.blynk.cloud\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"expected\":true"), std::string::npos);
  EXPECT_NE(j.find("\"expected\":false"), std::string::npos);
  EXPECT_NE(j.find("\"wall\":\""), std::string::npos);
  EXPECT_NE(j.find("builtin:token_format"), std::string::npos);
  std::string owner_lines = icpt->journal_lines_for_owner("happy [sim-1]");
  EXPECT_EQ(std::count(owner_lines.begin(), owner_lines.end(), '\n'), 1);
  EXPECT_EQ(owner_lines.find(kToken), std::string::npos);
}

TEST_F(InterceptorTest, ServesAGivenCertificateInsteadOfMintingLeaves) {
  auto made =
      run_process({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-nodes", "-keyout", (tmp / "key.pem").string(), "-out", (tmp / "cert.pem").string(),
                   "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto c = config();
  c.cert_file = tmp / "cert.pem";
  c.key_file = tmp / "key.pem";
  start(c);
  EXPECT_EQ(icpt->ca_certificate_path(), tmp / "cert.pem");
  EXPECT_FALSE(std::filesystem::exists(tmp / "ca")) << "no lab CA is made when a certificate is given";
  auto ok = curl("localhost", kTarget1);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto other_name = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(other_name.exit_code, 60) << "the given certificate is for localhost only: " << other_name.err;
}

TEST_F(InterceptorTest, SeededRandomDelayIsRepeatableAndWithinItsRange) {
  start();
  Answer a = with_fault(Fault::Kind::delay);
  a.faults[0].delay = 100ms;
  a.faults[0].delay_max = 600ms;
  a.faults[0].seed = 42;
  auto id = expect(2, {a});
  std::vector<std::chrono::microseconds> took;
  for (int i = 0; i < 2; ++i) {
    auto before = steady::now();
    EXPECT_EQ(curl("fra1.blynk.cloud", kTarget1).out, "{}\n200");
    took.push_back(std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - before));
  }
  auto result = wait(id);
  ASSERT_EQ(result.exchanges.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_GE(took[i], 100ms);
    EXPECT_GE(result.exchanges[i].duration, 100ms);
    EXPECT_LE(result.exchanges[i].duration, 600ms + 500ms);
  }
  // The same seed gives the same delays in a second interceptor.
  icpt = nullptr;
  start();
  auto again = expect(2, {a});
  curl("fra1.blynk.cloud", kTarget1);
  curl("fra1.blynk.cloud", kTarget1);
  auto second = wait(again);
  ASSERT_EQ(second.exchanges.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    auto delta = second.exchanges[i].duration - result.exchanges[i].duration;
    EXPECT_LT(std::chrono::abs(delta), 200ms) << "request " << i + 1;
  }
}

TEST_F(InterceptorTest, StartFailureWhenThePortIsTaken) {
  start();
  auto c = config();
  c.port = icpt->port();
  try {
    Interceptor second(c);
    FAIL() << "bound twice";
  } catch (const InterceptorStartError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(icpt->port())), std::string::npos) << e.what();
  }
}

// ---- Blynk binary protocol ----

std::string login_then_info(const std::string& token) {
  return blynk::frame(blynk::hw_login, 1, token) +
         blynk::frame(blynk::internal, 2,
                      blynk::join_pairs({{"ver", "1.2.0"},
                                         {"h-beat", "45"},
                                         {"dev", "ESP32"},
                                         {"tmpl", "TMPL8sRFwcfqL"},
                                         {"fw-type", "TMPL8sRFwcfqL"}}));
}

TEST_F(InterceptorTest, BinaryLoginOkRecordsInfoForChecks) {
  start();
  LoginExpectation e;
  e.token = kToken;
  e.owner = "stock [sim-1]";
  e.info = {ValueCheck::equals("tmpl", "TMPL8sRFwcfqL"), ValueCheck::matches("ver", R"(\d+\.\d+\.\d+)"),
            ValueCheck::equals("dev", "ESP8266")};
  auto id = icpt->expect_login(e);
  auto options = client("blynk.cloud");
  options.stop_after_bytes = 5;
  auto r = run_client(options, login_then_info(kToken));
  ASSERT_EQ(r.received.size(), 5u) << r.read_error;
  EXPECT_EQ(r.received, blynk::status_frame(1, 200));
  auto result = wait(id);
  ASSERT_TRUE(result.satisfied) << result.summary;
  const auto& ex = result.exchanges.at(0);
  EXPECT_EQ(to_string(ex.kind), "login");
  EXPECT_EQ(ex.status, 200);
  ASSERT_EQ(ex.verdicts.size(), 3u);
  EXPECT_TRUE(ex.verdicts[0].passed);
  EXPECT_TRUE(ex.verdicts[1].passed);
  EXPECT_FALSE(ex.verdicts[2].passed);
  EXPECT_EQ(ex.verdicts[2].detail, "dev was \"ESP32\"");
  EXPECT_EQ(journal().find(kToken), std::string::npos);
}

TEST_F(InterceptorTest, BinaryLoginWithAnUnknownTokenGetsInvalidToken) {
  start();
  auto r = run_client(client("blynk.cloud"), login_then_info(kOtherToken) + blynk::frame(blynk::ping, 3, ""));
  EXPECT_EQ(r.received, blynk::status_frame(1, 9)) << "status 9 and the connection closed";
  auto run = icpt->unowned_unexpected();
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(to_string(run[0].kind), "login");
  EXPECT_EQ(run[0].status, 9);
}

TEST_F(InterceptorTest, BinaryLoginOnThePlainPort) {
  auto c = config();
  c.plain_http_port = 0;
  start(c);
  icpt->claim_token(kToken, "stock");
  auto options = client();
  options.tls = false;
  options.port = *icpt->plain_port();
  options.stop_after_bytes = 5;
  auto r = run_client(options, login_then_info(kToken));
  EXPECT_EQ(r.received, blynk::status_frame(1, 200)) << r.read_error;
}

TEST_F(InterceptorTest, BinaryPingIsAnswered) {
  start();
  icpt->claim_token(kToken, "stock");
  auto options = client("blynk.cloud");
  options.stop_after_bytes = 10;
  auto r = run_client(options, login_then_info(kToken) + blynk::frame(blynk::ping, 7, ""));
  EXPECT_EQ(r.received, blynk::status_frame(1, 200) + blynk::status_frame(7, 200));
}

// ---- proxy mode: the upstream is a second interceptor with its own CA ----

class ProxyTest : public InterceptorTest {
 protected:
  TempDir up_tmp;
  std::unique_ptr<Interceptor> upstream;
  void start_upstream() {
    InterceptorConfig u;
    u.ca_dir = up_tmp / "ca";
    upstream = std::make_unique<Interceptor>(u);
  }
  void start_proxy(const std::string& upstream_host, std::chrono::milliseconds timeout = 5s,
                   bool rewrite = false) {
    auto c = config();
    c.mode = InterceptorConfig::Mode::proxy;
    c.upstream_url = fmt::format("https://{}:{}", upstream_host, upstream ? upstream->port() : 1);
    c.upstream_ca_file = upstream ? upstream->ca_certificate_path() : std::filesystem::path();
    c.upstream_timeout = timeout;
    c.rewrite_redirects = rewrite;
    start(c);
  }
};

TEST_F(ProxyTest, ForwardsToAVerifiedUpstreamAndRecordsBothLegs) {
  start_upstream();
  ProvisionExpectation up;
  up.token = kToken;
  up.owner = "cloud";
  up.answers = {Answer::ok(R"({"region":"local"})")};
  auto up_id = upstream->expect_provision(up);
  start_proxy("localhost");
  auto id = expect();
  auto r = curl("fra1.blynk.cloud", kTarget2);
  EXPECT_EQ(r.out, "{\"region\":\"local\"}\n200") << r.err;
  auto up_result = upstream->wait(up_id, steady::now() + 10s);
  ASSERT_TRUE(up_result.satisfied);
  EXPECT_EQ(up_result.exchanges[0].sni, "localhost") << "the proxy sends SNI for the upstream's name";
  EXPECT_EQ(up_result.exchanges[0].target, kTarget2) << "the target goes upstream unchanged";
  auto result = wait(id);
  ASSERT_EQ(result.exchanges.size(), 1u);
  EXPECT_EQ(to_string(result.exchanges[0].answered_by), "upstream");
  EXPECT_EQ(result.exchanges[0].upstream_request,
            fmt::format("GET https://localhost:{}{}", upstream->port(), kTarget2));
  EXPECT_TRUE(result.passed()) << result.summary;
}

TEST_F(ProxyTest, AWrongUpstreamNameFailsVerificationWith502) {
  start_upstream();
  upstream->arm_connection_fault({ConnectionFault::Kind::wrong_name_cert, "", "", 5, ""});
  start_proxy("localhost");
  auto r = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(r.out.substr(r.out.size() - 3), "502") << r.out;
  auto all = icpt->all_exchanges();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(to_string(all[0].answered_by), "proxy_error");
  EXPECT_NE(all[0].error.find("infrastructure"), std::string::npos) << all[0].error;
  EXPECT_NE(all[0].error.find("certificate verify failed"), std::string::npos) << all[0].error;
}

TEST_F(ProxyTest, UpstreamDownIs502AndUpstreamSlowIs504) {
  start_proxy("localhost");  // port 1: nothing listens
  auto down = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(down.out.substr(down.out.size() - 3), "502") << down.out;
  icpt = nullptr;

  start_upstream();
  ProvisionExpectation up;
  up.token = kToken;
  Answer slow = with_fault(Fault::Kind::delay);
  slow.faults[0].delay = 2s;
  up.answers = {slow};
  upstream->expect_provision(up);
  start_proxy("localhost", 300ms);
  auto r = curl("fra1.blynk.cloud", kTarget1);
  EXPECT_EQ(r.out.substr(r.out.size() - 3), "504") << r.out;
  EXPECT_NE(journal().find("did not answer in time"), std::string::npos);
}

TEST_F(ProxyTest, UpstreamRedirectIsRelayedAndCanBeRewritten) {
  start_upstream();
  ProvisionExpectation up;
  up.token = kToken;
  up.answers = {Answer::redirect_to("https://lon1.blynk.cloud/external/api/provision?token=x")};
  upstream->expect_provision(up);
  start_proxy("localhost");
  auto relayed = curl("blynk.cloud", kTarget1, {"-D", "-", "-o", "/dev/null"});
  EXPECT_NE(relayed.out.find("HTTP/1.1 308"), std::string::npos) << relayed.out;
  EXPECT_NE(relayed.out.find("Location: https://lon1.blynk.cloud/external/api/provision?token=x"),
            std::string::npos)
      << relayed.out;
  icpt = nullptr;
  start_proxy("localhost", 5s, true);
  auto rewritten = curl("blynk.cloud", kTarget1, {"-D", "-", "-o", "/dev/null"});
  EXPECT_NE(rewritten.out.find(
                fmt::format("Location: https://127.0.0.1:{}/external/api/provision?token=x", icpt->port())),
            std::string::npos)
      << rewritten.out;
}

TEST_F(ProxyTest, BinaryLoginIsTunnelledAndDecoded) {
  start_upstream();
  upstream->claim_token(kToken, "cloud");
  start_proxy("localhost");
  LoginExpectation e;
  e.token = kToken;
  e.owner = "stock";
  e.info = {ValueCheck::equals("tmpl", "TMPL8sRFwcfqL")};
  auto id = icpt->expect_login(e);
  auto options = client("blynk.cloud");
  options.stop_after_bytes = 5;
  auto r = run_client(options, login_then_info(kToken));
  EXPECT_EQ(r.received, blynk::status_frame(1, 200)) << r.read_error;
  auto result = wait(id);
  ASSERT_TRUE(result.satisfied) << result.summary;
  EXPECT_EQ(to_string(result.exchanges[0].answered_by), "upstream");
  EXPECT_TRUE(result.passed()) << result.summary;
  // The upstream is a server of its own: it journals the login when the tunnelled INTERNAL frame
  // reaches it, which may be after the client has its answer and the proxy its record.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (upstream->exchanges_for_token(kToken).empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(upstream->exchanges_for_token(kToken).size(), 1u) << "the upstream saw the login";
}

// ---- hardening (issue 16) ----

// A plain TCP client with its own timing, for deadline tests.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // True when the server closed the connection (end of stream or reset) before `deadline`; what
  // it sent meanwhile is appended to `received`.
  bool closed_before(steady::time_point deadline, std::string* received = nullptr) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      auto n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return true;
      if (received) received->append(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Issue 16 #11: a header byte sent late must not restart the header deadline.
TEST_F(InterceptorTest, HeaderDeadlineRunsFromThePhasesStartNotFromTheLastByte) {
  auto c = config();
  c.plain_http_port = 0;
  c.header_timeout = 4s;
  start(c);
  RawClient slow(*icpt->plain_port());
  ASSERT_TRUE(slow.connected());
  auto connected = steady::now();
  std::this_thread::sleep_for(3500ms);
  ASSERT_TRUE(slow.send("GET /external/api/provision?token=x HTTP/1.1\r\n"));
  // Closed at 4 s; before the fix the byte at 3.5 s bought another 4 s (closed at 7.5 s).
  EXPECT_TRUE(slow.closed_before(connected + 6500ms)) << "the late byte restarted the header deadline";
}

// Issue 16 #11: a Blynk client that never logs in is closed at its own deadline, PINGs or not.
TEST_F(InterceptorTest, UnauthenticatedBlynkSessionIsClosedAtItsDeadlineWhateverItPings) {
  auto c = config();
  c.plain_http_port = 0;
  c.header_timeout = 2s;
  c.login_timeout = 2s;
  start(c);
  RawClient pinger(*icpt->plain_port());
  ASSERT_TRUE(pinger.connected());
  auto connected = steady::now();
  bool closed = false;
  std::string answers;
  for (std::uint16_t id = 1; steady::now() < connected + 6s && !closed; ++id) {
    pinger.send(blynk::frame(blynk::ping, id, ""));
    closed = pinger.closed_before(steady::now() + 300ms, &answers);
  }
  EXPECT_TRUE(closed) << "PINGs kept an unauthenticated session alive";
  EXPECT_LT(steady::now() - connected, 5s);
  EXPECT_EQ(answers.substr(0, 5), blynk::status_frame(1, blynk::not_authenticated));
  std::string j;
  for (auto until = steady::now() + 10s; steady::now() < until; std::this_thread::sleep_for(20ms))
    if ((j = journal()).find("no login before the deadline") != std::string::npos) break;
  EXPECT_NE(j.find("no login before the deadline"), std::string::npos) << j;
}

// Issue 16 #5: a huge invalid login is kept as bounded evidence, not whole.
TEST_F(InterceptorTest, HugeInvalidLoginsAreKeptAsBoundedEvidence) {
  start();
  // Each connection sends only what the server reads before it answers, so no reset can cut the
  // answer short.
  auto r = run_client(client("blynk.cloud"), blynk::frame(blynk::hw_login, 1, std::string(60000, 'x')));
  EXPECT_EQ(r.received, blynk::status_frame(1, 9));
  auto run = icpt->unowned_unexpected();
  ASSERT_EQ(run.size(), 1u);
  EXPECT_LE(run[0].token.size(), 512u);
  EXPECT_NE(run[0].token.find("60000 bytes"), std::string::npos) << "it says how long it was";

  icpt->claim_token(kToken, "stock");
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 500; ++i)
    many.emplace_back(fmt::format("k{}", i), std::string(100, 'v'));
  auto options = client("blynk.cloud");
  options.stop_after_bytes = 5;
  run_client(options, blynk::frame(blynk::hw_login, 1, kToken) +
                          blynk::frame(blynk::internal, 2, blynk::join_pairs(many)));
  std::vector<Exchange> logins;
  for (auto until = steady::now() + 10s; steady::now() < until && logins.empty();
       std::this_thread::sleep_for(20ms))
    logins = icpt->exchanges_for_owner("stock");
  ASSERT_EQ(logins.size(), 1u);
  EXPECT_LE(logins[0].info.size(), 32u);
  EXPECT_LE(journal().size(), 8192u);
}

// Issue 16 #5: the minted leaves are cached up to a bound, least recently used going first.
TEST_F(InterceptorTest, LeafCacheIsBounded) {
  start();
  for (int i = 0; i < 300; ++i) {
    auto options = client(fmt::format("n{}.lab.test", i));
    options.ca_file.clear();
    auto r = run_client(options, get_request("/x"));
    ASSERT_TRUE(r.handshake_ok) << i << ": " << r.handshake_error;
  }
  EXPECT_LE(icpt->cached_leaf_certificates(), 256u);
  EXPECT_GT(icpt->cached_leaf_certificates(), 0u);
  // A name minted long ago is minted again and still verifies.
  auto again = run_client(client("n0.lab.test"), get_request("/x"));
  EXPECT_TRUE(again.handshake_ok) << again.handshake_error;
}

bool valid_json_line(const std::string& line) {
  boost::system::error_code ec;
  boost::json::parse(line, ec);
  return !ec && provhil::is_valid_utf8(line);
}

// Issue 16 #6: every journal line is valid UTF-8 and valid JSON, whatever bytes came in.
TEST_F(InterceptorTest, JournalLinesAreValidUtf8WhateverTheClientSent) {
  start();
  expect();
  auto options = client(std::string("bad\xff\xfe.example", 13));
  options.ca_file.clear();  // not a DNS name: it gets the advertised address's leaf
  auto r = run_client(options, get_request(kTarget1 + "&ver=TMPL%FF%FE%C0%AF"));
  EXPECT_TRUE(r.handshake_ok) << r.handshake_error;
  std::string j = journal();
  ASSERT_FALSE(j.empty());
  std::istringstream lines(j);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_TRUE(valid_json_line(line)) << line;
  }
  EXPECT_GE(count, 1);
  EXPECT_NE(j.find("\\\\xFF\\\\xFE"), std::string::npos) << "invalid bytes are shown as \\xHH: " << j;
  for (const auto& ex : icpt->all_exchanges())
    EXPECT_TRUE(valid_json_line(ex.to_json_line(&masker)));
}

// Issue 16 #7: an SNI that is not a DNS name never becomes a SAN.
TEST_F(InterceptorTest, OnlyAValidDnsNameBecomesASan) {
  start();
  auto options = client("a,DNS:evil.com,IP:10.9.9.9,email:x@y");
  options.ca_file.clear();
  auto r = run_client(options, get_request(kTarget1));
  ASSERT_TRUE(r.handshake_ok) << r.handshake_error;
  EXPECT_EQ(r.peer_san, std::vector<std::string>{"IP:127.0.0.1"});  // the advertised address
  auto good = client("fra1.blynk.cloud");
  auto ok = run_client(good, get_request(kTarget1));
  ASSERT_TRUE(ok.handshake_ok) << ok.handshake_error;
  EXPECT_EQ(ok.peer_san, std::vector<std::string>{"DNS:fra1.blynk.cloud"});
}

// Issue 16 #8: a token in another percent-encoding is masked too.
TEST_F(InterceptorTest, TokenIsMaskedInEveryPercentEncoding) {
  start();
  expect();
  std::string lower;  // every character as lower-case %xx
  for (unsigned char c : kToken)
    lower += fmt::format("%{:02x}", c);
  curl("fra1.blynk.cloud",
       "/external/api/provision?token=%52" + kToken.substr(1) + "&templateId=TMPL8sRFwcfqL");
  curl("fra1.blynk.cloud", "/external/api/provision?token=" + lower + "&templateId=TMPL8sRFwcfqL");
  auto exchanges = icpt->all_exchanges();
  ASSERT_EQ(exchanges.size(), 2u);
  EXPECT_EQ(exchanges[0].token, kToken) << "accepted as the token";
  std::string j = journal();
  EXPECT_EQ(j.find(kToken.substr(1)), std::string::npos) << j;
  EXPECT_EQ(j.find(lower.substr(3)), std::string::npos) << j;
  EXPECT_NE(j.find("token=[MASKED:token]&templateId"), std::string::npos) << j;
}

// Issue 16 #5: exchanges nobody owns are kept in memory up to a bound; the journal has them all.
TEST_F(InterceptorTest, ExchangesNobodyOwnsAreKeptInMemoryUpToABound) {
  start();
  auto plain = client();
  plain.tls = false;
  for (int i = 0; i < 300; ++i)
    run_client(plain, std::string("\x01\x02garbage", 9));
  std::string j;
  for (auto until = steady::now() + 10s; steady::now() < until; std::this_thread::sleep_for(20ms)) {
    j = journal();
    if (std::count(j.begin(), j.end(), '\n') >= 300) break;
  }
  EXPECT_EQ(std::count(j.begin(), j.end(), '\n'), 300);
  EXPECT_EQ(icpt->all_exchanges().size(), 256u);
}

}  // namespace
