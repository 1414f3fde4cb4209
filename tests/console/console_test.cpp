// The console engine over real ptys (a `cat` child echoes what the test writes, so the test controls exactly
// which bytes "the board" prints and when), real child processes and real files.
#include <signal.h>

#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "console/console.hpp"
#include "support/temp_dir.hpp"

namespace provhil::console {
namespace {

using namespace std::chrono_literals;
using provhil::test::read_file;
using provhil::test::TempDir;

std::unique_ptr<serial::Port> spawn(std::vector<std::string> argv) {
  serial::SpawnOptions options;
  options.argv = std::move(argv);
  return serial::spawn_pty(options);
}

// A board that prints whatever the test writes to it.
struct EchoBoard {
  std::unique_ptr<serial::Port> port = spawn({"cat"});
  void print(std::string_view bytes) { port->write(bytes); }
};

ExpectRequest request(std::vector<Pattern> any_of, Clock::duration within,
                      std::vector<Pattern> must_not = {}) {
  ExpectRequest r;
  r.any_of = std::move(any_of);
  r.must_not = std::move(must_not);
  r.deadline = Clock::now() + within;
  return r;
}

TEST(Console, MatchesARegexAndReturnsNamedCaptures) {
  EchoBoard board;
  Console console(*board.port, {});
  board.print("[1200] Connecting to WiFi\r\n[5120] Ready (ping: 42ms).\r\n");
  auto result = console.expect(Pattern::regex(R"(Ready \(ping: (?<ping_ms>\d+)ms\)\.)"), 10s);
  ASSERT_TRUE(result.ok()) << result.describe();
  EXPECT_EQ(result.pattern_index, 0);
  EXPECT_EQ(result.line.text, "[5120] Ready (ping: 42ms).");
  EXPECT_EQ(result.captures, (std::map<std::string, std::string>{{"ping_ms", "42"}}));
}

TEST(Console, AnyOfSaysWhichPatternMatched) {
  EchoBoard board;
  Console console(*board.port, {});
  board.print("[300] State: WAIT_CONFIG\n");
  auto result = console.expect(request({Pattern::literal("State: RUNNING"),
                                        Pattern::regex("State: (?<state>WAIT_\\w+)"), Pattern::literal("x")},
                                       10s));
  ASSERT_TRUE(result.ok()) << result.describe();
  EXPECT_EQ(result.pattern_index, 1);
  EXPECT_EQ(result.captures.at("state"), "WAIT_CONFIG");
}

TEST(Console, AnOldLineNeverSatisfiesANewExpect) {
  EchoBoard board;
  Console console(*board.port, {});
  board.print("Ready\n");
  ASSERT_TRUE(console.expect(Pattern::literal("Ready"), 10s).ok());
  // The match moved the mark past that line.
  auto again = console.expect(Pattern::literal("Ready"), 150ms);
  EXPECT_EQ(again.status, ExpectStatus::timeout);
  // A line that arrived after the last match but before the expect still counts...
  board.print("Ready again\n");
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(console.expect(Pattern::literal("Ready again"), 10s).ok());
  // ...unless mark() was called after it arrived.
  board.print("stale\n");
  ASSERT_TRUE(console.expect(Pattern::literal("stale"), 10s).ok());
  board.print("old news\n");
  auto deadline = Clock::now() + 10s;
  while (console.recent_lines(1).empty() || console.recent_lines(1).back().text != "old news") {
    ASSERT_LT(Clock::now(), deadline);
    std::this_thread::sleep_for(5ms);
  }
  console.mark();
  EXPECT_EQ(console.expect(Pattern::literal("old news"), 150ms).status, ExpectStatus::timeout);
}

TEST(Console, MustNotAppearFailsTheMomentItAppears) {
  EchoBoard board;
  Console console(*board.port, {});
  auto waiting = std::async(std::launch::async, [&] {
    return console.expect(
        request({Pattern::literal("Ready")}, 20s,
                {Pattern::literal("Backtrace:"), Pattern::literal("Guru Meditation Error")}));
  });
  std::this_thread::sleep_for(50ms);
  auto printed_at = Clock::now();
  board.print("[900] Guru Meditation Error: Core  1 panic'ed (LoadProhibited)\r\n");
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  auto result = waiting.get();
  EXPECT_LT(Clock::now() - printed_at, 2s);  // not the 20 s deadline
  EXPECT_EQ(result.status, ExpectStatus::forbidden);
  EXPECT_EQ(result.pattern_index, 1);
  EXPECT_NE(result.reason.find("Guru Meditation"), std::string::npos) << result.reason;
}

TEST(Console, ForbiddenLineSinceTheMarkFailsALaterExpect) {
  EchoBoard board;
  Console console(*board.port, {});
  board.print("abort() was called at PC 0x400d1234\nReady\n");
  std::this_thread::sleep_for(100ms);
  auto result = console.expect(request({Pattern::literal("Ready")}, 10s, {Pattern::literal("abort()")}));
  EXPECT_EQ(result.status, ExpectStatus::forbidden);
}

TEST(Console, TimeoutCarriesTheLastLinesAsEvidence) {
  EchoBoard board;
  ConsoleOptions options;
  options.evidence_lines = 3;
  Console console(*board.port, options);
  board.print("line 1\nline 2\nline 3\nline 4\n");
  auto start = Clock::now();
  auto result = console.expect(Pattern::regex("State: RUNNING"), 300ms);
  EXPECT_GE(Clock::now() - start, 300ms);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(result.status, ExpectStatus::timeout);
  ASSERT_EQ(result.evidence.size(), 3U);
  EXPECT_NE(result.evidence[0].text.find("line 2"), std::string::npos);
  EXPECT_NE(result.evidence[2].text.find("line 4"), std::string::npos);
  auto text = result.describe();
  EXPECT_NE(text.find("timed out waiting for \"State: RUNNING\""), std::string::npos) << text;
  EXPECT_NE(text.find("line 4"), std::string::npos) << text;
}

TEST(Console, PromptWithoutNewlineMatchesAfterSilence) {
  EchoBoard board;
  ConsoleOptions options;
  options.partial_line_after = 50ms;
  Console console(*board.port, options);
  board.print("[100] Console ready\r\n> ");
  auto result = console.expect(Pattern::regex("^> ?$"), 10s);
  ASSERT_TRUE(result.ok()) << result.describe();
  EXPECT_TRUE(result.line.partial);
  // The prompt then gets glued to the next log line: split off, so ^-anchored patterns still match.
  board.print("[200] Connecting to WiFi\r\n");
  auto next = console.expect(Pattern::regex(R"(^\[\d+\] Connecting)"), 10s);
  ASSERT_TRUE(next.ok()) << next.describe();
}

TEST(Console, HalfALineDoesNotMatchBeforeItsEnd) {
  EchoBoard board;
  ConsoleOptions options;
  options.partial_line_after = 2s;
  Console console(*board.port, options);
  board.print("Ready (ping: 1");
  std::this_thread::sleep_for(50ms);
  board.print("23ms).\n");
  auto result = console.expect(Pattern::regex(R"(ping: (?<ms>\d+))"), 10s);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.captures.at("ms"), "123");
}

TEST(Console, CrOnlyLinesAreLines) {
  EchoBoard board;
  Console console(*board.port, {});
  board.print("OTA 10%\rOTA 55%\rOTA 100%\r");
  auto result = console.expect(Pattern::regex("OTA (?<pct>\\d+)%"), 10s);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.captures.at("pct"), "10");
  EXPECT_EQ(console.expect(Pattern::literal("OTA 100%"), 10s).line.text, "OTA 100%");
}

