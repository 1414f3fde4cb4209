// Lab inventories: parse_inventory and check_inventory against the shipped dialects. Relative paths
// resolve under a folder that does not exist.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scenario/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto dialects = provhil::scenario::load_dialects(PROVHIL_SOURCE_DIR "/fixtures/dialects");
  static const bool no_secrets_env = [] { return ::unsetenv("PROVHIL_SECRETS") == 0; }();
  (void)no_secrets_env;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = provhil::scenario::parse_inventory(text, "/nonexistent/provhil-fuzz/boards.yaml");
  for (const auto& d : loaded.diagnostics)
    (void)d.to_string();
  if (loaded.value && dialects.value) {
    for (const auto& d : provhil::scenario::check_inventory(*loaded.value, *dialects.value))
      (void)d.to_string();
  }
  return 0;
}
