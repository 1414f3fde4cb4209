#pragma once
// A TLS stream that runs OpenSSL straight on a TCP socket's descriptor, for servers with many
// connections. Asio's ssl::stream moves every byte through a BIO pair and keeps four 17 KB buffers
// per connection for its whole life; here OpenSSL reads and writes the socket itself, so an idle
// connection holds only its SSL object (with SSL_MODE_RELEASE_BUFFERS, not even record buffers),
// and each record costs one system call instead of a copy, a BIO hop and a system call.
//
// It is an Asio AsyncStream (Beast reads and writes HTTP over it) with its own deadline, as
// beast::tcp_stream has: expires_after() bounds whatever is pending or started before it is reset,
// and an operation cut short by it completes with beast::error::timeout.
// Like every Asio stream: one read and one write at a time, all on the socket's executor (a strand).
// A stream must outlive its pending operations. Operations start when initiated (gathering a
// write's buffers, setting the handshake role): no lazy tokens such as asio::deferred.
// SSL_MODE_RELEASE_BUFFERS comes from the caller's SSL_CTX; renegotiation is refused.

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <type_traits>

namespace provhil::net {

class TlsSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using executor_type = tcp::socket::executor_type;
  using error_code = boost::system::error_code;
  using handshake_type = boost::asio::ssl::stream_base::handshake_type;

  // Takes the connected socket and makes it non-blocking. Throws std::runtime_error when OpenSSL
  // cannot make the connection object.
  TlsSocket(tcp::socket socket, SSL_CTX* context);
  ~TlsSocket();
  TlsSocket(TlsSocket&&) noexcept = default;
  TlsSocket& operator=(TlsSocket&&) noexcept = default;

  executor_type get_executor();
  SSL* native_handle();
  tcp::socket& socket();

  void expires_after(std::chrono::steady_clock::duration timeout);
  void close();  // the socket only: the TLS state stays readable (version, SNI) until destruction

  // Waits for the first bytes and copies them without consuming them (MSG_PEEK), so a server can
  // tell a TLS ClientHello from anything else before OpenSSL reads it. End of stream: asio::error::eof.
  template <class Token>
  auto async_peek(boost::asio::mutable_buffer into, Token&& token) {
    return start<true>(Op::peek, into.data(), into.size(), std::forward<Token>(token));
  }

  template <class Token>
  auto async_handshake(handshake_type type, Token&& token) {
    set_role(type);
    return start<false>(Op::handshake, nullptr, 0, std::forward<Token>(token));
  }

  // Sends close_notify and waits for the peer's (or its end of stream, or the deadline).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return start<false>(Op::shutdown, nullptr, 0, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    auto first = first_non_empty<boost::asio::mutable_buffer>(buffers);
    return start<true>(Op::read, first.data(), first.size(), std::forward<Token>(token));
  }

  // Beast hands over a message as many small buffers; each SSL_write makes a record, so small
  // pieces are gathered into one (up to a record's worth) first.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    auto first = first_non_empty<boost::asio::const_buffer>(buffers);
    std::size_t total = boost::asio::buffer_size(buffers);
    if (first.size() >= record_size || first.size() == total)
      return start<true>(Op::write, first.data(), first.size(), std::forward<Token>(token));
    std::size_t size = std::min(total, record_size);
    char* gathered = gather_space(size);
    boost::asio::buffer_copy(boost::asio::buffer(gathered, size), buffers);
    return start<true>(Op::write, gathered, size, std::forward<Token>(token));
  }

 private:
  static constexpr std::size_t record_size = std::size_t{16} * 1024;
  enum class Op { peek, handshake, read, write, shutdown };
  enum class Next { done, wait_read, wait_write };
  struct State;

  template <class Buffer, class Buffers>
  static Buffer first_non_empty(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it)
      if (Buffer buffer(*it); buffer.size() > 0) return buffer;
    return {};
  }

  void set_role(handshake_type type);
  char* gather_space(std::size_t size);
  // One OpenSSL (or recv) call: done (with `ec` and `bytes` set) or what to wait for first.
  static Next step(State& state, Op op, void* data, std::size_t size, std::size_t& bytes, error_code& ec);
  static tcp::socket& socket_of(State& state);
  static error_code cut_short(State& state, const error_code& wait_error);

  template <bool WithBytes>
  struct Operation {
    Operation(std::shared_ptr<State> s, Op o, void* d, std::size_t n)
        : state(std::move(s)), op(o), data(d), size(n) {}
    std::shared_ptr<State> state;
    Op op;
    void* data;
    std::size_t size;
    enum class Phase { starting, waiting, posted } phase = Phase::starting;
    error_code result;
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& self, error_code wait_error = {}) {
      if (phase == Phase::waiting && wait_error) {
        result = cut_short(*state, wait_error);
        return finish(self);
      }
      if (phase != Phase::posted) {
        Next next = step(*state, op, data, size, bytes, result);
        if (next != Next::done) {
          phase = Phase::waiting;
          return socket_of(*state).async_wait(
              next == Next::wait_read ? tcp::socket::wait_read : tcp::socket::wait_write, std::move(self));
        }
        if (phase == Phase::starting) {
          // Done at once: the handler must still not run inside the initiating call.
          phase = Phase::posted;
          return boost::asio::post(std::move(self));
        }
      }
      finish(self);
    }
    template <class Self>
    void finish(Self& self) {
      if constexpr (WithBytes)
        self.complete(result, bytes);
      else
        self.complete(result);
    }
  };

  template <bool WithBytes, class Token>
  auto start(Op op, const void* data, std::size_t size, Token&& token) {
    using Signature = std::conditional_t<WithBytes, void(error_code, std::size_t), void(error_code)>;
    return boost::asio::async_compose<Token, Signature>(
        Operation<WithBytes>(state_, op, const_cast<void*>(data), size), token, get_executor());
  }

  std::shared_ptr<State> state_;
};

}  // namespace provhil::net
