#include "tls_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <mutex>
#include <stdexcept>
#include <thread>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace provhil::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
using boost::system::error_code;

TestCerts make_test_certs(const std::filesystem::path& dir) {
  TestCerts certs{dir / "ca.pem", dir / "leaf.pem", dir / "leaf.key"};
  write_file(dir / "ext.cnf",
             "basicConstraints=CA:FALSE\nsubjectAltName=DNS:blynk.cloud,DNS:fra1.blynk.cloud\n"
             "extendedKeyUsage=serverAuth\n");
  const std::vector<std::vector<std::string>> steps = {
      {"openssl",
       "req",
       "-x509",
       "-newkey",
       "ec",
       "-pkeyopt",
       "ec_paramgen_curve:prime256v1",
       "-nodes",
       "-keyout",
       (dir / "ca.key").string(),
       "-out",
       certs.ca_pem.string(),
       "-days",
       "30",
       "-subj",
       "/CN=provhil sim test CA",
       "-addext",
       "basicConstraints=critical,CA:TRUE",
       "-addext",
       "keyUsage=critical,keyCertSign,cRLSign"},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       certs.leaf_key.string(), "-out", (dir / "leaf.csr").string(), "-subj", "/CN=blynk.cloud"},
      {"openssl", "x509", "-req", "-in", (dir / "leaf.csr").string(), "-CA", certs.ca_pem.string(), "-CAkey",
       (dir / "ca.key").string(), "-CAcreateserial", "-out", certs.leaf_pem.string(), "-days", "30",
       "-extfile", (dir / "ext.cnf").string()},
  };
  for (const auto& step : steps) {
    const auto r = run_process(step);
    if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.err);
  }
  return certs;
}

struct TlsTestServer::Impl {
  explicit Impl(const TestCerts& certs) : context(ssl::context::tls_server), acceptor(io) {
    context.use_certificate_chain_file(certs.leaf_pem.string());
    context.use_private_key_file(certs.leaf_key.string(), ssl::context::pem);
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol());
    acceptor.bind(endpoint);
    acceptor.listen();
  }

  asio::io_context io;
  ssl::context context;
  tcp::acceptor acceptor;
  std::thread thread;

  mutable std::mutex mutex;
  std::function<HttpReply(const std::string&, const std::string&)> http_handler;
  int login_status = 200;
  std::vector<std::string> targets;
  std::vector<std::string> sni_names;
  std::vector<LoginFrame> frames;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }

  // Runs only while the server's thread runs; the destructor stops it before anything goes away.
  asio::awaitable<void> serve(tcp::socket socket) {
    ssl::stream<tcp::socket> stream(std::move(socket), context);
    error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    {
      const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
      std::lock_guard lock(mutex);
      sni_names.push_back(sni ? sni : "");
    }
    // One port, two protocols, as on the real cloud: "GET ..." is HTTP, anything else Blynk binary.
    beast::flat_buffer buffer;
    const auto n =
        co_await stream.async_read_some(buffer.prepare(512), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    buffer.commit(n);
    const auto* first = static_cast<const char*>(buffer.data().data());
    if (first[0] == 'G') {
      http::request<http::string_body> request;
      co_await http::async_read(stream, buffer, request, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      HttpReply reply;
      std::function<HttpReply(const std::string&, const std::string&)> handler;
      {
        std::lock_guard lock(mutex);
        targets.emplace_back(request.target());
        handler = http_handler;
      }
      if (handler) reply = handler(std::string(request.target()), std::string(request[http::field::host]));
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      if (!reply.location.empty()) response.set(http::field::location, reply.location);
      response.set(http::field::content_type, "application/json");
      response.body() = reply.body;
      response.prepare_payload();
      co_await http::async_write(stream, response, asio::redirect_error(use_awaitable, ec));
      co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
      co_return;
    }
    std::string pending(static_cast<const char*>(buffer.data().data()), buffer.size());
    for (;;) {
      while (pending.size() >= 5) {
        const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(pending[i]); };
        LoginFrame f;
        f.type = byte(0);
        f.id = (byte(1) << 8) | byte(2);
        const std::size_t length = f.type == 0 ? 0 : static_cast<std::size_t>((byte(3) << 8) | byte(4));
        if (pending.size() < 5 + length) break;
        f.body = pending.substr(5, length);
        pending.erase(0, 5 + length);
        int status = 0;
        {
          std::lock_guard lock(mutex);
          frames.push_back(f);
          status = login_status;
        }
        int answer = -1;
        if (f.type == 29) answer = status;
        if (f.type == 6 || f.type == 17) answer = 200;
        if (answer >= 0) {
          const char reply[5] = {0, static_cast<char>(f.id >> 8), static_cast<char>(f.id & 0xff),
                                 static_cast<char>(answer >> 8), static_cast<char>(answer & 0xff)};
          co_await asio::async_write(stream, asio::buffer(reply, 5), asio::redirect_error(use_awaitable, ec));
          if (ec) co_return;
        }
      }
      char chunk[512];
      const auto got =
          co_await stream.async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      pending.append(chunk, got);
    }
  }
};

TlsTestServer::TlsTestServer(const TestCerts& certs) : impl_(std::make_shared<Impl>(certs)) {
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

TlsTestServer::~TlsTestServer() {
  impl_->io.stop();
  impl_->thread.join();
}

std::uint16_t TlsTestServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void TlsTestServer::on_http(std::function<HttpReply(const std::string&, const std::string&)> handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->http_handler = std::move(handler);
}

void TlsTestServer::set_login_status(int status) {
  std::lock_guard lock(impl_->mutex);
  impl_->login_status = status;
}

std::vector<std::string> TlsTestServer::targets() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->targets;
}

std::vector<std::string> TlsTestServer::sni_names() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sni_names;
}

std::vector<LoginFrame> TlsTestServer::frames() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->frames;
}

bool TlsTestServer::wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace provhil::test
