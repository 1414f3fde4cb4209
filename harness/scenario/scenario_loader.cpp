// Scenario files: YAML -> Scenario, reporting every problem with its location.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/regex_names.hpp"
#include "scenario/detail/yaml_reader.hpp"
#include "scenario/loader.hpp"
#include "scenario/variables.hpp"

namespace provhil::scenario {

namespace {

using detail::describe_node;
using detail::YamlReader;

const std::vector<std::string> step_kinds(step_keywords.begin(), step_keywords.end());
const std::vector<std::string> matcher_keys = {"line", "literal", "state", "event"};
const std::vector<std::string> check_keys = {"equals", "matches", "one_of", "present", "absent"};
const std::vector<std::string> builtin_check_names = BuiltinCheckNames::names();

// Bounds on steps, after YAML aliases are expanded (docs/scenario.md, "Bounds").
constexpr std::size_t max_steps = 10'000;                // step entries in a file, nested ones included
constexpr int max_step_depth = 8;                        // repeat/retry inside repeat/retry
constexpr std::uint64_t max_unrolled_steps = 1'000'000;  // steps one run of the scenario may execute

std::vector<std::string> with_common(std::vector<std::string> keys) {
  keys.push_back("name");
  keys.push_back("within");
  return keys;
}

class ScenarioParser {
 public:
  ScenarioParser(YamlReader& reader) : r_(reader) {}

  Scenario parse(const YAML::Node& root) {
    Scenario s;
    s.where = r_.where(root);
    s.where.line = std::max(1, s.where.line);
    s.where.column = std::max(1, s.where.column);
    if (!r_.expect_map(root, "a scenario file")) return s;
    r_.check_keys(
        root, {"scenario", "description", "tags", "boards", "timeout", "vars", "setup", "steps", "teardown"},
        "the scenario");
    const YAML::Node name = root["scenario"];
    if (!name.IsDefined()) {
      r_.error(s.where, "missing key 'scenario' (the scenario's name) at the top of the file");
    } else if (auto value = r_.text(name, "'scenario' (the scenario's name)")) {
      s.name = *value;
      if (s.name.empty()) r_.error(name, "'scenario' (the scenario's name) must not be empty");
    }
    if (const YAML::Node d = root["description"]; d.IsDefined()) {
      if (auto value = r_.text(d, "'description'")) s.description = *value;
    }
    if (const YAML::Node t = root["tags"]; t.IsDefined()) s.tags = r_.text_list(t, "'tags'");
    if (const YAML::Node b = root["boards"]; b.IsDefined())
      s.boards = parse_selector(b);
    else
      s.boards.where = s.where;
    if (const YAML::Node t = root["timeout"]; t.IsDefined()) {
      if (auto value = r_.duration(t, "'timeout'")) s.timeout = *value;
    }
    if (const YAML::Node v = root["vars"]; v.IsDefined() && r_.expect_map(v, "'vars'")) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        std::string key = it->first.Scalar();
        if (auto value = r_.text(it->second, fmt::format("var '{}'", key))) {
          r_.check_template(it->second, *value);
          s.vars.push_back(Scenario::Var{key, *value, r_.where(it->first)});
        }
      }
    }
    if (const YAML::Node n = root["setup"]; n.IsDefined()) s.setup = parse_steps(n, "'setup'");
    const YAML::Node steps = root["steps"];
    if (!steps.IsDefined())
      r_.error(s.where, "missing key 'steps' (the list of steps)");
    else
      s.steps = parse_steps(steps, "'steps'");
    if (steps.IsDefined() && (steps.IsNull() || (steps.IsSequence() && steps.size() == 0)))
      r_.warning(steps, "'steps' is empty: the scenario checks nothing");
    if (const YAML::Node n = root["teardown"]; n.IsDefined()) s.teardown = parse_steps(n, "'teardown'");
    if (!too_many_) {
      std::uint64_t total = unrolled(s.setup) + unrolled(s.steps) + unrolled(s.teardown);
      if (total > max_unrolled_steps && !too_many_)
        r_.error(s.where, fmt::format("the scenario runs more than {} steps (repeat and retry multiply)",
                                      max_unrolled_steps));
    }
    return s;
  }

 private:
  YamlReader& r_;
  std::size_t steps_seen_ = 0;
  int step_depth_ = 0;
  bool too_many_ = false;  // a bound was reported: read no more steps

