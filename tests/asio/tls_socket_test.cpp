// TlsSocket over real TLS on loopback: the server side is TlsSocket, the client Asio's ssl::stream
// (an independent implementation) verifying a leaf minted from a fresh lab CA.
#include "asio/tls_socket.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "intercept/certs.hpp"
#include "intercept/lab_ca.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using provhil::net::TlsSocket;
using steady = std::chrono::steady_clock;
using ClientStream = ssl::stream<tcp::socket>;

class TlsSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = provhil::intercept::ensure_lab_ca(dir_.path());
    ca_pem_ = ca.cert_pem.string();
    minter_ = std::make_unique<provhil::intercept::LeafMinter>(dir_.path());
    server_ctx_ = SSL_CTX_new(TLS_server_method());
    ASSERT_NE(server_ctx_, nullptr);
    ASSERT_EQ(SSL_CTX_use_certificate(server_ctx_, minter_->mint("localhost").get()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx_, minter_->leaf_key()), 1);
    SSL_CTX_set_mode(server_ctx_, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_num_tickets(server_ctx_, 0);  // as the interceptor: nothing unread when a client drops
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
  }
  void TearDown() override {
    if (client_.joinable()) client_.join();
    SSL_CTX_free(server_ctx_);
  }

  // A client on its own thread: connects, handshakes verifying the leaf, then runs `then`.
  void start_client(std::function<void(ClientStream&)> then) {
    client_ = std::thread([this, then = std::move(then)] {
      asio::io_context ioc;
      ssl::context ctx(ssl::context::tls_client);
      ctx.load_verify_file(ca_pem_);
      ctx.set_verify_mode(ssl::verify_peer);
      ClientStream stream(ioc, ctx);
      stream.set_verify_callback(ssl::host_name_verification("localhost"));
      stream.lowest_layer().connect(acceptor_.local_endpoint());
      boost::system::error_code ec;
      stream.handshake(ssl::stream_base::client, ec);
      client_handshake_error_ = ec;
      if (!ec) then(stream);
    });
  }

  // Accepts one connection and runs `body` on it as a coroutine until it finishes.
  void serve(std::function<asio::awaitable<void>(TlsSocket&)> body) {
    // The stream lives in the coroutine: gone when it ends, and its deadline timer with it.
    auto owner = [&](tcp::socket socket) -> asio::awaitable<void> {
      TlsSocket stream(std::move(socket), server_ctx_);
      co_await body(stream);
    };
    std::exception_ptr failure;
    asio::co_spawn(ioc_, owner(acceptor_.accept(asio::make_strand(ioc_))),
                   [&](std::exception_ptr e) { failure = e; });
    ioc_.run();
    if (failure) std::rethrow_exception(failure);
  }

  provhil::test::TempDir dir_;
  std::string ca_pem_;
  std::unique_ptr<provhil::intercept::LeafMinter> minter_;
  SSL_CTX* server_ctx_ = nullptr;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::thread client_;
  boost::system::error_code client_handshake_error_;
};

