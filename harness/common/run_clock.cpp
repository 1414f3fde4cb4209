#include "common/run_clock.hpp"

#include <ctime>

#include <fmt/format.h>

namespace provhil {

std::string RunClock::started_iso() const {
  auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(wall_origin_.time_since_epoch());
  auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, (since_epoch - seconds).count());
}

}  // namespace provhil
