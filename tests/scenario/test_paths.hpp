#pragma once

#include <filesystem>
#include <string>

namespace provhil::test {

inline std::filesystem::path source_dir() {
  return PROVHIL_SOURCE_DIR;
}
inline std::filesystem::path corpus_dir() {
  return source_dir() / "tests/scenario/corpus";
}

// Replaces every occurrence of `from` in `text` with `to`.
inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
  return text;
}

}  // namespace provhil::test