  // How many steps one run executes at most, saturating just past the bound; the first repeat or
  // retry that passes it is reported where it is.
  std::uint64_t unrolled(const std::vector<Step>& steps) {
    std::uint64_t total = 0;
    for (const auto& step : steps) {
      std::uint64_t count = 1;
      const std::vector<Step>* inner = nullptr;
      std::uint64_t times = 1;
      if (const auto* repeat = std::get_if<RepeatStep>(&step.body)) {
        inner = &repeat->steps;
        times = static_cast<std::uint64_t>(std::max(repeat->times, 1));
      } else if (const auto* retry = std::get_if<RetryStep>(&step.body)) {
        inner = &retry->steps;
        times = static_cast<std::uint64_t>(std::max(retry->attempts, 1));
      }
      if (inner != nullptr) {
        count += times * unrolled(*inner);
        if (count > max_unrolled_steps && !too_many_) {
          too_many_ = true;
          r_.error(step.where, fmt::format("this '{}' runs more than {} steps (its count times the steps "
                                           "inside it); a scenario may run at most {}",
                                           step.kind(), max_unrolled_steps, max_unrolled_steps));
        }
      }
      total = std::min(total + count, max_unrolled_steps + 1);
    }
    return total;
  }

  BoardSelector parse_selector(const YAML::Node& node) {
    BoardSelector selector;
    selector.where = r_.where(node);
    // `all`: every board runs it; `any`: any one free board of all of them does.
    if (node.IsScalar() && node.Scalar() == "all") return selector;
    if (node.IsScalar() && node.Scalar() == "any") {
      selector.run_on = RunOn::any;
      return selector;
    }
    if (!node.IsMap()) {
      r_.error(node, fmt::format("'boards' must be a mapping with tags, names, dialects or run_on (or 'all', "
                                 "'any'), found {}",
                                 describe_node(node)));
      return selector;
    }
    r_.check_keys(node, {"tags", "names", "dialects", "run_on"}, "'boards'");
    if (const YAML::Node n = node["run_on"]; n.IsDefined()) {
      if (auto value = r_.choice(n, "'boards.run_on'", RunOnNames::names()))
        selector.run_on = *RunOnNames::parse(*value);
    }
    if (const YAML::Node n = node["tags"]; n.IsDefined()) selector.tags = r_.text_list(n, "'boards.tags'");
    if (const YAML::Node n = node["names"]; n.IsDefined()) selector.names = r_.text_list(n, "'boards.names'");
    if (const YAML::Node n = node["dialects"]; n.IsDefined())
      selector.dialects = r_.text_list(n, "'boards.dialects'");
    return selector;
  }

  std::vector<Step> parse_steps(const YAML::Node& node, std::string_view what) {
    std::vector<Step> steps;
    if (!node.IsDefined()) return steps;
    if (node.IsNull()) return steps;  // `teardown:` with nothing after it
    if (!r_.expect_list(node, what)) return steps;
    if (too_many_) return steps;
    if (step_depth_ >= max_step_depth) {
      too_many_ = true;
      r_.error(node, fmt::format("{} is nested more than {} deep (repeat or retry inside repeat or retry)",
                                 what, max_step_depth));
      return steps;
    }
    ++step_depth_;
    for (const auto& item : node) {
      if (too_many_) break;
      if (++steps_seen_ > max_steps) {
        too_many_ = true;
        r_.error(item, fmt::format("more than {} steps in one scenario file (YAML aliases count each time "
                                   "they are used)",
                                   max_steps));
        break;
      }
      if (auto step = parse_step(item)) steps.push_back(std::move(*step));
    }
    --step_depth_;
    return steps;
  }

  std::optional<Step> parse_step(const YAML::Node& item) {
    if (!item.IsMap()) {
      r_.error(item,
               fmt::format("a step must be a mapping such as '- expect: {{ state: RUNNING }}', found {}",
                           describe_node(item)));
      return std::nullopt;
    }
    Step step;
    step.where = r_.where(item);
    // Optional, not a default YAML::Node: assigning to a yaml-cpp node writes through to what it refers to.
    std::optional<YAML::Node> kind_key;
    std::optional<YAML::Node> body_node;
    for (auto it = item.begin(); it != item.end(); ++it) {
      const std::string& key = it->first.Scalar();
      if (key == "name" || key == "within") continue;
      if (std::find(step_kinds.begin(), step_kinds.end(), key) != step_kinds.end()) {
        if (kind_key) {
          r_.error(it->first,
                   fmt::format("a step has one kind, found both '{}' and '{}' (start a new step with '- ')",
                               kind_key->Scalar(), key));
          continue;
        }
        kind_key.emplace(it->first);
        body_node.emplace(it->second);
        continue;
      }
      auto suggestion = did_you_mean(key, step_kinds);
      std::string expected = fmt::format("{}", fmt::join(step_keywords, ", "));
      if (!suggestion.empty())
        r_.error(it->first, fmt::format("unknown step kind '{}'; did you mean '{}'? (expected one of: {})",
                                        key, suggestion, expected));
      else
        r_.error(it->first, fmt::format("unknown step kind '{}' (expected one of: {})", key, expected));
      return std::nullopt;
    }
    if (!kind_key) {
      r_.error(item, "a step needs a kind (reset, send, expect, ...), found only name/within");
      return std::nullopt;
    }
    const YAML::Node body = *body_node;
    const std::string kind = kind_key->Scalar();
    step.where = r_.where(*kind_key);
    auto* outer_sink = r_.template_sink;
    r_.template_sink = &step.templates;
    struct RestoreSink {
      YamlReader& r;
      std::vector<TemplateSite>* saved;
      ~RestoreSink() { r.template_sink = saved; }
    } restore{r_, outer_sink};
    if (!parse_body(kind, item, body, step)) return std::nullopt;
    return step;
  }

