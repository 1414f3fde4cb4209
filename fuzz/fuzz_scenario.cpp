// Scenario files: parse_scenario, then the checks `validate` runs against the shipped inventory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scenario/loader.hpp"

namespace {

struct Lab {
  provhil::scenario::Loaded<provhil::scenario::Inventory> inventory;
  provhil::scenario::Loaded<provhil::scenario::DialectSet> dialects;
  Lab()
      : inventory(provhil::scenario::load_inventory(PROVHIL_SOURCE_DIR "/fixtures/boards.yaml")),
        dialects(provhil::scenario::load_dialects(PROVHIL_SOURCE_DIR "/fixtures/dialects")) {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Lab lab;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = provhil::scenario::parse_scenario(text, "fuzz.yaml");
  for (const auto& d : loaded.diagnostics)
    (void)d.to_string();
  if (loaded.value && lab.inventory.value && lab.dialects.value) {
    for (const auto& d :
         provhil::scenario::check_scenario(*loaded.value, *lab.inventory.value, *lab.dialects.value))
      (void)d.to_string();
  }
  return 0;
}
