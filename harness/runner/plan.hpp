#pragma once
// Which units of work a run covers: board selectors, `run_on`, --run-on, --filter, --one-board, --shard.
#include <optional>
#include <string>
#include <vector>

#include "report/results.hpp"
#include "scenario/model.hpp"

namespace provhil::runner {

// One unit of work: a scenario and the board it runs on, or (run_on: any) the pool of boards any one
// of which runs it once, or a scenario that does not run at all (skip_reason says why).
struct PlannedPair {
  const scenario::Scenario* scenario = nullptr;
  const scenario::Board* board = nullptr;  // the board it runs on; null: pooled or skipped
  // run_on: any with two or more matching boards: any one free board of these (by name) runs it.
  std::vector<const scenario::Board*> pool;
  std::string skip_reason;
  report::SkipReason skip_code = report::SkipReason::no_eligible_board;  // when it does not run

  bool runnable() const { return board != nullptr || !pool.empty(); }
  bool pooled() const { return board == nullptr && !pool.empty(); }
};

struct PlanOptions {
  // A scenario runs when its name or one of its tags equals one of them, or its name contains one
  // (empty: all run).
  std::vector<std::string> filters;
  bool one_board = false;  // each scenario on the first matching board by name only
  // --run-on: overrides every scenario's `boards.run_on` (empty: each scenario's own).
  std::optional<scenario::RunOn> run_on;
};

// Units in a stable order (scenario file, scenario name, board name). A scenario that runs on each
// matching board yields one unit per board; one that runs on any (`run_on: any`) yields one unit with
// the matching boards as its pool (one matching board: that board). A scenario no board matches, or
// one the filters leave out, yields one unit with no board and the reason.
std::vector<PlannedPair> plan_pairs(const std::vector<scenario::Scenario>& scenarios,
                                    const std::vector<scenario::Board>& boards, const PlanOptions& options);
std::vector<PlannedPair> plan_pairs(const std::vector<scenario::Scenario>& scenarios,
                                    const std::vector<scenario::Board>& boards,
                                    const std::vector<std::string>& filters, bool one_board);

// Shard K of N (1-based): every Nth runnable unit, starting with the Kth, so N jobs cover each
// runnable unit exactly once (a pooled scenario is one unit, whichever board runs it). Skipped units
// stay with shard 1 only, so they are reported once.
std::vector<PlannedPair> shard_pairs(const std::vector<PlannedPair>& pairs, int index, int count);

}  // namespace provhil::runner