  // The body of the kind named `kind`: tries each alternative of StepBody in turn; one without a
  // `parse(node, type)` overload below does not compile.
  template <std::size_t I = 0>
  bool parse_body(const std::string& kind, const YAML::Node& item, const YAML::Node& body, Step& step) {
    if constexpr (I == std::variant_size_v<StepBody>) {
      return false;
    } else {
      using Body = std::variant_alternative_t<I, StepBody>;
      if (kind != Body::keyword) return parse_body<I + 1>(kind, item, body, step);
      // `- expect:` with nothing after it: point at the key, not at wherever the next line starts.
      if (body.IsNull() && !value_optional<Body>) {
        r_.error(step.where, fmt::format("step '{}' has no value: expected {}", kind, Body::value_hint));
        return false;
      }
      read_common(item, step);
      if (body.IsMap()) read_common(body, step);
      step.body = parse(body, std::type_identity<Body>{});
      return true;
    }
  }
  template <class Body>
  static constexpr bool value_optional = requires {
    Body::value_optional;
  };

  // One parser per step kind.
  ResetStep parse(const YAML::Node& b, std::type_identity<ResetStep>) { return parse_reset(b); }
  SendStep parse(const YAML::Node& b, std::type_identity<SendStep>) { return parse_send(b); }
  ExpectStep parse(const YAML::Node& b, std::type_identity<ExpectStep>) { return parse_expect(b); }
  WaitStep parse(const YAML::Node& b, std::type_identity<WaitStep>) { return parse_wait(b); }
  CaptureStep parse(const YAML::Node& b, std::type_identity<CaptureStep>) { return parse_capture(b); }
  ApConfigStep parse(const YAML::Node& b, std::type_identity<ApConfigStep>) { return parse_ap_config(b); }
  ExpectProvisionStep parse(const YAML::Node& b, std::type_identity<ExpectProvisionStep>) {
    return parse_provision(b);
  }
  ExpectLoginStep parse(const YAML::Node& b, std::type_identity<ExpectLoginStep>) { return parse_login(b); }
  ExecStep parse(const YAML::Node& b, std::type_identity<ExecStep>) { return parse_exec(b); }
  RepeatStep parse(const YAML::Node& b, std::type_identity<RepeatStep>) { return parse_repeat(b); }
  RetryStep parse(const YAML::Node& b, std::type_identity<RetryStep>) { return parse_retry(b); }

  void read_common(const YAML::Node& map, Step& step) {
    if (const YAML::Node n = map["name"]; n.IsDefined()) {
      if (step.name)
        r_.error(n, "the step's 'name' is given twice");
      else if (auto value = r_.text(n, "a step's 'name'"))
        step.name = *value;
    }
    if (const YAML::Node n = map["within"]; n.IsDefined()) {
      if (step.within)
        r_.error(n, "the step's 'within' is given twice");
      else
        step.within = r_.duration(n, "'within'");
    }
  }

  std::string template_text(const YAML::Node& node, std::string_view what) {
    auto value = r_.text(node, what);
    if (!value) return {};
    r_.check_template(node, *value);
    return *value;
  }

  // A value or a list of values, each a template.
  std::vector<std::string> template_list(const YAML::Node& node, std::string_view what) {
    auto values = r_.text_list(node, what);
    if (node.IsScalar() && !values.empty()) r_.check_template(node, values.front());
    if (node.IsSequence()) {
      std::size_t i = 0;
      for (const auto& item : node)
        if (item.IsScalar() && i < values.size()) r_.check_template(item, values[i++]);
    }
    return values;
  }

  ResetStep parse_reset(const YAML::Node& body) {
    ResetStep step;
    if (body.IsNull()) return step;
    if (auto mode = r_.choice(body, "reset mode", {"hard", "soft"}))
      step.mode = *mode == "soft" ? ResetStep::Mode::soft : ResetStep::Mode::hard;
    return step;
  }

  SendStep parse_send(const YAML::Node& body) {
    SendStep step;
    if (body.IsMap()) {
      r_.check_keys(body, with_common({"text", "newline"}), "'send'");
      const YAML::Node text = body["text"];
      if (!text.IsDefined())
        r_.error(body, "'send' needs 'text' (what to write to the console)");
      else
        step.text = template_text(text, "'send.text'");
      if (const YAML::Node n = body["newline"]; n.IsDefined())
        step.newline = r_.boolean(n, "'newline'").value_or(true);
      return step;
    }
    step.text = template_text(body, "'send' (the text to write to the console)");
    return step;
  }