TEST(Console, PortVanishingMidExpectIsReportedWithin100ms) {
  auto port = spawn({"sh", "-c", "echo up; exec sleep 30"});
  Console console(*port, {});
  ASSERT_TRUE(console.expect(Pattern::literal("up"), 10s).ok());
  auto waiting = std::async(std::launch::async, [&] {
    auto result = console.expect(Pattern::literal("never printed"), 20s);
    return std::pair{result, Clock::now()};
  });
  std::this_thread::sleep_for(100ms);
  auto killed_at = Clock::now();
  port->send_signal(SIGKILL);
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  auto [result, returned_at] = waiting.get();
  EXPECT_EQ(result.status, ExpectStatus::vanished);
  EXPECT_NE(result.reason.find("killed by signal 9"), std::string::npos) << result.reason;
  EXPECT_LT(returned_at - killed_at, 100ms);
  ASSERT_TRUE(console.vanished().has_value());
  // Later expects fail at once, not at their deadline.
  auto start = Clock::now();
  EXPECT_EQ(console.expect(Pattern::literal("x"), 20s).status, ExpectStatus::vanished);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_THROW(console.send_line("hello"), serial::PortError);
}

TEST(Console, RawAndTextLogsWithSecretsMaskedAndSwitchable) {
  TempDir dir;
  SecretMasker masker;
  masker.add("s3cr3t-token-value", "token");
  EchoBoard board;
  ConsoleOptions options;
  options.raw_log = dir / "a/raw.log";
  options.text_log = dir / "a/text.log";
  options.masker = &masker;
  Console console(*board.port, options);
  std::string bytes("[10] token=s3cr3t-token-value\r\n[11] bin \x01\x00\xff end\r\n", 48);
  board.print(bytes);
  ASSERT_TRUE(console.expect(Pattern::literal("end"), 10s).ok());
  console.send_line("auth s3cr3t-token-value");
  ASSERT_TRUE(console.expect(Pattern::literal("auth"), 10s).ok());
  console.set_logs(dir / "b/raw.log", dir / "b/text.log");
  board.print("after switch\n");
  ASSERT_TRUE(console.expect(Pattern::literal("after switch"), 10s).ok());
  console.set_logs({}, {});  // flush and close

  auto raw = read_file(dir / "a/raw.log");
  EXPECT_EQ(raw.substr(0, bytes.size()), bytes);  // bytes exactly as received
  auto text = read_file(dir / "a/text.log");
  EXPECT_EQ(text.find("s3cr3t-token-value"), std::string::npos) << text;
  EXPECT_NE(text.find("] [10] token=[MASKED:token]"), std::string::npos) << text;
  EXPECT_NE(text.find("bin \\x01\\x00\\xFF end"), std::string::npos) << text;
  EXPECT_NE(text.find("::: sent \"auth [MASKED:token]\""), std::string::npos) << text;
  EXPECT_EQ(text.find("after switch"), std::string::npos);
  EXPECT_NE(read_file(dir / "b/text.log").find("after switch"), std::string::npos);
  EXPECT_EQ(read_file(dir / "b/raw.log"), "after switch\n");
}

