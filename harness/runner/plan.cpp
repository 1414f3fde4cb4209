#include "runner/plan.hpp"

#include <algorithm>

namespace provhil::runner {

namespace {

bool selected(const scenario::Scenario& s, const std::vector<std::string>& filters) {
  if (filters.empty()) return true;
  for (const auto& f : filters) {
    if (s.name == f || s.name.find(f) != std::string::npos) return true;
    if (std::find(s.tags.begin(), s.tags.end(), f) != s.tags.end()) return true;
  }
  return false;
}

}  // namespace

std::vector<PlannedPair> plan_pairs(const std::vector<scenario::Scenario>& scenarios,
                                    const std::vector<scenario::Board>& boards, const PlanOptions& options) {
  std::vector<const scenario::Scenario*> ordered;
  for (const auto& s : scenarios)
    ordered.push_back(&s);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return std::tie(a->file, a->name) < std::tie(b->file, b->name);
  });
  std::vector<const scenario::Board*> board_order;
  for (const auto& b : boards)
    board_order.push_back(&b);
  std::stable_sort(board_order.begin(), board_order.end(),
                   [](const auto* a, const auto* b) { return a->name < b->name; });

  std::vector<PlannedPair> pairs;
  for (const auto* s : ordered) {
    if (!selected(*s, options.filters)) {
      pairs.push_back({s, nullptr, {}, "filtered out by --filter", report::SkipReason::filtered_out});
      continue;
    }
    std::vector<const scenario::Board*> matching;
    for (const auto* b : board_order) {
      if (!scenario::matches(s->boards, *b)) continue;
      matching.push_back(b);
      if (options.one_board) break;
    }
    if (matching.empty()) {
      pairs.push_back(
          {s, nullptr, {}, "no eligible board in the inventory", report::SkipReason::no_eligible_board});
      continue;
    }
    auto run_on = options.run_on.value_or(s->boards.run_on);
    if (run_on == scenario::RunOn::any && matching.size() > 1) {
      pairs.push_back({s, nullptr, std::move(matching), {}, {}});
      continue;
    }
    for (const auto* b : matching)
      pairs.push_back({s, b, {}, {}, {}});
  }
  return pairs;
}

std::vector<PlannedPair> plan_pairs(const std::vector<scenario::Scenario>& scenarios,
                                    const std::vector<scenario::Board>& boards,
                                    const std::vector<std::string>& filters, bool one_board) {
  PlanOptions options;
  options.filters = filters;
  options.one_board = one_board;
  return plan_pairs(scenarios, boards, options);
}

std::vector<PlannedPair> shard_pairs(const std::vector<PlannedPair>& pairs, int index, int count) {
  std::vector<PlannedPair> out;
  std::size_t runnable = 0;
  for (const auto& p : pairs) {
    if (!p.runnable()) {
      if (index == 1) out.push_back(p);
      continue;
    }
    if (static_cast<int>(runnable % static_cast<std::size_t>(count)) == index - 1) out.push_back(p);
    ++runnable;
  }
  return out;
}

}  // namespace provhil::runner