auto with(boost::system::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

TEST_F(TlsSocketTest, HandshakesReadsAndWritesGatheredBuffers) {
  std::promise<std::string> client_read;
  auto client_result = client_read.get_future();
  start_client([&](ClientStream& stream) {
    asio::write(stream, asio::buffer(std::string("ping")));
    std::string reply(17, '\0');
    boost::system::error_code ec;
    asio::read(stream, asio::buffer(reply), ec);
    client_read.set_value(ec ? "error: " + ec.message() : reply);
  });
  std::string version, server_read;
  serve([&](TlsSocket& stream) -> asio::awaitable<void> {
    boost::system::error_code ec;
    std::array<unsigned char, 1> head{};
    auto peeked = co_await stream.async_peek(asio::buffer(head), with(ec));
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(peeked, 1u);
    EXPECT_EQ(head[0], 0x16) << "a peek leaves the ClientHello's first byte";
    co_await stream.async_handshake(ssl::stream_base::server, with(ec));
    EXPECT_FALSE(ec) << ec.message();
    version = SSL_get_version(stream.native_handle());
    std::array<char, 16> buffer{};
    auto n = co_await stream.async_read_some(asio::buffer(buffer), with(ec));
    server_read.assign(buffer.data(), n);
    // Three pieces, as Beast hands a message over.
    std::array<asio::const_buffer, 3> pieces{asio::buffer("HTTP/1.1 ", 9), asio::buffer("200 OK", 6),
                                             asio::buffer("\r\n", 2)};
    co_await asio::async_write(stream, pieces, with(ec));
    EXPECT_FALSE(ec) << ec.message();
    stream.expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(with(ec));
  });
  EXPECT_FALSE(client_handshake_error_) << client_handshake_error_.message();
  EXPECT_EQ(version, "TLSv1.3");
  EXPECT_EQ(server_read, "ping");
  EXPECT_EQ(client_result.get(), "HTTP/1.1 200 OK\r\n");
}

TEST_F(TlsSocketTest, DeadlineEndsASilentPeersReadWithTimeout) {
  // Futures taken before the client starts: the promise is gone once the test body returns.
  std::promise<void> server_done;
  std::shared_future<void> done = server_done.get_future().share();
  start_client([done](ClientStream&) { done.wait(); });  // handshakes, then says nothing
  boost::system::error_code read_error;
  steady::duration waited{};
  serve([&](TlsSocket& stream) -> asio::awaitable<void> {
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, with(ec));
    EXPECT_FALSE(ec) << ec.message();
    auto started = steady::now();
    stream.expires_after(std::chrono::milliseconds(200));
    std::array<char, 16> buffer{};
    co_await stream.async_read_some(asio::buffer(buffer), with(read_error));
    waited = steady::now() - started;
  });
  server_done.set_value();
  EXPECT_EQ(read_error, boost::beast::error::timeout) << read_error.message();
  EXPECT_GE(waited, std::chrono::milliseconds(190));
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(TlsSocketTest, ResettingTheDeadlineReplacesTheEarlierOne) {
  start_client([&](ClientStream& stream) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    asio::write(stream, asio::buffer(std::string("late")));
    boost::system::error_code ec;
    stream.shutdown(ec);
  });
  std::string got;
  boost::system::error_code read_error;
  serve([&](TlsSocket& stream) -> asio::awaitable<void> {
    boost::system::error_code ec;
    stream.expires_after(std::chrono::milliseconds(300));
    co_await stream.async_handshake(ssl::stream_base::server, with(ec));
    EXPECT_FALSE(ec) << ec.message();
    stream.expires_after(std::chrono::seconds(5));  // replaces the 300 ms one, long past when data comes
    std::array<char, 16> buffer{};
    auto n = co_await stream.async_read_some(asio::buffer(buffer), with(read_error));
    got.assign(buffer.data(), n);
  });
  EXPECT_FALSE(read_error) << read_error.message();
  EXPECT_EQ(got, "late");
}

TEST_F(TlsSocketTest, CloseNotifyReadsAsEndOfFileAndADroppedPeerAsTruncation) {
  // How the server's first read ends when the client, after the handshake, leaves in its own way.
  auto first_read_error = [&](std::function<void(ClientStream&)> leave) {
    start_client(std::move(leave));
    boost::system::error_code ended;
    serve([&](TlsSocket& stream) -> asio::awaitable<void> {
      boost::system::error_code ec;
      co_await stream.async_handshake(ssl::stream_base::server, with(ec));
      std::array<char, 16> buffer{};
      stream.expires_after(std::chrono::seconds(5));
      co_await stream.async_read_some(asio::buffer(buffer), with(ended));
    });
    client_.join();
    ioc_.restart();
    return ended;
  };
  auto clean = first_read_error([](ClientStream& stream) {
    boost::system::error_code ec;
    stream.shutdown(ec);  // sends close_notify (and waits for ours, which never comes: fine)
  });
  EXPECT_EQ(clean, asio::error::eof) << clean.message();
  auto dropped =
      first_read_error([](ClientStream& stream) { stream.lowest_layer().close(); });  // no close_notify
  EXPECT_EQ(dropped, asio::ssl::error::stream_truncated) << dropped.message();
}