TEST(Console, EvidenceIsMasked) {
  SecretMasker masker;
  masker.add("hunter2-wifi-pass", "wifi");
  EchoBoard board;
  ConsoleOptions options;
  options.masker = &masker;
  Console console(*board.port, options);
  board.print("pass=hunter2-wifi-pass\n");
  auto result = console.expect(Pattern::literal("never"), 200ms);
  EXPECT_EQ(result.describe().find("hunter2"), std::string::npos) << result.describe();
  EXPECT_NE(result.describe().find("[MASKED:wifi]"), std::string::npos) << result.describe();
}

TEST(Console, GarbageAndTenMegabytesWithoutNewlineStayBounded) {
  auto port = spawn({"sh", "-c",
                     "head -c 10000000 /dev/zero | tr '\\000' 'x'; head -c 200000 /dev/urandom; "
                     "printf '\\nEND-OF-FLOOD\\n'; exec sleep 30"});
  ConsoleOptions options;
  options.max_line_length = 1000;
  options.window_lines = 500;
  options.window_bytes = 256 * 1024;
  Console console(*port, options);
  auto result = console.expect(Pattern::literal("END-OF-FLOOD"), 30s);
  ASSERT_TRUE(result.ok()) << result.describe();
  EXPECT_GE(console.bytes_received(), 10'000'000U);
  auto window = console.recent_lines();
  EXPECT_LE(window.size(), 500U);
  std::size_t total = 0;
  for (const auto& line : window) {
    EXPECT_LE(line.text.size(), 1000U);
    total += line.text.size();
  }
  EXPECT_LE(total, 256U * 1024U);
  EXPECT_GE(console.lines_received(), 10000U);  // the flood was cut into capped slices
}

