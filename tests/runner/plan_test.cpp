// Planning and sharding: which (scenario, board) pairs a run covers.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "runner/plan.hpp"
#include "runner/runner.hpp"

namespace {

using provhil::runner::plan_pairs;
using provhil::runner::shard_pairs;
namespace scenario = provhil::scenario;

scenario::Board board(std::string name, std::vector<std::string> tags) {
  scenario::Board b;
  b.name = std::move(name);
  b.tags = std::move(tags);
  return b;
}

scenario::Scenario make_scenario(std::string name, std::string file, std::vector<std::string> board_tags,
                                 std::vector<std::string> tags = {}) {
  scenario::Scenario s;
  s.name = std::move(name);
  s.file = std::move(file);
  s.boards.tags = std::move(board_tags);
  s.tags = std::move(tags);
  return s;
}

struct Fleet {
  std::vector<scenario::Board> boards;
  std::vector<scenario::Scenario> scenarios;
};

Fleet fleet() {
  Fleet f;
  for (int i = 0; i < 7; ++i)
    f.boards.push_back(board("b" + std::to_string(i), {i % 2 ? "odd" : "even", "all"}));
  for (int i = 0; i < 9; ++i) {
    f.scenarios.push_back(make_scenario("s" + std::to_string(i), "scenarios/s" + std::to_string(i) + ".yaml",
                                        {i % 3 == 0 ? "odd" : "all"}, {i % 2 ? "slow" : "fast"}));
  }
  f.scenarios.push_back(make_scenario("nowhere", "scenarios/z.yaml", {"no-such-tag"}));
  return f;
}

TEST(Plan, EachScenarioRunsOnEveryMatchingBoardAndUnmatchedOnesAreSkipped) {
  auto f = fleet();
  auto pairs = plan_pairs(f.scenarios, f.boards, {}, false);
  std::size_t runnable = 0;
  for (const auto& p : pairs) {
    if (p.board == nullptr) {
      EXPECT_EQ(p.scenario->name, "nowhere");
      EXPECT_EQ(p.skip_reason, "no eligible board in the inventory");
      continue;
    }
    ++runnable;
    EXPECT_TRUE(scenario::matches(p.scenario->boards, *p.board));
  }
  // s0, s3, s6 run on the 3 odd boards, the other 6 on all 7.
  EXPECT_EQ(runnable, 3u * 3u + 6u * 7u);
}

TEST(Plan, OneBoardTakesTheFirstMatchingBoardByName) {
  auto f = fleet();
  auto pairs = plan_pairs(f.scenarios, f.boards, {}, true);
  std::map<std::string, int> per_scenario;
  for (const auto& p : pairs) {
    if (p.board == nullptr) continue;
    ++per_scenario[p.scenario->name];
    EXPECT_EQ(p.board->name, p.scenario->boards.tags[0] == "odd" ? "b1" : "b0") << p.scenario->name;
  }
  for (const auto& [name, count] : per_scenario)
    EXPECT_EQ(count, 1) << name;
}

TEST(Plan, FilterByNameOrTagSkipsTheRestWithAReason) {
  auto f = fleet();
  auto pairs = plan_pairs(f.scenarios, f.boards, {"slow", "s2"}, false);
  std::set<std::string> ran;
  for (const auto& p : pairs) {
    if (p.board != nullptr) {
      ran.insert(p.scenario->name);
    } else if (p.scenario->name != "nowhere") {
      EXPECT_EQ(p.skip_reason, "filtered out by --filter");
    }
  }
  EXPECT_EQ(ran, (std::set<std::string>{"s1", "s2", "s3", "s5", "s7"}));
}

TEST(Shard, EveryPairIsCoveredExactlyOnceForAnyShardCount) {
  auto f = fleet();
  auto pairs = plan_pairs(f.scenarios, f.boards, {}, false);
  for (int count = 1; count <= 8; ++count) {
    std::map<std::pair<std::string, std::string>, int> seen;
    std::size_t smallest = SIZE_MAX;
    std::size_t largest = 0;
    int skipped_reported = 0;
    for (int index = 1; index <= count; ++index) {
      auto shard = shard_pairs(pairs, index, count);
      std::size_t runnable = 0;
      for (const auto& p : shard) {
        if (p.board == nullptr) {
          ++skipped_reported;
          continue;
        }
        ++seen[{p.scenario->name, p.board->name}];
        ++runnable;
      }
      smallest = std::min(smallest, runnable);
      largest = std::max(largest, runnable);
    }
    for (const auto& p : pairs) {
      if (p.board == nullptr) continue;
      EXPECT_EQ((seen[{p.scenario->name, p.board->name}]), 1) << "shards " << count;
    }
    EXPECT_EQ(seen.size(), 51u);
    EXPECT_LE(largest - smallest, 1u) << "shards are balanced";
    EXPECT_EQ(skipped_reported, 1) << "a skipped pair is reported by one shard only";
  }
}

TEST(Shard, TheSplitIsDeterministicWhateverTheInputOrder) {
  auto f = fleet();
  auto g = fleet();
  std::reverse(g.scenarios.begin(), g.scenarios.end());
  std::reverse(g.boards.begin(), g.boards.end());
  auto a = shard_pairs(plan_pairs(f.scenarios, f.boards, {}, false), 2, 3);
  auto b = shard_pairs(plan_pairs(g.scenarios, g.boards, {}, false), 2, 3);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].scenario->name, b[i].scenario->name);
    EXPECT_EQ(a[i].board ? a[i].board->name : "", b[i].board ? b[i].board->name : "");
  }
}

