// Simulator profiles: parse_profile throws ProfileError and nothing else.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sim/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)provhil::sim::parse_profile(text, "/nonexistent/provhil-fuzz/profile.yaml");
  } catch (const provhil::sim::ProfileError&) {
  }
  return 0;
}
