// The lab CA (init, load) and the leaves minted from it, with OpenSSL 3.
#include "intercept/certs.hpp"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "intercept/lab_ca.hpp"

namespace provhil::intercept {

namespace fs = std::filesystem;

void X509Deleter::operator()(X509* cert) const {
  X509_free(cert);
}
void PkeyDeleter::operator()(EVP_PKEY* key) const {
  EVP_PKEY_free(key);
}

namespace {

constexpr long day_seconds = 24L * 3600L;

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

[[noreturn]] void fail(const std::string& what) {
  throw LabCaError(fmt::format("{}: {}", what, openssl_error()));
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

void add_san(X509* cert, const std::string& name, bool is_ip) {
  GENERAL_NAMES* names = GENERAL_NAMES_new();
  GENERAL_NAME* entry = GENERAL_NAME_new();
  bool ok = names && entry;
  if (ok && is_ip) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
    ok = ip != nullptr;
    if (ok) GENERAL_NAME_set0_value(entry, GEN_IPADD, ip);
  } else if (ok) {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    ok = dns && ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size())) == 1;
    if (ok)
      GENERAL_NAME_set0_value(entry, GEN_DNS, dns);
    else
      ASN1_IA5STRING_free(dns);
  }
  if (ok) {
    ok = sk_GENERAL_NAME_push(names, entry) > 0;
    if (ok) entry = nullptr;  // owned by names now
  }
  if (ok) ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
  GENERAL_NAME_free(entry);
  GENERAL_NAMES_free(names);
  if (!ok) fail("adding the subjectAltName");
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) fail(fmt::format("certificate extension {}={}", OBJ_nid2sn(nid), value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void random_serial(X509* cert) {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  bytes[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
}

std::string asn1_time_text(const ASN1_TIME* time) {
  struct tm parts {};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return "?";
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

std::string name_text(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(cert, EVP_sha256(), md, &size);
  std::string out;
  for (unsigned int i = 0; i < size; ++i)
    out += fmt::format("{}{:02X}", i ? ":" : "", md[i]);
  return out;
}

X509Ptr read_cert(const fs::path& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) throw LabCaError(fmt::format("{}: cannot read the CA certificate", path.string()));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail(fmt::format("{}: not a PEM certificate", path.string()));
  return cert;
}

PkeyPtr read_key(const fs::path& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) throw LabCaError(fmt::format("{}: cannot read the CA key", path.string()));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail(fmt::format("{}: not a PEM private key", path.string()));
  return key;
}

LabCaInfo describe(const fs::path& dir, X509* cert) {
  LabCaInfo info;
  info.dir = dir;
  info.cert_pem = dir / "ca.pem";
  info.cert_der = dir / "ca.der";
  info.key_pem = dir / "ca.key";
  info.subject = name_text(X509_get_subject_name(cert));
  info.not_before = asn1_time_text(X509_get0_notBefore(cert));
  info.not_after = asn1_time_text(X509_get0_notAfter(cert));
  info.sha256_fingerprint = fingerprint(cert);
  return info;
}

void write_text(const fs::path& path, const std::string& text, mode_t mode) {
  // open with the final mode so the key is never readable by others, not even for a moment
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw LabCaError(fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno)));
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      ::close(fd);
      throw LabCaError(fmt::format("{}: write failed: {}", path.string(), std::strerror(errno)));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

}  // namespace

PkeyPtr make_ec_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("EC P-256 key generation");
  return key;
}

std::string pem_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::optional<fs::path> ca_dir_from_environment() {
  if (const char* dir = std::getenv("PROVHIL_CA_DIR"); dir && *dir) return fs::path(dir);
  return std::nullopt;
}

fs::path default_ca_dir() {
  if (auto dir = ca_dir_from_environment()) return *dir;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
    return fs::path(state) / "provhil" / "ca";
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".local" / "state" / "provhil" / "ca";
  // Never a shared folder such as /tmp: the CA key lets anyone who reads it impersonate the cloud.
  throw LabCaError("no lab CA folder: none of PROVHIL_CA_DIR, XDG_STATE_HOME and HOME is set");
}

std::string ca_dir_options() {
  return "give the CA folder with --ca-dir DIR or the PROVHIL_CA_DIR environment variable (or "
         "interceptor.ca_dir in the inventory); the default is $XDG_STATE_HOME/provhil/ca, else "
         "~/.local/state/provhil/ca";
}

