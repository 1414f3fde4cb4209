#pragma once

#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace provhil {

// Replaces registered secrets (auth tokens, WiFi passwords) in text before it is logged or reported.
// Each secret is also masked in the forms it takes on the wire: JSON-escaped, and in every
// percent-encoding that decodes to it (any character as %XX in either case, a space as + or %20).
// Thread-safe: the console, the interceptor and the reports share one.
class SecretMasker {
 public:
  // Secrets shorter than this are not masked: masking "ab" would shred every log line.
  static constexpr std::size_t min_length = 4;

  // `label` names the kind of secret in the replacement, e.g. "token" gives "[MASKED:token]".
  void add(std::string_view secret, std::string_view label = {});
  // With masking disabled (`--show-secrets`) mask() returns its input unchanged.
  void set_enabled(bool enabled);
  bool enabled() const;

  std::string mask(std::string_view text) const;
  // The registered secrets in clear, for tests that scan outputs for leaks.
  std::vector<std::string> secrets() const;

 private:
  struct Entry {
    std::string needle;
    std::string replacement;
  };
  mutable std::shared_mutex mutex_;
  std::vector<Entry> entries_;  // longest needle first, so a secret inside another is not half-masked
  std::vector<Entry> decoded_;  // each secret once, longest first: masked in any encoding that decodes to it
  std::vector<std::string> secrets_;
  bool enabled_ = true;
};

// Percent-encodes `text` as a query value: unreserved characters stay, a space becomes `+`
// when `space_as_plus`, else `%20`.
std::string percent_encode(std::string_view text, bool space_as_plus);

}  // namespace provhil