TEST(Console, SendLineWithPerCharacterDelay) {
  EchoBoard board;
  Console console(*board.port, {});
  auto start = Clock::now();
  console.send_line("wifi", "\n", 20ms);
  EXPECT_GE(Clock::now() - start, 100ms);  // 5 bytes, 20 ms each
  auto result = console.expect(Pattern::regex("^wifi$"), 10s);
  EXPECT_TRUE(result.ok()) << result.describe();
}

TEST(Console, ResetMarksThenRunsTheStrategy) {
  auto port = spawn(
      {"sh", "-c", "trap 'echo \"[0] Booting\"' USR1; echo '[0] Booting'; while :; do sleep 0.05; done"});
  Console console(*port, {});
  ASSERT_TRUE(console.expect(Pattern::literal("Booting"), 10s).ok());
  std::this_thread::sleep_for(50ms);
  console.reset(serial::parse_reset_strategy("signal"), "sim-1");
  auto result = console.expect(Pattern::literal("Booting"), 10s);
  EXPECT_TRUE(result.ok()) << result.describe();
}

TEST(Console, ReplayedLogForOfflinePatternWork) {
  TempDir dir;
  auto path = provhil::test::write_file(dir / "board.log",
                                        "[1000] Blynk.Edgent v0.9.1\n[1500] State: WAIT_CONFIG\n"
                                        "[9000] State: RUNNING\n");
  auto port = serial::open_replay(path);
  Console console(*port, {});
  EXPECT_EQ(console.expect(Pattern::regex("Edgent v(?<ver>[\\d.]+)"), 10s).captures.at("ver"), "0.9.1");
  EXPECT_TRUE(console.expect(Pattern::literal("State: RUNNING"), 10s).ok());
  auto end = console.expect(Pattern::literal("never"), 10s);
  EXPECT_EQ(end.status, ExpectStatus::ended);  // the log does not hold the line: a failed check
  EXPECT_NE(end.reason.find("end of replay"), std::string::npos) << end.reason;
  EXPECT_FALSE(end.evidence.empty());
  EXPECT_FALSE(console.vanished());
}

// The replay race of issue 12: the reader has read the whole log before anybody expects anything (a gate:
// the console says the log ended); a rewind still gives every line from the first, in order.
TEST(Console, RewindGivesTheWholeLogAfterTheReaderReadItAll) {
  TempDir dir;
  auto path = provhil::test::write_file(dir / "board.log", "[1] one\n[2] two\n[3] three");
  auto port = serial::open_replay(path);
  Console console(*port, {});
  auto deadline = Clock::now() + 10s;
  while (!console.ended() && Clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(console.ended());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(console.rewind());
    EXPECT_FALSE(console.ended());
    for (const char* line : {"[1] one", "[2] two", "[3] three"}) {
      auto result = console.expect(Pattern::literal(line), 10s);
      EXPECT_TRUE(result.ok()) << "round " << round << ": " << result.describe();
    }
    EXPECT_EQ(console.expect(Pattern::literal("[1] one"), 10s).status, ExpectStatus::ended);
  }
}

TEST(Console, ResetOnAReplayRewindsIt) {
  TempDir dir;
  auto path = provhil::test::write_file(dir / "board.log", "[1] boot\n[2] WAIT_CONFIG\n");
  auto port = serial::open_replay(path);
  Console console(*port, {});
  ASSERT_TRUE(console.expect(Pattern::literal("WAIT_CONFIG"), 10s).ok());
  EXPECT_TRUE(console.reset(serial::parse_reset_strategy("none"), "replay-1"));
  EXPECT_TRUE(console.expect(Pattern::literal("[1] boot"), 10s).ok());
}

TEST(Console, AnExpectThatDoesNotConsumeLeavesTheMark) {
  TempDir dir;
  auto path = provhil::test::write_file(dir / "board.log", "[1] a\n[2] b\n");
  auto port = serial::open_replay(path);
  Console console(*port, {});
  ExpectRequest look{.any_of = {Pattern::literal("[2] b")},
                     .must_not = {},
                     .deadline = Clock::now() + 10s,
                     .consume = false};
  ASSERT_TRUE(console.expect(look).ok());
  EXPECT_TRUE(console.expect(Pattern::literal("[1] a"), 10s).ok());
}