  std::optional<Matcher> parse_matcher(const YAML::Node& node, std::string_view what) {
    Matcher m;
    m.where = r_.where(node);
    if (node.IsScalar()) {
      m.kind = Matcher::Kind::literal;
      m.pattern = node.Scalar();
      r_.check_template(node, m.pattern);
      return m;
    }
    if (!node.IsMap()) {
      r_.error(node,
               fmt::format("{} must be a text or a mapping with one of line, literal, state, event; found {}",
                           what, describe_node(node)));
      return std::nullopt;
    }
    r_.check_keys(node, matcher_keys, what);
    return matcher_from_keys(node, what);
  }

  // Exactly one of line/literal/state/event in `map` (other keys are checked by the caller).
  std::optional<Matcher> matcher_from_keys(const YAML::Node& map, std::string_view what) {
    std::optional<Matcher> found;
    for (const auto& key : matcher_keys) {
      const YAML::Node n = map[key];
      if (!n.IsDefined()) continue;
      if (found) {
        r_.error(n, fmt::format("{} takes one of line, literal, state, event; found both '{}' and '{}'", what,
                                matcher_kind_name(found->kind), key));
        continue;
      }
      Matcher m;
      m.where = r_.where(n);
      auto value = r_.text(n, fmt::format("'{}'", key));
      if (!value) continue;
      m.pattern = *value;
      if (key == "line") {
        m.kind = Matcher::Kind::line;
        r_.check_template(n, m.pattern);
        check_regex(n, m.pattern);
      } else if (key == "literal") {
        m.kind = Matcher::Kind::literal;
        r_.check_template(n, m.pattern);
      } else if (key == "state") {
        m.kind = Matcher::Kind::state;
      } else {
        m.kind = Matcher::Kind::event;
      }
      found = m;
    }
    return found;
  }

  static std::string matcher_kind_name(Matcher::Kind kind) {
    switch (kind) {
      case Matcher::Kind::line:
        return "line";
      case Matcher::Kind::literal:
        return "literal";
      case Matcher::Kind::state:
        return "state";
      case Matcher::Kind::event:
        return "event";
    }
    return "";
  }

  void check_regex(const YAML::Node& node, const std::string& pattern) {
    // References are resolved at run time; check the regex with a harmless stand-in for each.
    std::string problem;
    auto refs = find_references(pattern, &problem);
    if (!problem.empty()) return;  // already reported by check_template
    std::string probe;
    std::size_t last = 0;
    for (const auto& ref : refs) {
      probe += pattern.substr(last, ref.offset - last);
      probe += "x";
      last = ref.offset + ref.name.size() + 3;
    }
    probe += pattern.substr(last);
    if (auto error = detail::regex_error(probe))
      r_.error(node, fmt::format("regex does not compile: {}: found /{}/", *error, pattern));
  }

  ExpectStep parse_expect(const YAML::Node& body) {
    ExpectStep step;
    if (body.IsScalar()) {
      if (auto m = parse_matcher(body, "'expect'")) step.any_of.push_back(*m);
      return step;
    }
    if (!body.IsMap()) {
      r_.error(body,
               fmt::format("'expect' must be a text or a mapping such as {{ state: RUNNING }}, found {}",
                           describe_node(body)));
      return step;
    }
    auto keys = with_common(matcher_keys);
    keys.push_back("any_of");
    keys.push_back("must_not");
    r_.check_keys(body, keys, "'expect'");
    auto single = matcher_from_keys(body, "'expect'");
    const YAML::Node any = body["any_of"];
    if (single && any.IsDefined()) {
      r_.error(any,
               fmt::format("'expect' takes either 'any_of' or a single matcher, found both 'any_of' and '{}'",
                           matcher_kind_name(single->kind)));
    } else if (single) {
      step.any_of.push_back(*single);
    } else if (any.IsDefined()) {
      if (r_.expect_list(any, "'any_of'")) {
        for (const auto& item : any)
          if (auto m = parse_matcher(item, "an 'any_of' entry")) step.any_of.push_back(*m);
        if (any.size() == 0) r_.error(any, "'any_of' must list at least one matcher, found an empty list");
      }
    } else {
      r_.error(body, "'expect' needs what to wait for: one of line, literal, state, event or any_of");
    }
    if (const YAML::Node nots = body["must_not"]; nots.IsDefined()) {
      if (nots.IsSequence()) {
        for (const auto& item : nots)
          if (auto m = parse_matcher(item, "a 'must_not' entry")) step.must_not.push_back(*m);
      } else if (auto m = parse_matcher(nots, "'must_not'")) {
        step.must_not.push_back(*m);
      }
    }
    return step;
  }

