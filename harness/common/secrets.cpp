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
  return out;
}

std::vector<std::string> SecretMasker::secrets() const {
  std::shared_lock lock(mutex_);
  return secrets_;
}

}  // namespace provhil
