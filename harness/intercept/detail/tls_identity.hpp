#pragma once
// Internal: the interceptor's side of TLS. The server context every connection starts with, the
// SNI callback (handshake faults, the leaf for the name asked for), and a bounded cache of the
// minted leaves' contexts.

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "intercept/certs.hpp"
#include "intercept/detail/shared_state.hpp"

namespace provhil::intercept::detail {

class TlsIdentity {
 public:
  // Minted leaves' contexts kept at most (least recently used go first).
  static constexpr std::size_t leaf_cache_limit = 256;

  // Loads the user's certificate or the lab CA (creating it when missing); throws
  // InterceptorStartError saying which file and why.
  TlsIdentity(SharedState& shared);
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;

  SSL_CTX* context() { return server_ctx_.native_handle(); }
  const std::filesystem::path& ca_pem() const { return ca_pem_; }
  // The connection the SNI callback fills in during `ssl`'s handshake (null: none).
  static void attach(SSL* ssl, Connection* conn);
  std::size_t cached_leaves() const;

 private:
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  SSL_CTX* leaf_context(const std::string& name, LeafKind kind);

  struct SslCtxDeleter {
    void operator()(SSL_CTX* ctx) const;
  };
  using Key = std::pair<std::string, LeafKind>;
  struct Cached {
    std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx;
    std::list<Key>::iterator use;
  };

  SharedState& shared_;
  boost::asio::ssl::context server_ctx_{boost::asio::ssl::context::tls_server};
  std::filesystem::path ca_pem_;
  std::unique_ptr<LeafMinter> minter_;
  mutable std::mutex cache_mutex_;
  std::map<Key, Cached> cache_;
  std::list<Key> uses_;  // most recent first
};

}  // namespace provhil::intercept::detail
