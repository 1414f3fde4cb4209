#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace provhil {

// The one "did you mean" of the tool (scenario keys, step kinds, dialect names, CLI flags): the
// candidate closest to `word` by edit distance, ignoring ASCII case, or "" when none is close
// (more than two edits, or a third of the word's length for long words). A candidate that starts
// with a word of four or more characters counts as one edit, so `--inv` finds `--inventory`.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace provhil