TEST(Console, WindowKeepsOnlyRecentLines) {
  EchoBoard board;
  ConsoleOptions options;
  options.window_lines = 50;
  Console console(*board.port, options);
  std::string many;
  for (int i = 0; i < 400; ++i)
    many += "line " + std::to_string(i) + "\n";
  board.print(many);
  ASSERT_TRUE(console.expect(Pattern::literal("line 399"), 10s).ok());
  auto window = console.recent_lines();
  EXPECT_EQ(window.size(), 50U);
  EXPECT_EQ(window.back().text, "line 399");
  EXPECT_EQ(window.back().seq, 399U);
}

TEST(Console, BadPatternsAndRequestsAreRefused) {
  try {
    Pattern::regex("State: (RUNNING");
    FAIL() << "compiled";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("State: (RUNNING"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("offset"), std::string::npos) << error.what();
  }
  EchoBoard board;
  Console console(*board.port, {});
  EXPECT_THROW(console.expect(ExpectRequest{}), std::invalid_argument);
}

}  // namespace
}  // namespace provhil::console

namespace provhil::console {
namespace {

// Chunks in which no pattern's required literal occurs are skipped in one pass; this checks that no pattern
// shape ever loses a match that way (optional parts, groups, alternation, case folding, lookahead, anchors).
TEST(Console, ChunkPrefilterNeverHidesAMatch) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(colou?r: (?<c>red))", "[5] color: red"},
      {R"((?:WiFi|wifi) up)", "[5] wifi up"},
      {R"(a+bcdefg)", "[5] aaabcdefg"},
      {R"(x{2}yyyy)", "[5] xxyyyy"},
      {R"(\(paren\) tail)", "[5] (paren) tail"},
      {R"([Ee]rror code \d+)", "[5] error code 12"},
      {R"((?i)guru meditation)", "[5] GURU MEDITATION"},
      {R"(Ready(?= now))", "[5] Ready now"},
      {R"(ab(cd)?efgh)", "[5] abefgh"},
      {R"(^\[\d+\] Boot$)", "[5] Boot"},
      {R"(State: (?<s>RUN)NING)", "[5] State: RUNNING"},
  };
  std::string filler;
  for (int i = 0; i < 300; ++i)
    filler += "[" + std::to_string(i) + "] Heartbeat: 45s, free heap: 12345 bytes\n";
  for (const auto& [pattern, line] : cases) {
    auto port = spawn({"cat"});
    Console console(*port, {});
    ExpectRequest r;
    r.any_of = {Pattern::regex("never printed at all"), Pattern::regex(pattern)};
    r.must_not = {Pattern::literal("Backtrace:")};
    r.deadline = Clock::now() + 10s;
    auto waiting = std::async(std::launch::async, [&] { return console.expect(r); });
    std::this_thread::sleep_for(20ms);
    port->write(filler + line.substr(0, 6));  // the match straddles two reads
    std::this_thread::sleep_for(30ms);
    port->write(line.substr(6) + "\n" + filler);
    auto result = waiting.get();
    EXPECT_TRUE(result.ok()) << pattern << ": " << result.reason;
    EXPECT_EQ(result.pattern_index, 1) << pattern;
    EXPECT_EQ(result.line.text, line) << pattern;
  }
}

}  // namespace
}  // namespace provhil::console

namespace provhil::console {
namespace {

TEST(Console, LongReplayIsPausedSoEarlyLinesAreNotPushedOut) {
  TempDir dir;
  std::string log;
  for (int i = 0; i < 5000; ++i)
    log += "[" + std::to_string(1000 + i) + "] line " + std::to_string(i) + "\n";
  auto path = provhil::test::write_file(dir / "long.log", log);
  auto port = serial::open_replay(path);
  ConsoleOptions options;
  options.window_lines = 100;
  Console console(*port, options);
  std::this_thread::sleep_for(100ms);  // a free-running reader would have played all 5000 lines by now
  EXPECT_TRUE(console.expect(Pattern::regex("line 10$"), 10s).ok());
  EXPECT_TRUE(console.expect(Pattern::regex("line 4000$"), 10s).ok());
  EXPECT_TRUE(console.expect(Pattern::regex("line 4999$"), 10s).ok());
  EXPECT_EQ(console.expect(Pattern::literal("never"), 10s).status, ExpectStatus::ended);
}

}  // namespace
}  // namespace provhil::console