  WaitStep parse_wait(const YAML::Node& body) {
    WaitStep step;
    if (auto d = r_.duration(body, "'wait'")) step.duration = *d;
    return step;
  }

  CaptureStep parse_capture(const YAML::Node& body) {
    CaptureStep step;
    if (!body.IsMap()) {
      r_.error(body,
               fmt::format("'capture' must be a mapping such as {{ line: 'MAC: (?<mac>\\S+)' }}, found {}",
                           describe_node(body)));
      return step;
    }
    r_.check_keys(body, with_common({"line", "event"}), "'capture'");
    auto m = matcher_from_keys(body, "'capture'");
    if (!m) {
      r_.error(body, "'capture' needs 'line' (a regex with named groups) or 'event' (a dialect event)");
      return step;
    }
    step.from = *m;
    if (m->kind == Matcher::Kind::line) {
      step.names = regex_group_names(m->pattern);
      if (step.names.empty())
        r_.error(m->where, fmt::format("'capture' regex has no named group: expected (?<name>...) in /{}/",
                                       m->pattern));
    }
    return step;
  }

  std::vector<NamedCheck> parse_checks(const YAML::Node& node, std::string_view what) {
    std::vector<NamedCheck> checks;
    if (!r_.expect_map(node, what)) return checks;
    for (auto it = node.begin(); it != node.end(); ++it) {
      NamedCheck check;
      check.name = it->first.Scalar();
      check.check.where = r_.where(it->second);
      const YAML::Node v = it->second;
      std::string context = fmt::format("the check of '{}' in {}", check.name, what);
      if (v.IsScalar()) {
        check.check.kind = ValueCheck::Kind::equals;
        check.check.value = v.Scalar();
        r_.check_template(v, check.check.value);
      } else if (v.IsMap()) {
        r_.check_keys(v, check_keys, context);
        int kinds = 0;
        for (const auto& key : check_keys) {
          const YAML::Node n = v[key];
          if (!n.IsDefined()) continue;
          if (++kinds > 1) {
            r_.error(n, fmt::format("{} takes one of equals, matches, one_of, present, absent; found more",
                                    context));
            break;
          }
          if (key == "equals") {
            check.check.kind = ValueCheck::Kind::equals;
            check.check.value = template_text(n, "'equals'");
          } else if (key == "matches") {
            check.check.kind = ValueCheck::Kind::matches;
            check.check.value = template_text(n, "'matches'");
            check_regex(n, check.check.value);
          } else if (key == "one_of") {
            check.check.kind = ValueCheck::Kind::one_of;
            check.check.values = template_list(n, "'one_of'");
          } else {
            check.check.kind = key == "present" ? ValueCheck::Kind::present : ValueCheck::Kind::absent;
            auto flag = r_.boolean(n, fmt::format("'{}'", key));
            if (flag && !*flag)
              r_.error(n, fmt::format("'{}: false' means nothing; write '{}: true'", key, key));
          }
        }
        if (kinds == 0 && v.size() == 0)
          r_.error(v, fmt::format("{} is empty: expected one of equals, matches, one_of, present, absent",
                                  context));
      } else {
        r_.error(v, fmt::format("{} must be a value or a mapping such as {{ matches: '^TMPL' }}, found {}",
                                context, describe_node(v)));
        continue;
      }
      checks.push_back(std::move(check));
    }
    return checks;
  }

  ApConfigStep parse_ap_config(const YAML::Node& body) {
    ApConfigStep step;
    if (!r_.expect_map(body, "'ap_config'")) return step;
    r_.check_keys(body, with_common({"board_info", "wifi_scan", "config", "expect_status"}), "'ap_config'");
    if (const YAML::Node n = body["board_info"]; n.IsDefined())
      step.board_info = parse_checks(n, "'board_info'");
    if (const YAML::Node n = body["wifi_scan"]; n.IsDefined()) {
      if (n.IsMap()) {
        r_.check_keys(n, {"contains"}, "'wifi_scan'");
        step.wifi_scan = true;
        if (const YAML::Node c = n["contains"]; c.IsDefined())
          step.scan_contains = template_list(c, "'contains'");
      } else {
        step.wifi_scan = r_.boolean(n, "'wifi_scan'").value_or(false);
      }
    }
    const YAML::Node config = body["config"];
    if (config.IsDefined() && r_.expect_map(config, "'config'")) {
      for (auto it = config.begin(); it != config.end(); ++it) {
        std::string key = it->first.Scalar();
        std::string value = template_text(it->second, fmt::format("config parameter '{}'", key));
        step.config.emplace_back(key, value);
      }
      if (config.size() == 0)
        r_.error(config, "'config' is empty: give the /config parameters or leave 'config' out");
    }
    if (!config.IsDefined() && step.board_info.empty() && !step.wifi_scan)
      r_.error(body,
               "'ap_config' does nothing: give 'config' (the /config parameters), 'board_info' checks or "
               "'wifi_scan'");
    if (const YAML::Node n = body["expect_status"]; n.IsDefined()) {
      if (auto v = r_.choice(n, "'expect_status'", {"ok", "error"})) step.expect_status = *v;
    }
    return step;
  }

