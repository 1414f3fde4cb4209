#pragma once
// Internal: leaf certificates minted on the fly from the lab CA, cached per name. OpenSSL types are
// hidden behind opaque pointers so that this header stays light.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

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

class LeafMinter {
 public:
  // Loads ca.pem / ca.key from `ca_dir`; throws LabCaError.
  explicit LeafMinter(const std::filesystem::path& ca_dir);
  ~LeafMinter();

  // The cached leaf for `name` (a DNS name or an IP address literal), minting it on first use.
  // Thread-safe. The pointers stay valid for the minter's lifetime.
  X509* leaf(const std::string& name, LeafKind kind = LeafKind::normal);
  EVP_PKEY* leaf_key() const { return leaf_key_.get(); }
  X509* ca_cert() const { return ca_cert_.get(); }

 private:
  X509Ptr mint(const std::string& name, LeafKind kind);
  X509Ptr ca_cert_;
  PkeyPtr ca_key_;
  PkeyPtr leaf_key_;  // one key for every leaf: minting then costs one signature, not a keygen
  std::mutex mutex_;
  std::map<std::pair<std::string, LeafKind>, X509Ptr> cache_;
};

}  // namespace provhil::intercept
