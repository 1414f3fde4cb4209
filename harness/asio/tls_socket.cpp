#include "asio/tls_socket.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace provhil::net {

namespace asio = boost::asio;

struct TlsSocket::State {
  explicit State(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  ~State() {
    if (ssl) SSL_free(ssl);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  tcp::socket socket;
  SSL* ssl = nullptr;
  asio::steady_timer timer;
  std::uint64_t deadline_generation = 0;  // a timer handler from an older deadline does nothing
  bool timed_out = false;
  std::string gathered;  // small write buffers, gathered into one record
};

namespace {

// A BIO that reads and writes the descriptor directly. OpenSSL's own socket BIO writes with write(2),
// which raises SIGPIPE on a connection the peer reset; send(2) with MSG_NOSIGNAL does not.
int descriptor(BIO* bio) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

bool would_block(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t n = ::send(descriptor(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (would_block(errno)) BIO_set_retry_write(bio);
  return -1;
}

int bio_read(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t n = ::recv(descriptor(bio), data, static_cast<std::size_t>(size), 0);
  if (n > 0) return static_cast<int>(n);
  if (n == 0) {
    // OpenSSL asks BIO_eof() to tell a peer that vanished without close_notify (truncation).
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
    return 0;
  }
  if (would_block(errno)) BIO_set_retry_read(bio);
  return -1;
}

int bio_puts(BIO* bio, const char* text) {
  return bio_write(bio, text, static_cast<int>(std::strlen(text)));
}

long bio_ctrl(BIO* bio, int command, long /*number*/, void* pointer) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    case BIO_C_GET_FD:  // SSL_get_fd()
      if (pointer != nullptr) *static_cast<int*>(pointer) = descriptor(bio);
      return descriptor(bio);
    default:
      return 0;
  }
}

int bio_create(BIO* /*bio*/) {
  return 1;
}

int bio_destroy(BIO* /*bio*/) {
  return 1;  // the descriptor belongs to the Asio socket
}

BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "provhil socket");
    if (m == nullptr || BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
        BIO_meth_set_puts(m, bio_puts) != 1 || BIO_meth_set_ctrl(m, bio_ctrl) != 1 ||
        BIO_meth_set_create(m, bio_create) != 1 || BIO_meth_set_destroy(m, bio_destroy) != 1)
      throw std::runtime_error("OpenSSL could not make a BIO method");
    return m;
  }();
  return method;
}

int clamp(std::size_t size) {
  return static_cast<int>(std::min<std::size_t>(size, INT_MAX));
}

}  // namespace

TlsSocket::TlsSocket(tcp::socket socket, SSL_CTX* context)
    : state_(std::make_shared<State>(std::move(socket))) {
  error_code ec;
  state_->socket.non_blocking(true, ec);
  if (ec) throw std::runtime_error("cannot make the socket non-blocking: " + ec.message());
  state_->ssl = SSL_new(context);
  BIO* bio = state_->ssl != nullptr ? BIO_new(socket_method()) : nullptr;
  if (bio == nullptr) throw std::runtime_error("OpenSSL could not make a TLS connection object");
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(state_->socket.native_handle())));
  BIO_set_init(bio, 1);
  SSL_set_bio(state_->ssl, bio, bio);
  // Partial writes: a write completes with what went out, as write_some must.
  SSL_set_mode(state_->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
  // A read and a write may wait at the same time (one each, as Asio allows). Without renegotiation
  // SSL_write never has to read, so a write cannot swallow records a waiting read is owed.
  SSL_set_options(state_->ssl, SSL_OP_NO_RENEGOTIATION);
  // Read what the socket has in one call, not a record header and then its body in two.
  // Safe here because every read tries SSL_read before waiting on the socket.
  SSL_set_read_ahead(state_->ssl, 1);
}

TlsSocket::~TlsSocket() = default;

TlsSocket::executor_type TlsSocket::get_executor() {
  return state_->socket.get_executor();
}

SSL* TlsSocket::native_handle() {
  return state_->ssl;
}

TlsSocket::tcp::socket& TlsSocket::socket() {
  return state_->socket;
}

TlsSocket::tcp::socket& TlsSocket::socket_of(State& state) {
  return state.socket;
}

void TlsSocket::set_role(handshake_type type) {
  if (type == handshake_type::server)
    SSL_set_accept_state(state_->ssl);
  else
    SSL_set_connect_state(state_->ssl);
}

