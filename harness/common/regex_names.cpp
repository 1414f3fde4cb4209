#include "common/regex_names.hpp"

#include <algorithm>

namespace provhil {

namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

// The index just past the character class that opens at `at` (a '['), or the end of the text.
std::size_t skip_class(std::string_view text, std::size_t at) {
  std::size_t i = at + 1;
  if (i < text.size() && text[i] == '^') ++i;
  if (i < text.size() && text[i] == ']') ++i;  // a leading ']' is a literal
  while (i < text.size()) {
    char c = text[i];
    if (c == '\\') {
      i += 2;
    } else if (c == '[' && i + 1 < text.size() &&
               (text[i + 1] == ':' || text[i + 1] == '=' || text[i + 1] == '.')) {
      // [:alpha:], [=a=], [.a.]: up to the matching closer
      auto end = text.find(std::string{text[i + 1], ']'}, i + 2);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else if (c == ']') {
      return i + 1;
    } else {
      ++i;
    }
  }
  return text.size();
}

}  // namespace

std::vector<std::string> regex_group_names(std::string_view text) {
  std::vector<std::string> names;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 < text.size() && text[i + 1] == 'Q') {  // \Q...\E: all literal
        auto end = text.find("\\E", i + 2);
        i = end == std::string_view::npos ? text.size() : end + 2;
      } else {
        i += 2;
      }
      continue;
    }
    if (c == '[') {
      i = skip_class(text, i);
      continue;
    }
    if (c != '(' || text.substr(i, 2) != "(?") {
      ++i;
      continue;
    }
    auto rest = text.substr(i + 2);
    if (rest.starts_with("#")) {  // (?#comment)
      auto end = text.find(')', i);
      i = end == std::string_view::npos ? text.size() : end + 1;
      continue;
    }
    i += 2;
    if (rest.empty() || (rest[0] != '<' && rest[0] != '\'') || rest.size() < 2 || !is_name_start(rest[1]))
      continue;
    char close = rest[0] == '<' ? '>' : '\'';
    std::size_t end = 1;
    while (end < rest.size() && is_name_char(rest[end]))
      ++end;
    if (end >= rest.size() || rest[end] != close) continue;
    std::string name(rest.substr(1, end - 1));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  return names;
}

}  // namespace provhil
