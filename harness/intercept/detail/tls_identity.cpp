#include "intercept/detail/tls_identity.hpp"

#include <openssl/ssl.h>

#include <fmt/format.h>

#include "intercept/detail/exchanges.hpp"
#include "intercept/lab_ca.hpp"
#include "intercept/registry.hpp"

namespace provhil::intercept::detail {

namespace ssl = boost::asio::ssl;

namespace {

int connection_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

LeafKind leaf_kind(const std::optional<ConnectionFault>& fault) {
  if (!fault) return LeafKind::normal;
  switch (fault->kind) {
    case ConnectionFault::Kind::expired_cert:
      return LeafKind::expired;
    case ConnectionFault::Kind::wrong_name_cert:
      return LeafKind::wrong_name;
    case ConnectionFault::Kind::tls_alert:
    case ConnectionFault::Kind::stall_handshake:
      return LeafKind::normal;
  }
  return LeafKind::normal;
}

}  // namespace

void TlsIdentity::SslCtxDeleter::operator()(SSL_CTX* ctx) const {
  SSL_CTX_free(ctx);
}

TlsIdentity::TlsIdentity(SharedState& shared) : shared_(shared) {
  const auto& config = shared_.config;
  SSL_CTX* ctx = server_ctx_.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // boards make a full handshake anyway
  SSL_CTX_set_num_tickets(ctx, 0);                          // so no TLS 1.3 tickets to mint and send
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);          // an idle connection keeps no record buffers
  try {
    if (!config.cert_file.empty()) {
      if (config.key_file.empty()) throw InterceptorStartError("--cert needs --key");
      boost::system::error_code ec;
      server_ctx_.use_certificate_chain_file(config.cert_file.string(), ec);
      if (ec) throw InterceptorStartError(fmt::format("{}: {}", config.cert_file.string(), ec.message()));
      server_ctx_.use_private_key_file(config.key_file.string(), ssl::context::pem, ec);
      if (ec) throw InterceptorStartError(fmt::format("{}: {}", config.key_file.string(), ec.message()));
      ca_pem_ = config.cert_file;
    } else {
      auto dir = config.ca_dir.empty() ? default_ca_dir() : config.ca_dir;
      ca_pem_ = ensure_lab_ca(dir).cert_pem;
      minter_ = std::make_unique<LeafMinter>(dir);
    }
  } catch (const LabCaError& e) {
    throw InterceptorStartError(e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    throw InterceptorStartError(e.what());
  }
  // SSL_CTX_set_tlsext_servername_callback() and _arg(), without their old-style casts
  SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                        reinterpret_cast<void (*)()>(&TlsIdentity::on_server_name));
  SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, this);
}

void TlsIdentity::attach(SSL* ssl_handle, Connection* conn) {
  SSL_set_ex_data(ssl_handle, connection_index(), conn);
}

std::size_t TlsIdentity::cached_leaves() const {
  std::lock_guard lock(cache_mutex_);
  return cache_.size();
}

// One TLS context per minted leaf: switching to it costs a reference count, where loading a
// certificate and key into each connection costs a key consistency check per handshake. A
// connection holds a reference to its context, so evicting one in use is safe.
SSL_CTX* TlsIdentity::leaf_context(const std::string& name, LeafKind kind) {
  std::lock_guard lock(cache_mutex_);
  Key key{name, kind};
  if (auto it = cache_.find(key); it != cache_.end()) {
    uses_.splice(uses_.begin(), uses_, it->second.use);
    return it->second.ctx.get();
  }
  std::unique_ptr<SSL_CTX, SslCtxDeleter> leaf_ctx(SSL_CTX_new(TLS_server_method()));
  if (!leaf_ctx) return nullptr;
  // Only the leaf goes on the wire: boards hold the lab CA already.
  auto leaf = minter_->mint(name, kind);
  if (SSL_CTX_use_certificate(leaf_ctx.get(), leaf.get()) != 1 ||
      SSL_CTX_use_PrivateKey(leaf_ctx.get(), minter_->leaf_key()) != 1)
    return nullptr;
  if (cache_.size() >= leaf_cache_limit) {
    cache_.erase(uses_.back());
    uses_.pop_back();
  }
  uses_.push_front(key);
  auto& cached = cache_[key];
  cached.ctx = std::move(leaf_ctx);
  cached.use = uses_.begin();
  return cached.ctx.get();
}

// Called by OpenSSL for every ClientHello (with or without SNI): applies an armed handshake fault
// and switches the connection to the leaf for the name asked for (minted on first use). A name
// that is not a valid DNS name (or an address literal) gets the advertised host's leaf.
int TlsIdentity::on_server_name(SSL* ssl_handle, int* alert, void* arg) {
  auto* self = static_cast<TlsIdentity*>(arg);
  auto* conn = static_cast<Connection*>(SSL_get_ex_data(ssl_handle, connection_index()));
  if (!conn) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  const char* name = SSL_get_servername(ssl_handle, TLSEXT_NAMETYPE_host_name);
  conn->sni = name ? name : "";
  conn->fault = self->shared_.registry.take_connection_fault(conn->sni, conn->client_address, false);
  if (conn->fault_is(ConnectionFault::Kind::tls_alert)) {
    // Journaled here, before the alert leaves, so whoever sees the alert finds the entry.
    Exchange ex = base_exchange(*conn, Clock::now());
    ex.kind = ExchangeKind::fault;
    ex.owner = conn->fault->owner;
    ex.answered_by = ConnectionFault::Kind::tls_alert;
    record(self->shared_.registry, std::move(ex), Clock::now());
    *alert = SSL_AD_HANDSHAKE_FAILURE;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (!self->minter_) return SSL_TLSEXT_ERR_OK;  // the user's own certificate, already in the context
  const std::string& leaf_name =
      is_dns_name(conn->sni) || is_ip_literal(conn->sni) ? conn->sni : self->shared_.config.advertised_host;
  SSL_CTX* leaf_ctx = nullptr;
  try {
    leaf_ctx = self->leaf_context(leaf_name, leaf_kind(conn->fault));
  } catch (const std::exception&) {
  }
  if (!leaf_ctx) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_set_SSL_CTX(ssl_handle, leaf_ctx);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace provhil::intercept::detail
