#include "scenario/model.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace provhil::scenario {

std::string SourceLocation::to_string() const {
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string Matcher::describe() const {
  switch (kind) {
    case Kind::line:
      return fmt::format("line /{}/", pattern);
    case Kind::literal:
      return fmt::format("literal \"{}\"", pattern);
    case Kind::state:
      return fmt::format("state {}", pattern);
    case Kind::event:
      return fmt::format("event {}", pattern);
  }
  return pattern;
}

std::string Step::label() const {
  if (name) return *name;
  return fmt::format("{} at {}:{}", kind(), where.file, where.line);
}

std::string_view to_string(Fault::Kind kind) {
  return std::visit([](auto k) { return intercept::fault_name(k); }, kind);
}

const std::vector<std::string>& fault_kind_names() {
  static const std::vector<std::string> names = [] {
    auto out = intercept::FaultNames::names();
    auto more = intercept::ConnectionFaultNames::names();
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }();
  return names;
}

std::optional<Fault::Kind> parse_fault_kind(std::string_view name) {
  if (auto kind = intercept::FaultNames::parse(name)) return Fault::Kind{*kind};
  if (auto kind = intercept::ConnectionFaultNames::parse(name)) return Fault::Kind{*kind};
  return std::nullopt;
}

Duration default_within(const Step& step) {
  using std::chrono::seconds;
  struct Visitor {
    Duration operator()(const ResetStep&) const { return seconds(10); }
    Duration operator()(const SendStep&) const { return seconds(5); }
    Duration operator()(const ExpectStep&) const { return seconds(10); }
    Duration operator()(const WaitStep& wait) const { return wait.duration; }
    Duration operator()(const CaptureStep&) const { return seconds(10); }
    Duration operator()(const ApConfigStep&) const { return seconds(30); }
    Duration operator()(const ExpectProvisionStep&) const { return seconds(60); }
    Duration operator()(const ExpectLoginStep&) const { return seconds(60); }
    Duration operator()(const ExecStep&) const { return seconds(30); }
    // Blocks have no deadline of their own: their steps do, and the scenario timeout bounds all.
    Duration operator()(const RepeatStep&) const { return Duration::zero(); }
    Duration operator()(const RetryStep&) const { return Duration::zero(); }
  };
  return std::visit(Visitor{}, step.body);
}

const Dialect* DialectSet::find(const std::string& name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &it->second;
}

bool matches(const BoardSelector& selector, const Board& board) {
  auto contains = [](const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  for (const auto& tag : selector.tags)
    if (!contains(board.tags, tag)) return false;
  if (!selector.names.empty() && !contains(selector.names, board.name)) return false;
  if (!selector.dialects.empty() && !contains(selector.dialects, board.dialect)) return false;
  return true;
}

}  // namespace provhil::scenario
