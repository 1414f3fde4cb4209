#include "common/secrets.hpp"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "common/text.hpp"

namespace provhil {

namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Where a match of `secret` that starts at `at` ends, reading `text` as a query value would be
// decoded: each character of the secret as itself, as %XX (either case) or, for a space, as `+`.
// npos: no match there.
std::size_t decoded_match(std::string_view text, std::size_t at, std::string_view secret) {
  std::size_t p = at;
  for (char c : secret) {
    if (p >= text.size()) return std::string_view::npos;
    if (text[p] == '%' && p + 2 < text.size()) {
      int high = hex_value(text[p + 1]), low = hex_value(text[p + 2]);
      if (high >= 0 && low >= 0 && static_cast<char>(high * 16 + low) == c) {
        p += 3;
        continue;
      }
    }
    if (text[p] == '+' && c == ' ') {
      ++p;
      continue;
    }
    if (text[p] != c) return std::string_view::npos;
    ++p;
  }
  return p;
}

// Replaces every encoding of `secret` that decodes to it (the plain forms are gone already).
void mask_decoded(std::string& text, std::string_view secret, const std::string& replacement) {
  if (text.find_first_of("%+") == std::string::npos) return;
  std::string out;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != secret.front() && text[i] != '%' && text[i] != '+') continue;
    std::size_t end = decoded_match(text, i, secret);
    if (end == std::string_view::npos) continue;
    out.append(text, copied, i - copied);
    out += replacement;
    copied = end;
    i = end - 1;
  }
  if (copied == 0 && out.empty()) return;
  out.append(text, copied, std::string::npos);
  text = std::move(out);
}

}  // namespace

std::string percent_encode(std::string_view text, bool space_as_plus) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out += ch;
    } else if (c == ' ' && space_as_plus) {
      out += '+';
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

void SecretMasker::add(std::string_view secret, std::string_view label) {
  if (secret.size() < min_length) return;
  std::string replacement = label.empty() ? std::string("[MASKED]") : fmt::format("[MASKED:{}]", label);
  std::unique_lock lock(mutex_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.emplace_back(secret);
  decoded_.push_back({std::string(secret), replacement});
  std::stable_sort(decoded_.begin(), decoded_.end(),
                   [](const Entry& a, const Entry& b) { return a.needle.size() > b.needle.size(); });
  std::vector<std::string> forms{std::string(secret), percent_encode(secret, true),
                                 percent_encode(secret, false), json_escape(secret)};
  for (auto& form : forms) {
    bool known =
        std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.needle == form; });
    if (!known) entries_.push_back({std::move(form), replacement});
  }
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.needle.size() > b.needle.size(); });
}

void SecretMasker::set_enabled(bool enabled) {
  std::unique_lock lock(mutex_);
  enabled_ = enabled;
}

bool SecretMasker::enabled() const {
  std::shared_lock lock(mutex_);
  return enabled_;
}

std::string SecretMasker::mask(std::string_view text) const {
  std::shared_lock lock(mutex_);
  std::string out(text);
  if (!enabled_) return out;
  for (const auto& entry : entries_) {
    std::size_t pos = 0;
    while ((pos = out.find(entry.needle, pos)) != std::string::npos) {
      out.replace(pos, entry.needle.size(), entry.replacement);
      pos += entry.replacement.size();
    }
  }
  for (const auto& entry : decoded_)
    mask_decoded(out, entry.needle, entry.replacement);
  return out;
}

std::vector<std::string> SecretMasker::secrets() const {
  std::shared_lock lock(mutex_);
  return secrets_;
}

}  // namespace provhil