LabCaInfo init_lab_ca(const fs::path& dir, bool force) {
  if (!force && fs::exists(dir / "ca.key"))
    throw LabCaError(
        fmt::format("{}: a lab CA already exists here (use --force to replace it)", dir.string()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw LabCaError(fmt::format("{}: cannot create the folder: {}", dir.string(), ec.message()));

  PkeyPtr key = make_ec_key();
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  random_serial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -2 * day_seconds);  // ESP8266 checks dates
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3650 * day_seconds);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("provhil lab"),
                             -1, -1, 0);
  unsigned char tag[4];
  RAND_bytes(tag, sizeof tag);  // tells two labs' CAs apart at a glance
  std::string cn = fmt::format("provhil lab CA {:02x}{:02x}{:02x}{:02x}", tag[0], tag[1], tag[2], tag[3]);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("signing the CA certificate");

  BioPtr key_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* key_data = nullptr;
  long key_size = BIO_get_mem_data(key_bio.get(), &key_data);
  write_text(dir / "ca.key", std::string(key_data, static_cast<std::size_t>(key_size)), 0600);
  write_text(dir / "ca.pem", pem_of(cert.get()), 0644);
  unsigned char* der = nullptr;
  int der_size = i2d_X509(cert.get(), &der);
  write_text(dir / "ca.der", std::string(reinterpret_cast<char*>(der), static_cast<std::size_t>(der_size)),
             0644);
  OPENSSL_free(der);
  return describe(dir, cert.get());
}

LabCaInfo load_lab_ca(const fs::path& dir) {
  if (!fs::exists(dir / "ca.pem"))
    throw LabCaError(fmt::format("{}: no lab CA here (create one with `provhil ca init`)", dir.string()));
  X509Ptr cert = read_cert(dir / "ca.pem");
  return describe(dir, cert.get());
}

LabCaInfo ensure_lab_ca(const fs::path& dir) {
  if (fs::exists(dir / "ca.pem") && fs::exists(dir / "ca.key")) return load_lab_ca(dir);
  return init_lab_ca(dir, false);
}

LeafMinter::LeafMinter(const fs::path& ca_dir)
    : ca_cert_(read_cert(ca_dir / "ca.pem")), ca_key_(read_key(ca_dir / "ca.key")), leaf_key_(make_ec_key()) {
  if (X509_check_private_key(ca_cert_.get(), ca_key_.get()) != 1)
    throw LabCaError(fmt::format("{}: ca.key does not belong to ca.pem", ca_dir.string()));
}

LeafMinter::~LeafMinter() = default;

bool is_dns_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    auto label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    start = end + 1;
  }
  return true;
}

bool is_ip_literal(const std::string& name) {
  unsigned char ip[16];
  return inet_pton(AF_INET, name.c_str(), ip) == 1 || inet_pton(AF_INET6, name.c_str(), ip) == 1;
}

X509Ptr LeafMinter::mint(const std::string& name, LeafKind kind) const {
  const std::string subject_name = kind == LeafKind::wrong_name ? std::string("wrong.invalid") : name;
  const bool is_ip = is_ip_literal(subject_name);
  if (!is_ip && !is_dns_name(subject_name))
    throw LabCaError("a leaf is minted for a DNS name or an IP address only, not for the name given");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  random_serial(cert.get());
  if (kind == LeafKind::expired) {
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -30 * day_seconds);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), -1 * day_seconds);
  } else {
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -2 * day_seconds);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 397 * day_seconds);
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  std::string cn = subject_name.substr(0, 64);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert_.get()));
  X509_set_pubkey(cert.get(), leaf_key_.get());

  // The SAN is built as a value, never parsed from text: a name cannot smuggle in more entries.
  add_san(cert.get(), subject_name, is_ip);
  add_ext(cert.get(), ca_cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca_cert_.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(cert.get(), ca_cert_.get(), NID_ext_key_usage, "serverAuth");
  add_ext(cert.get(), ca_cert_.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), ca_key_.get(), EVP_sha256()) == 0) fail("signing a leaf certificate for " + name);
  return cert;
}

}  // namespace provhil::intercept
