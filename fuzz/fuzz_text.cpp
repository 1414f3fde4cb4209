// Text sanitising and secret masking, with their promises checked: sanitised text is valid UTF-8
// with no control bytes but tab, LF and CR; masked text holds no registered secret.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/secrets.hpp"
#include "common/text.hpp"

namespace {

const char* const secrets[] = {"Rps15JICmtRVbbvGXd0LT3zL", "labpass123", "p@ss word&=+"};

const provhil::SecretMasker& masker() {
  static provhil::SecretMasker instance;
  static const bool added = [] {
    instance.add(secrets[0], "token");
    instance.add(secrets[1], "wifi");
    instance.add(secrets[2], "wifi");
    return true;
  }();
  (void)added;
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string clean = provhil::sanitize_text(bytes);
  if (!provhil::is_valid_utf8(clean)) std::abort();
  for (unsigned char c : clean)
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) std::abort();
  if (provhil::is_valid_utf8(bytes) != !provhil::first_invalid_utf8(bytes).has_value()) std::abort();
  std::string masked = masker().mask(bytes);
  for (const char* secret : secrets)
    if (masked.find(secret) != std::string::npos) std::abort();
  return 0;
}