// ---- board pools (issue 14): run_on: any is one unit of work, whichever board of its pool runs it ----

Fleet pooled_fleet() {
  auto f = fleet();
  // s0..s8 alternate: the even ones run on any free matching board, the odd ones on each.
  for (std::size_t i = 0; i + 1 < f.scenarios.size(); i += 2)
    f.scenarios[i].boards.run_on = scenario::RunOn::any;
  return f;
}

TEST(Pool, ARunOnAnyScenarioIsOneUnitWithItsMatchingBoardsAsThePool) {
  auto f = pooled_fleet();
  auto pairs = plan_pairs(f.scenarios, f.boards, {}, false);
  std::map<std::string, int> units;
  for (const auto& p : pairs) {
    if (!p.runnable()) continue;
    ++units[p.scenario->name];
    if (p.scenario->boards.run_on == scenario::RunOn::any) {
      ASSERT_TRUE(p.pooled()) << p.scenario->name;
      EXPECT_EQ(p.board, nullptr);
      // Every matching board, by name, and no other.
      std::vector<std::string> pool;
      for (const auto* b : p.pool) {
        EXPECT_TRUE(scenario::matches(p.scenario->boards, *b));
        pool.push_back(b->name);
      }
      std::vector<std::string> expected;
      for (const auto& b : f.boards)
        if (scenario::matches(p.scenario->boards, b)) expected.push_back(b.name);
      std::sort(expected.begin(), expected.end());
      EXPECT_EQ(pool, expected) << p.scenario->name;
    } else {
      EXPECT_FALSE(p.pooled());
      ASSERT_NE(p.board, nullptr);
    }
  }
  // s0, s2, s4, s6, s8 once; s1, s5, s7 on all 7 boards, s3 on the 3 odd ones.
  for (const char* name : {"s0", "s2", "s4", "s6", "s8"})
    EXPECT_EQ(units[name], 1) << name;
  EXPECT_EQ(units["s1"], 7);
  EXPECT_EQ(units["s3"], 3);
}