  std::optional<std::variant<Response, Redirect, Proxy>> parse_answer(const YAML::Node& map,
                                                                      std::string_view what) {
    std::optional<std::variant<Response, Redirect, Proxy>> answer;
    std::string first;
    for (const std::string key : {"respond", "redirect", "proxy"}) {
      const YAML::Node n = map[key];
      if (!n.IsDefined()) continue;
      if (answer) {
        r_.error(n, fmt::format("{} takes one answer: respond, redirect or proxy; found both '{}' and '{}'",
                                what, first, key));
        continue;
      }
      first = key;
      if (key == "respond")
        answer = parse_response(n);
      else if (key == "redirect")
        answer = parse_redirect(n);
      else
        answer = parse_proxy(n);
    }
    return answer;
  }

  Response parse_response(const YAML::Node& n) {
    Response response;
    if (!r_.expect_map(n, "'respond'")) return response;
    r_.check_keys(n, {"status", "headers", "body"}, "'respond'");
    if (const YAML::Node s = n["status"]; s.IsDefined())
      response.status = static_cast<int>(r_.integer(s, "'status'", 100, 599).value_or(200));
    if (const YAML::Node h = n["headers"]; h.IsDefined() && r_.expect_map(h, "'headers'")) {
      for (auto it = h.begin(); it != h.end(); ++it)
        response.headers.emplace_back(it->first.Scalar(), template_text(it->second, "a header value"));
    }
    if (const YAML::Node b = n["body"]; b.IsDefined()) {
      if (b.IsScalar()) {
        response.body = b.Scalar();
        r_.check_template(b, *response.body);
      } else {
        response.body = detail::to_json(b);  // a YAML mapping or list is sent as JSON
      }
    }
    return response;
  }

  Redirect parse_redirect(const YAML::Node& n) {
    Redirect redirect;
    if (n.IsScalar()) {
      redirect.location = template_text(n, "'redirect'");
      return redirect;
    }
    if (!r_.expect_map(n, "'redirect'")) return redirect;
    r_.check_keys(n, {"location", "status"}, "'redirect'");
    if (const YAML::Node l = n["location"]; l.IsDefined())
      redirect.location = template_text(l, "'location'");
    else
      r_.error(n, "'redirect' needs 'location' (an absolute URL)");
    if (const YAML::Node s = n["status"]; s.IsDefined())
      redirect.status = static_cast<int>(r_.integer(s, "'redirect.status'", 300, 399).value_or(308));
    return redirect;
  }

  Proxy parse_proxy(const YAML::Node& n) {
    Proxy proxy;
    if (n.IsMap()) {
      r_.check_keys(n, {"upstream"}, "'proxy'");
      if (const YAML::Node u = n["upstream"]; u.IsDefined()) proxy.upstream = template_text(u, "'upstream'");
      return proxy;
    }
    if (n.IsScalar()) {
      std::string v = n.Scalar();
      if (v == "true" || v == "on" || v == "yes") return proxy;
      if (v.rfind("https://", 0) == 0 || v.rfind("http://", 0) == 0) {
        proxy.upstream = template_text(n, "'proxy'");
        return proxy;
      }
    }
    r_.error(
        n, fmt::format("'proxy' must be true, an upstream URL (https://...) or {{ upstream: URL }}, found {}",
                       describe_node(n)));
    return proxy;
  }

