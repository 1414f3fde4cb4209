// Firmware dialect files: parse_dialect (patterns are compiled with Boost.Regex).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scenario/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = provhil::scenario::parse_dialect(text, "/nonexistent/provhil-fuzz/dialect.yaml");
  for (const auto& d : loaded.diagnostics)
    (void)d.to_string();
  return 0;
}
