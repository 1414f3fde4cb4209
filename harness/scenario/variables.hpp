#pragma once

// `${...}` references in scenario strings, resolved per board at run time.
//   ${board.name} ${board.port} ${board.dialect} ${board.token} ${board.<key>}   (inventory board vars)
//   ${lab.wifi.ssid} ${lab.wifi.pass} ${lab.<key>}
//   ${interceptor.host} ${interceptor.port}
//   ${vars.<name>} or ${<name>}: a scenario var or a capture (captures win: they are newer)
// `$${` writes a literal `${`.

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "scenario/model.hpp"

namespace provhil::scenario {

class ResolveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct VariableContext {
  const Board* board = nullptr;
  std::string board_token;  // the inventory's token, or a fresh generate_token() for this run
  const Lab* lab = nullptr;
  std::string interceptor_host;
  int interceptor_port = 0;
  std::map<std::string, std::string> vars;      // scenario vars, already resolved
  std::map<std::string, std::string> captures;  // filled by capture / expect steps as they run
};

// Builds the context for one (scenario, board) run: resolves the scenario's vars in order (a var may
// use board/lab/interceptor values and earlier vars). Throws ResolveError.
VariableContext make_context(const Scenario& scenario, const Board& board, const Inventory& inventory,
                             std::string board_token, std::string interceptor_host, int interceptor_port);

enum class Escape { none, regex };
// Replaces every reference; with Escape::regex the inserted values are regex-escaped (the template
// itself is a regex). Throws ResolveError naming the reference when it is undefined.
std::string resolve(std::string_view text, const VariableContext& context, Escape escape = Escape::none);

// The regex the console engine should search for `matcher` on a board of `dialect`
// (line: resolved with escaping; literal: escaped; state/event: the dialect's pattern).
// Throws ResolveError when the dialect lacks the state or event.
std::string matcher_regex(const Matcher& matcher, const Dialect& dialect, const VariableContext& context);

struct Reference {
  std::string name;    // e.g. "board.token"
  std::size_t offset;  // of the `$` in the text
};
// The references in `text`; a `${` without its `}` or an empty name sets `error`.
std::vector<Reference> find_references(std::string_view text, std::string* error = nullptr);

// A fresh, valid-looking auth token: 32 characters of [-_a-zA-Z0-9] (letters and digits only, so
// it never needs escaping), from a random device. Thread-safe.
std::string generate_token();

std::string regex_escape(std::string_view text);

// Registers the inventory's secrets (WiFi password, lab secrets, board tokens) with `masker`'s add().
template <class Masker>
void register_secrets(const Inventory& inventory, Masker& masker) {
  if (inventory.lab.wifi_pass.value) masker.add(*inventory.lab.wifi_pass.value, "wifi-pass");
  for (const auto& [key, value] : inventory.lab.values)
    if (value.secret && value.value) masker.add(*value.value, key);
  for (const auto& board : inventory.boards)
    if (board.token && board.token->value) masker.add(*board.token->value, "token");
}

}  // namespace provhil::scenario