char* TlsSocket::gather_space(std::size_t size) {
  state_->gathered.resize(size);
  return state_->gathered.data();
}

void TlsSocket::expires_after(std::chrono::steady_clock::duration timeout) {
  State& s = *state_;
  s.timed_out = false;
  std::uint64_t generation = ++s.deadline_generation;
  s.timer.expires_after(timeout);
  s.timer.async_wait([weak = std::weak_ptr<State>(state_), generation](const error_code& ec) {
    auto state = weak.lock();
    if (ec || !state || state->deadline_generation != generation) return;
    // As beast::tcp_stream does: the connection is over. Pending waits end with operation_aborted,
    // reported as a timeout; later operations find the socket closed.
    state->timed_out = true;
    error_code ignored;
    state->socket.close(ignored);
  });
}

void TlsSocket::close() {
  State& s = *state_;
  ++s.deadline_generation;
  s.timer.cancel();
  error_code ignored;
  s.socket.close(ignored);
}

boost::system::error_code TlsSocket::cut_short(State& state, const error_code& wait_error) {
  return state.timed_out ? error_code(boost::beast::error::timeout) : wait_error;
}

TlsSocket::Next TlsSocket::step(State& s, Op op, void* data, std::size_t size, std::size_t& bytes,
                                error_code& ec) {
  bytes = 0;
  ec = {};
  if (s.timed_out) {
    ec = boost::beast::error::timeout;
    return Next::done;
  }
  // After close() the descriptor's number may already belong to another connection.
  if (!s.socket.is_open()) {
    ec = asio::error::bad_descriptor;
    return Next::done;
  }
  if (op == Op::peek) {
    if (size == 0) return Next::done;
    ssize_t n = ::recv(s.socket.native_handle(), data, size, MSG_PEEK);
    if (n > 0) {
      bytes = static_cast<std::size_t>(n);
      return Next::done;
    }
    if (n == 0) {
      ec = asio::error::eof;
      return Next::done;
    }
    if (would_block(errno)) return Next::wait_read;
    ec = error_code(errno, boost::system::system_category());
    return Next::done;
  }
  if ((op == Op::read || op == Op::write) && size == 0) return Next::done;

  ERR_clear_error();  // SSL_get_error() reads this thread's queue: nothing stale may be in it
  errno = 0;
  int result = 0;
  switch (op) {
    case Op::handshake:
      result = SSL_do_handshake(s.ssl);
      break;
    case Op::read:
      result = SSL_read(s.ssl, data, clamp(size));
      break;
    case Op::write:
      result = SSL_write(s.ssl, data, clamp(size));
      break;
    case Op::shutdown:
      result = SSL_shutdown(s.ssl);
      // 0: our close_notify is out; asking again waits for the peer's.
      if (result == 0) result = SSL_shutdown(s.ssl);
      break;
    case Op::peek:
      break;
  }
  int saved_errno = errno;
  if (result > 0) {
    if (op == Op::read || op == Op::write) bytes = static_cast<std::size_t>(result);
    return Next::done;
  }
  switch (SSL_get_error(s.ssl, result)) {
    case SSL_ERROR_WANT_READ:
      return Next::wait_read;
    case SSL_ERROR_WANT_WRITE:
      return Next::wait_write;
    case SSL_ERROR_ZERO_RETURN:
      ec = asio::error::eof;  // the peer's close_notify
      break;
    case SSL_ERROR_SYSCALL:
      ec = saved_errno != 0 ? error_code(saved_errno, boost::system::system_category())
                            : error_code(asio::ssl::error::stream_truncated);
      break;
    case SSL_ERROR_SSL: {
      unsigned long error = ERR_get_error();
      bool peer_left = error == 0 || (ERR_GET_LIB(error) == ERR_LIB_SSL &&
                                      ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
      // A peer that left without close_notify is a truncation, as Asio's own stream reports it.
      ec = peer_left ? error_code(asio::ssl::error::stream_truncated)
                     : error_code(static_cast<int>(error), asio::error::get_ssl_category());
      break;
    }
    default:  // callbacks and asynchronous engines, which nothing here uses
      ec = boost::system::errc::make_error_code(boost::system::errc::protocol_error);
      break;
  }
  ERR_clear_error();
  return Next::done;
}

}  // namespace provhil::net