  ExpectProvisionStep parse_provision(const YAML::Node& body) {
    ExpectProvisionStep step;
    if (body.IsNull()) return step;
    if (!r_.expect_map(body, "'expect_provision'")) return step;
    r_.check_keys(body,
                  with_common({"count", "query", "headers", "checks", "respond", "redirect", "proxy",
                               "answers", "faults", "token"}),
                  "'expect_provision'");
    if (const YAML::Node n = body["count"]; n.IsDefined()) step.count = parse_count(n);
    if (const YAML::Node n = body["query"]; n.IsDefined()) step.query = parse_checks(n, "'query'");
    if (const YAML::Node n = body["headers"]; n.IsDefined()) step.headers = parse_checks(n, "'headers'");
    if (const YAML::Node n = body["checks"]; n.IsDefined() && r_.expect_map(n, "'checks'")) {
      r_.check_keys(n, builtin_check_names, "'checks' (built-in checks)");
      for (auto it = n.begin(); it != n.end(); ++it) {
        const std::string& key = it->first.Scalar();
        auto check = BuiltinCheckNames::parse(key);
        if (!check) continue;  // reported by check_keys
        if (auto on = r_.boolean(it->second, fmt::format("built-in check '{}'", key)))
          step.builtin_checks[*check] = *on;
      }
    }
    if (auto answer = parse_answer(body, "'expect_provision'")) step.answer = *answer;
    if (const YAML::Node n = body["answers"]; n.IsDefined() && r_.expect_list(n, "'answers'")) {
      for (const auto& item : n) {
        if (!r_.expect_map(item, "an 'answers' entry")) continue;
        r_.check_keys(item, {"request", "respond", "redirect", "proxy"}, "an 'answers' entry");
        const YAML::Node req = item["request"];
        if (!req.IsDefined()) {
          r_.error(item, "an 'answers' entry needs 'request' (which request it answers, from 1)");
          continue;
        }
        auto nth = r_.integer(req, "'request'", 1, 1000);
        auto answer = parse_answer(item, "an 'answers' entry");
        if (!answer) r_.error(item, "an 'answers' entry needs one of respond, redirect, proxy");
        if (nth && answer) step.nth_answers.emplace_back(static_cast<int>(*nth), *answer);
      }
    }
    if (const YAML::Node n = body["faults"]; n.IsDefined() && r_.expect_list(n, "'faults'")) {
      for (const auto& item : n)
        if (auto fault = parse_fault(item)) step.faults.push_back(*fault);
    }
    if (const YAML::Node n = body["token"]; n.IsDefined()) step.token = template_text(n, "'token'");
    return step;
  }

  CountRule parse_count(const YAML::Node& n) {
    CountRule rule;
    if (n.IsScalar() && n.Scalar() == "none") return CountRule{CountRule::Kind::none, 0};
    if (n.IsScalar()) {
      auto count = r_.integer(n, "'count'", 0, 1000);
      if (count)
        rule = *count == 0 ? CountRule{CountRule::Kind::none, 0}
                           : CountRule{CountRule::Kind::exactly, static_cast<int>(*count)};
      return rule;
    }
    if (n.IsMap()) {
      r_.check_keys(n, {"exactly", "at_least"}, "'count'");
      if (n.size() != 1) {
        r_.error(n, "'count' takes one of exactly, at_least");
        return rule;
      }
      if (const YAML::Node e = n["exactly"]; e.IsDefined()) {
        if (auto c = r_.integer(e, "'exactly'", 0, 1000))
          rule = *c == 0 ? CountRule{CountRule::Kind::none, 0}
                         : CountRule{CountRule::Kind::exactly, static_cast<int>(*c)};
      } else if (const YAML::Node a = n["at_least"]; a.IsDefined()) {
        if (auto c = r_.integer(a, "'at_least'", 1, 1000))
          rule = CountRule{CountRule::Kind::at_least, static_cast<int>(*c)};
      }
      return rule;
    }
    r_.error(
        n, fmt::format("'count' must be a number, 'none', or {{ exactly: N }} / {{ at_least: N }}, found {}",
                       describe_node(n)));
    return rule;
  }

  std::optional<Fault> parse_fault(const YAML::Node& item) {
    if (!r_.expect_map(item, "a fault")) return std::nullopt;
    r_.check_keys(item, {"fault", "request", "delay", "delay_max", "seed"}, "a fault");
    Fault fault;
    fault.where = r_.where(item);
    const YAML::Node kind = item["fault"];
    if (!kind.IsDefined()) {
      r_.error(item, fmt::format("a fault needs 'fault' (one of {})", fmt::join(fault_kind_names(), ", ")));
      return std::nullopt;
    }
    auto name = r_.choice(kind, "fault", fault_kind_names());
    if (!name) return std::nullopt;
    fault.kind = *parse_fault_kind(*name);
    if (const YAML::Node n = item["request"]; n.IsDefined()) {
      if (auto nth = r_.integer(n, "'request'", 1, 1000)) fault.request = static_cast<int>(*nth);
    }
    const YAML::Node delay = item["delay"];
    if (fault.kind == Fault::Kind{intercept::Fault::Kind::delay}) {
      if (!delay.IsDefined())
        r_.error(item, "a delay fault needs 'delay' (e.g. delay: 15s)");
      else if (auto d = r_.duration(delay, "'delay'"))
        fault.delay = *d;
      if (const YAML::Node n = item["delay_max"]; n.IsDefined()) {
        fault.delay_max = r_.duration(n, "'delay_max'");
        if (fault.delay_max && *fault.delay_max < fault.delay)
          r_.error(n, "'delay_max' must not be shorter than 'delay'");
      }
      if (const YAML::Node n = item["seed"]; n.IsDefined()) {
        if (auto seed = r_.integer(n, "'seed'", 0, std::numeric_limits<long long>::max()))
          fault.seed = static_cast<std::uint64_t>(*seed);
      }
    } else {
      for (const std::string key : {"delay", "delay_max", "seed"})
        if (const YAML::Node n = item[key]; n.IsDefined())
          r_.error(n,
                   fmt::format("'{}' applies only to a delay fault, found it on a '{}' fault", key, *name));
    }
    return fault;
  }

