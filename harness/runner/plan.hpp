#pragma once
// Which (scenario, board) pairs a run covers: board selectors, --filter, --one-board, --shard.
#include <string>
#include <vector>

#include "report/results.hpp"
#include "scenario/model.hpp"

namespace provhil::runner {

struct PlannedPair {
  const scenario::Scenario* scenario = nullptr;
  const scenario::Board* board = nullptr;  // null: skipped, see skip_reason
  std::string skip_reason;
  report::SkipReason skip_code = report::SkipReason::no_eligible_board;  // when board is null
};

// Pairs in a stable order (scenario file, scenario name, board name). A scenario no board matches, or
// one the filters leave out, yields one pair with a null board and the reason.
// `filters`: a scenario runs when its name or one of its tags equals one of them, or its name
// contains one (empty: all run).
std::vector<PlannedPair> plan_pairs(const std::vector<scenario::Scenario>& scenarios,
                                    const std::vector<scenario::Board>& boards,
                                    const std::vector<std::string>& filters, bool one_board);

// Shard K of N (1-based): every Nth runnable pair, starting with the Kth, so N jobs cover each
// runnable pair exactly once. Skipped pairs stay with shard 1 only, so they are reported once.
std::vector<PlannedPair> shard_pairs(const std::vector<PlannedPair>& pairs, int index, int count);

}  // namespace provhil::runner
