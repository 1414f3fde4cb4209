#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace provhil {

// The named groups of a Perl-syntax regex (Boost.Regex's dialect), in order of appearance, each
// once: `(?<name>...)` and `(?'name'...)` (Boost.Regex refuses Python's `(?P<name>...)`). Not groups: escaped
// parentheses (`\(`), anything inside a character class (`[(?<x>)]`, `[]()]`, `[[:alpha:](]`), quoted text
// (`\Q...\E`), comments (`(?#...)`), look-behinds (`(?<=`, `(?<!`) and names that do not start with a letter
// or `_`. The console (which captures at run time) and the scenario checks (which decide at validate time
// what a step defines) both read names here, so they cannot disagree. Boost.Regex keeps the names
// only hashed, hence the scan of the text.
std::vector<std::string> regex_group_names(std::string_view regex);

}  // namespace provhil