  ExpectLoginStep parse_login(const YAML::Node& body) {
    ExpectLoginStep step;
    if (body.IsNull()) return step;
    if (!r_.expect_map(body, "'expect_login'")) return step;
    r_.check_keys(body, with_common({"token", "info", "answer"}), "'expect_login'");
    if (const YAML::Node n = body["token"]; n.IsDefined()) step.token = template_text(n, "'token'");
    if (const YAML::Node n = body["info"]; n.IsDefined()) step.info = parse_checks(n, "'info'");
    if (const YAML::Node n = body["answer"]; n.IsDefined()) {
      if (auto v = r_.choice(n, "'answer'", {"ok", "invalid_token"})) step.accept = *v == "ok";
    }
    return step;
  }

  ExecStep parse_exec(const YAML::Node& body) {
    ExecStep step;
    if (body.IsMap()) {
      r_.check_keys(body, with_common({"command", "expect_exit"}), "'exec'");
      if (const YAML::Node n = body["command"]; n.IsDefined())
        step.command = template_text(n, "'command'");
      else
        r_.error(body, "'exec' needs 'command' (run by /bin/sh -c)");
      if (const YAML::Node n = body["expect_exit"]; n.IsDefined())
        step.expect_exit = static_cast<int>(r_.integer(n, "'expect_exit'", 0, 255).value_or(0));
      return step;
    }
    step.command = template_text(body, "'exec' (the command)");
    return step;
  }

  RepeatStep parse_repeat(const YAML::Node& body) {
    RepeatStep step;
    if (!r_.expect_map(body, "'repeat'")) return step;
    r_.check_keys(body, with_common({"times", "steps"}), "'repeat'");
    if (const YAML::Node n = body["times"]; n.IsDefined())
      step.times = static_cast<int>(r_.integer(n, "'times'", 1, 10000).value_or(1));
    else
      r_.error(body, "'repeat' needs 'times' (how many times, 1 to 10000)");
    if (const YAML::Node n = body["steps"]; n.IsDefined())
      step.steps = parse_steps(n, "'repeat.steps'");
    else
      r_.error(body, "'repeat' needs 'steps' (the block to repeat)");
    return step;
  }

  RetryStep parse_retry(const YAML::Node& body) {
    RetryStep step;
    if (!r_.expect_map(body, "'retry'")) return step;
    r_.check_keys(body, with_common({"attempts", "delay", "steps"}), "'retry'");
    if (const YAML::Node n = body["attempts"]; n.IsDefined())
      step.attempts = static_cast<int>(r_.integer(n, "'attempts'", 1, 100).value_or(1));
    else
      r_.error(body, "'retry' needs 'attempts' (the most tries, 1 to 100)");
    if (const YAML::Node n = body["delay"]; n.IsDefined())
      step.delay = r_.duration(n, "'delay'").value_or(Duration{0});
    if (const YAML::Node n = body["steps"]; n.IsDefined())
      step.steps = parse_steps(n, "'retry.steps'");
    else
      r_.error(body, "'retry' needs 'steps' (the block to retry)");
    return step;
  }
};

}  // namespace

namespace {
Loaded<Scenario> parse_scenario_unguarded(std::string_view yaml_text, const std::string& file_label) {
  Loaded<Scenario> result;
  YamlReader reader(file_label, result.diagnostics);
  if (auto bad = detail::first_invalid_utf8(yaml_text)) {
    reader.error(SourceLocation{file_label, bad->first, bad->second},
                 "the file is not valid UTF-8 (save it as UTF-8; write other bytes as \\xHH escapes)");
    return result;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    reader.error(reader.where(e.mark), fmt::format("not valid YAML: {}", e.msg));
    return result;
  }
  if (!detail::check_yaml_bounds(root, reader)) return result;
  ScenarioParser parser(reader);
  result.value = parser.parse(root);
  result.value->file = file_label;
  detail::sort_by_place(result.diagnostics);
  return result;
}

}  // namespace

Loaded<Scenario> load_scenario(const std::filesystem::path& file) {
  std::string why;
  auto text = detail::read_text_file(file, &why);
  if (!text) {
    Loaded<Scenario> result;
    result.diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, SourceLocation{file.string(), 0, 0},
                                            fmt::format("cannot read the file: {}", why)});
    return result;
  }
  return parse_scenario(*text, file.string());
}

Loaded<Scenario> parse_scenario(std::string_view yaml_text, const std::string& file_label) {
  return detail::guarded_load<Scenario>(file_label,
                                        [&] { return parse_scenario_unguarded(yaml_text, file_label); });
}

}  // namespace provhil::scenario
