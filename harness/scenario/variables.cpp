#include "scenario/variables.hpp"

#include <fmt/format.h>

#include <mutex>
#include <random>

namespace provhil::scenario {

std::vector<Reference> find_references(std::string_view text, std::string* error) {
  std::vector<Reference> refs;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') continue;
    if (text.substr(i, 3) == "$${") {  // escaped: a literal ${
      i += 2;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') continue;
    auto end = text.find('}', i + 2);
    if (end == std::string_view::npos) {
      if (error)
        *error = fmt::format(
            "'${{' without its closing '}}' at character {} of \"{}\" (write $${{ for a literal ${{)", i + 1,
            text);
      return refs;
    }
    std::string name(text.substr(i + 2, end - i - 2));
    bool valid = !name.empty() && name.front() != '.' && name.back() != '.';
    for (char c : name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) valid = false;
    if (!valid) {
      if (error)
        *error = fmt::format(
            "bad variable reference '${{{}}}': expected a name of letters, digits, _ - and dots, "
            "such as ${{board.token}}",
            name);
      return refs;
    }
    refs.push_back(Reference{std::move(name), i});
    i = end;
  }
  return refs;
}

namespace {

std::optional<std::string> lookup(const std::string& name, const VariableContext& context) {
  auto starts = [&](std::string_view prefix) { return name.rfind(prefix, 0) == 0; };
  if (starts("board.")) {
    if (!context.board) return std::nullopt;
    const Board& board = *context.board;
    std::string key = name.substr(6);
    if (key == "name") return board.name;
    if (key == "port") return board.port;
    if (key == "dialect") return board.dialect;
    if (key == "token") return context.board_token;
    auto it = board.vars.find(key);
    if (it != board.vars.end()) return it->second;
    return std::nullopt;
  }
  if (starts("lab.")) {
    if (!context.lab) return std::nullopt;
    std::string key = name.substr(4);
    if (key == "wifi.ssid") return context.lab->wifi_ssid.value;
    if (key == "wifi.pass") return context.lab->wifi_pass.value;
    auto it = context.lab->values.find(key);
    if (it != context.lab->values.end()) return it->second.value;
    return std::nullopt;
  }
  if (name == "interceptor.host") return context.interceptor_host;
  if (name == "interceptor.port") return std::to_string(context.interceptor_port);
  std::string key = starts("vars.") ? name.substr(5) : name;
  if (auto it = context.captures.find(key); it != context.captures.end()) return it->second;
  if (auto it = context.vars.find(key); it != context.vars.end()) return it->second;
  return std::nullopt;
}

}  // namespace

std::string regex_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (std::string_view(R"(\^$.|?*+()[]{}-/)").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string resolve(std::string_view text, const VariableContext& context, Escape escape) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, 3) == "$${") {
      out += "${";
      i += 3;
      continue;
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      auto end = text.find('}', i + 2);
      if (end == std::string_view::npos)
        throw ResolveError(fmt::format("'${{' without its closing '}}' in \"{}\"", text));
      std::string name(text.substr(i + 2, end - i - 2));
      auto value = lookup(name, context);
      if (!value) throw ResolveError(fmt::format("undefined variable '${{{}}}'", name));
      out += escape == Escape::regex ? regex_escape(*value) : *value;
      i = end + 1;
      continue;
    }
    out += text[i++];
  }
  return out;
}

std::string matcher_regex(const Matcher& matcher, const Dialect& dialect, const VariableContext& context) {
  switch (matcher.kind) {
    case Matcher::Kind::line:
      return resolve(matcher.pattern, context, Escape::regex);
    case Matcher::Kind::literal:
      return regex_escape(resolve(matcher.pattern, context));
    case Matcher::Kind::state: {
      auto it = dialect.states.find(matcher.pattern);
      if (it == dialect.states.end())
        throw ResolveError(fmt::format("dialect {} has no state {}", dialect.name, matcher.pattern));
      return it->second.regex;
    }
    case Matcher::Kind::event: {
      auto it = dialect.events.find(matcher.pattern);
      if (it == dialect.events.end())
        throw ResolveError(fmt::format("dialect {} has no event {}", dialect.name, matcher.pattern));
      return it->second.regex;
    }
  }
  return {};
}

VariableContext make_context(const Scenario& scenario, const Board& board, const Inventory& inventory,
                             std::string board_token, std::string interceptor_host, int interceptor_port) {
  VariableContext context;
  context.board = &board;
  context.board_token = std::move(board_token);
  context.lab = &inventory.lab;
  context.interceptor_host = std::move(interceptor_host);
  context.interceptor_port = interceptor_port;
  for (const auto& var : scenario.vars) {
    try {
      context.vars[var.name] = resolve(var.value, context);
    } catch (const ResolveError& e) {
      throw ResolveError(fmt::format("var {} ({}): {}", var.name, var.where.to_string(), e.what()));
    }
  }
  return context;
}

std::string generate_token() {
  static constexpr std::string_view alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static std::mutex mutex;
  static std::mt19937_64 engine{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string token(32, ' ');
  std::lock_guard lock(mutex);
  for (auto& c : token)
    c = alphabet[pick(engine)];
  return token;
}

}  // namespace provhil::scenario
