#pragma once
// One time base for a run: every event in results.json, the per-case exchanges.jsonl and the text
// serial logs carries milliseconds since the run started; the run's start is written once, in ISO 8601.
// Offsets are measured on the steady clock (a wall-clock step mid-run moves nothing); wall times are
// derived from the one wall reading taken at the start, so they agree with the offsets.
#include <chrono>
#include <cstdint>
#include <string>

namespace provhil {

class RunClock {
 public:
  using Steady = std::chrono::steady_clock;
  using Wall = std::chrono::system_clock;

  RunClock() : steady_origin_(Steady::now()), wall_origin_(Wall::now()) {}

  Steady::time_point steady_origin() const { return steady_origin_; }
  Wall::time_point wall_origin() const { return wall_origin_; }

  // Milliseconds from the run's start to `at` (negative before it).
  std::int64_t ms(Steady::time_point at) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - steady_origin_).count();
  }
  std::int64_t ms_now() const { return ms(Steady::now()); }
  // The wall time of a steady instant, on this run's base.
  Wall::time_point wall(Steady::time_point at) const {
    return wall_origin_ + std::chrono::duration_cast<Wall::duration>(at - steady_origin_);
  }
  Wall::time_point wall_now() const { return wall(Steady::now()); }
  // "2024-05-01T12:00:00.123Z"
  std::string started_iso() const;

 private:
  Steady::time_point steady_origin_;
  Wall::time_point wall_origin_;
};

}  // namespace provhil
