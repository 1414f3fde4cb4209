#pragma once
#include <string>

#include "serial/port.hpp"

namespace provhil::serial::test {

// Reads until `needle` has arrived, the port vanishes or `within` passes; returns everything read.
inline std::string read_until(Port& port, const std::string& needle,
                              std::chrono::milliseconds within = std::chrono::seconds(10),
                              ReadResult* last = nullptr) {
  std::string seen;
  char buffer[4096];
  auto deadline = Clock::now() + within;
  while (seen.find(needle) == std::string::npos) {
    auto result = port.read(buffer, deadline);
    if (last != nullptr) *last = result;
    if (result.status == ReadStatus::data) {
      seen.append(buffer, result.size);
    } else if (result.status == ReadStatus::vanished || result.status == ReadStatus::ended ||
               Clock::now() >= deadline) {
      break;
    }
  }
  return seen;
}

}  // namespace provhil::serial::test