TEST(Pool, RunOnOverridesEveryScenarioAndOneBoardStillPinsTheFirstBoard) {
  auto f = pooled_fleet();
  provhil::runner::PlanOptions options;
  options.run_on = scenario::RunOn::any;
  std::size_t runnable = 0;
  for (const auto& p : plan_pairs(f.scenarios, f.boards, options)) {
    if (!p.runnable()) continue;
    ++runnable;
    EXPECT_TRUE(p.pooled()) << p.scenario->name;
  }
  EXPECT_EQ(runnable, 9u);
  options.run_on = scenario::RunOn::each;
  runnable = 0;
  for (const auto& p : plan_pairs(f.scenarios, f.boards, options)) {
    if (!p.runnable()) continue;
    ++runnable;
    EXPECT_FALSE(p.pooled()) << p.scenario->name;
  }
  EXPECT_EQ(runnable, 3u * 3u + 6u * 7u);
  options.run_on.reset();
  options.one_board = true;
  for (const auto& p : plan_pairs(f.scenarios, f.boards, options)) {
    if (!p.runnable()) continue;
    ASSERT_NE(p.board, nullptr) << p.scenario->name;
    EXPECT_EQ(p.board->name, p.scenario->boards.tags[0] == "odd" ? "b1" : "b0") << p.scenario->name;
  }
}

TEST(Pool, OneMatchingBoardIsThatBoardsUnit) {
  auto f = pooled_fleet();
  f.scenarios[0].boards.tags.clear();
  f.scenarios[0].boards.names = {"b4"};
  auto pairs = plan_pairs(f.scenarios, f.boards, {}, false);
  auto it = std::find_if(pairs.begin(), pairs.end(), [](const auto& p) { return p.scenario->name == "s0"; });
  ASSERT_NE(it, pairs.end());
  EXPECT_FALSE(it->pooled());
  ASSERT_NE(it->board, nullptr);
  EXPECT_EQ(it->board->name, "b4");
}

TEST(Pool, ShardsCoverEveryUnitExactlyOnceAPooledScenarioBeingOneUnit) {
  auto f = pooled_fleet();
  auto pairs = plan_pairs(f.scenarios, f.boards, {}, false);
  // The unit's key: the scenario and its board, or "*" for the pool.
  auto key = [](const provhil::runner::PlannedPair& p) {
    return std::make_pair(p.scenario->name, p.pooled() ? std::string("*") : p.board->name);
  };
  std::size_t units = 0;
  for (const auto& p : pairs)
    units += p.runnable() ? 1 : 0;
  EXPECT_EQ(units, 5u + 3u * 7u + 3u);
  for (int count = 1; count <= 8; ++count) {
    std::map<std::pair<std::string, std::string>, int> seen;
    std::size_t smallest = SIZE_MAX;
    std::size_t largest = 0;
    int skipped_reported = 0;
    for (int index = 1; index <= count; ++index) {
      std::size_t runnable = 0;
      for (const auto& p : shard_pairs(pairs, index, count)) {
        if (!p.runnable()) {
          ++skipped_reported;
          continue;
        }
        ++seen[key(p)];
        ++runnable;
      }
      smallest = std::min(smallest, runnable);
      largest = std::max(largest, runnable);
    }
    EXPECT_EQ(seen.size(), units) << "shards " << count;
    for (const auto& [unit, times] : seen)
      EXPECT_EQ(times, 1) << unit.first << " [" << unit.second << "], shards " << count;
    EXPECT_LE(largest - smallest, 1u) << "shards are balanced";
    EXPECT_EQ(skipped_reported, 1);
  }
}

TEST(Shard, ParsesKOverNAndRejectsNonsense) {
  std::string error;
  auto shard = provhil::runner::parse_shard("2/4", error);
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->index, 2);
  EXPECT_EQ(shard->count, 4);
  for (const char* bad : {"0/4", "5/4", "4", "a/b", "2/4x", "-1/3", "1/0"}) {
    error.clear();
    EXPECT_FALSE(provhil::runner::parse_shard(bad, error)) << bad;
    EXPECT_NE(error.find("K/N"), std::string::npos) << bad;
  }
}

}  // namespace