TEST_F(TlsSocketTest, WritingToAClosedConnectionIsAnErrorNotSigpipe) {
  // With the default disposition a SIGPIPE would end this test process. After shutdown(SHUT_WR) the
  // very first send fails with EPIPE, which raises SIGPIPE unless the send says MSG_NOSIGNAL.
  auto previous = ::signal(SIGPIPE, SIG_DFL);
  std::promise<void> server_done;
  std::shared_future<void> done = server_done.get_future().share();
  start_client([done](ClientStream&) { done.wait(); });
  boost::system::error_code write_error;
  serve([&](TlsSocket& stream) -> asio::awaitable<void> {
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, with(ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(5));
    co_await asio::async_write(stream, asio::buffer(std::string("after the end")), with(write_error));
  });
  server_done.set_value();
  ::signal(SIGPIPE, previous);
  EXPECT_EQ(write_error, asio::error::broken_pipe) << write_error.message();
}

TEST_F(TlsSocketTest, LargeGatheredWritesArriveWholeOverTls12) {
  // TLS 1.2 (what boards speak); 200 KB in 2,000 pieces: many records, partial writes and waits
  // for the socket to drain, while the client reads slowly.
  SSL_CTX_set_max_proto_version(server_ctx_, TLS1_2_VERSION);
  std::vector<std::string> pieces;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    pieces.push_back(std::string(100, static_cast<char>('a' + i % 26)));
    expected += pieces.back();
  }
  std::promise<std::string> client_read;
  auto client_result = client_read.get_future();
  start_client([&](ClientStream& stream) {
    std::string got;
    std::array<char, 4096> buffer{};
    boost::system::error_code ec;
    while (got.size() < expected.size() && !ec) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      got.append(buffer.data(), stream.read_some(asio::buffer(buffer), ec));
    }
    client_read.set_value(got);
  });
  std::string version;
  serve([&](TlsSocket& stream) -> asio::awaitable<void> {
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, with(ec));
    version = SSL_get_version(stream.native_handle());
    // A small send buffer: the socket fills up and writes must wait for the client to drain it.
    stream.socket().set_option(asio::socket_base::send_buffer_size(4096), ec);
    std::vector<asio::const_buffer> buffers;
    for (const auto& piece : pieces)
      buffers.push_back(asio::buffer(piece));
    stream.expires_after(std::chrono::seconds(20));
    co_await asio::async_write(stream, buffers, with(ec));
    EXPECT_FALSE(ec) << ec.message();
  });
  EXPECT_EQ(version, "TLSv1.2");
  auto got = client_result.get();
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the bytes arrived changed or out of order";
}

TEST_F(TlsSocketTest, AReadAndAWriteWaitAtTheSameTime) {
  // The Blynk tunnel's pattern: one coroutine waits to read while another writes on the same stream.
  std::promise<std::string> client_read;
  auto client_result = client_read.get_future();
  start_client([&](ClientStream& stream) {
    std::string got(5, '\0');
    asio::read(stream, asio::buffer(got));
    client_read.set_value(got);
    asio::write(stream, asio::buffer(std::string("answer")));
  });
  std::string server_read;
  serve([&](TlsSocket& stream) -> asio::awaitable<void> {
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, with(ec));
    stream.expires_after(std::chrono::seconds(5));
    bool written = false;
    asio::co_spawn(
        stream.get_executor(),
        [&]() -> asio::awaitable<void> {
          boost::system::error_code write_error;
          co_await asio::async_write(stream, asio::buffer(std::string("hello")), with(write_error));
          EXPECT_FALSE(write_error) << write_error.message();
          written = true;
        },
        asio::detached);
    std::string got(6, '\0');
    co_await asio::async_read(stream, asio::buffer(got), with(ec));
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(written);
    server_read = got;
  });
  EXPECT_EQ(client_result.get(), "hello");
  EXPECT_EQ(server_read, "answer");
}

TEST_F(TlsSocketTest, AfterCloseOperationsFailInsteadOfTouchingAReusedDescriptor) {
  start_client([&](ClientStream&) {});
  boost::system::error_code after_close;
  serve([&](TlsSocket& stream) -> asio::awaitable<void> {
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, with(ec));
    stream.close();
    std::array<char, 4> buffer{};
    co_await stream.async_read_some(asio::buffer(buffer), with(after_close));
  });
  EXPECT_EQ(after_close, asio::error::bad_descriptor) << after_close.message();
}

}  // namespace
