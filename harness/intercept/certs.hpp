#pragma once
// Internal: leaf certificates minted on the fly from the lab CA. OpenSSL types are
// hidden behind opaque pointers so that this header stays light.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace provhil::intercept {

enum class LeafKind { normal, expired, wrong_name };

struct X509Deleter {
  void operator()(X509* cert) const;
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const;
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// Makes an EC P-256 key.
PkeyPtr make_ec_key();
std::string pem_of(X509* cert);

// True for a host name a certificate may carry as a DNS SAN: dot-separated labels of 1 to 63
// letters, digits and inner hyphens, 253 characters at most (one trailing dot allowed).
bool is_dns_name(std::string_view name);
// True for an IPv4 or IPv6 address literal.
bool is_ip_literal(const std::string& name);

class LeafMinter {
 public:
  // Loads ca.pem / ca.key from `ca_dir`; throws LabCaError.
  explicit LeafMinter(const std::filesystem::path& ca_dir);
  ~LeafMinter();

  // A new leaf for `name`, which must be a DNS name or an IP address literal (it becomes the only
  // SAN); anything else throws LabCaError. Not cached: the caller keeps what it reuses.
  // Thread-safe.
  X509Ptr mint(const std::string& name, LeafKind kind = LeafKind::normal) const;
  EVP_PKEY* leaf_key() const { return leaf_key_.get(); }
  X509* ca_cert() const { return ca_cert_.get(); }

 private:
  X509Ptr ca_cert_;
  PkeyPtr ca_key_;
  PkeyPtr leaf_key_;  // one key for every leaf: minting then costs one signature, not a keygen
};

}  // namespace provhil::intercept
