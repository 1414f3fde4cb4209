#pragma once
// The lab certificate authority: an EC P-256 CA that boards under test are built to trust, so the
// interceptor can terminate their TLS with leaves it mints per SNI name.

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace provhil::intercept {

struct LabCaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LabCaInfo {
  std::filesystem::path dir;
  std::filesystem::path cert_pem;  // ca.pem
  std::filesystem::path cert_der;  // ca.der (for firmware builds)
  std::filesystem::path key_pem;   // ca.key (mode 0600)
  std::string subject;
  std::string not_before, not_after;  // "2026-11-23 21:46:57 UTC"
  std::string sha256_fingerprint;     // "AB:CD:..."
};

// $PROVHIL_CA_DIR when set and not empty.
std::optional<std::filesystem::path> ca_dir_from_environment();
// Where the lab CA is when no --ca-dir says: $PROVHIL_CA_DIR, else $XDG_STATE_HOME/provhil/ca, else
// $HOME/.local/state/provhil/ca. Throws LabCaError when none of them is set (callers add
// ca_dir_options(): they know which flags they have).
std::filesystem::path default_ca_dir();
// How a user chooses the CA folder, for the end of an error message about it.
std::string ca_dir_options();

// Creates a CA in `dir` (EC P-256, 10 years, back-dated 2 days, CA:TRUE, keyCertSign). Refuses to
// overwrite an existing CA unless `force`. Throws LabCaError saying which file and why.
LabCaInfo init_lab_ca(const std::filesystem::path& dir, bool force = false);
// Reads the CA in `dir`; throws LabCaError when it is missing or unreadable.
LabCaInfo load_lab_ca(const std::filesystem::path& dir);
// load_lab_ca, creating the CA first when `dir` holds none.
LabCaInfo ensure_lab_ca(const std::filesystem::path& dir);

}  // namespace provhil::intercept
