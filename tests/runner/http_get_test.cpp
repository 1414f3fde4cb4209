// The phone app's HTTP client against real loopback sockets: deadlines hold even when a board stops
// answering, and "nothing listens" is told apart (the runner retries only that).
#include <gtest/gtest.h>

#include "runner/http_get.hpp"
#include "support/loopback.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using provhil::runner::http_get;

// A listening socket that never accepts or answers: connects succeed through the backlog.
using SilentServer = provhil::test::LoopbackListener;

TEST(HttpGet, ASilentBoardEndsAtTheDeadline) {
  SilentServer server;
  auto started = Clock::now();
  try {
    http_get("127.0.0.1", server.port, "/board_info.json", Clock::now() + std::chrono::milliseconds(300));
    FAIL() << "expected an HttpError";
  } catch (const provhil::runner::HttpConnectError& e) {
    FAIL() << "connected fine; this is not a connect error: " << e.what();
  } catch (const provhil::runner::HttpError& e) {
    EXPECT_NE(std::string(e.what()).find("before the deadline"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(3));
}

TEST(HttpGet, NothingListeningIsAConnectError) {
  std::uint16_t port = 0;
  {
    SilentServer closed;  // take a free port, then close it
    port = closed.port;
  }
  EXPECT_THROW(http_get("127.0.0.1", port, "/", Clock::now() + std::chrono::seconds(5)),
               provhil::runner::HttpConnectError);
}

}  // namespace
