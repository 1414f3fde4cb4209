#include "runner/board_session.hpp"

#include <atomic>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "common/text.hpp"

namespace provhil::runner {

namespace {

// The hosts a simulated board may be sent to (the console's `connect` uses blynk.cloud:443, regional
// redirects name the regional hosts): all of them lead to the loopback interceptor.
const char* const cloud_hosts[] = {"blynk.cloud",     "fra1.blynk.cloud", "lon1.blynk.cloud",
                                   "ny3.blynk.cloud", "sgp1.blynk.cloud", "blr1.blynk.cloud"};

}  // namespace

BoardSession::BoardSession(const scenario::Board& board, const SimLaunch& sim, const SecretMasker& masker)
    : board_(board),
      // Parsed and checked against the port kind when the inventory was loaded (a simulated board's
      // defaults to signal: SIGUSR1 is the simulator's EN pin).
      hard_reset_(board.reset),
      raw_log_path_(sim.work_dir / (safe_file_name(board.name) + ".raw")) {
  if (board.simulated()) {
    auto stem = safe_file_name(board.name);
    ap_endpoint_file_ = sim.work_dir / (stem + ".ap");
    serial::SpawnOptions spawn;
    spawn.argv = {sim.provhil_binary.string(),
                  "sim",
                  "--profile",
                  board.sim_profile->string(),
                  "--state",
                  (sim.work_dir / (stem + ".state")).string(),
                  "--ca",
                  sim.ca_file.string(),
                  "--ap-endpoint-file",
                  ap_endpoint_file_.string()};
    // All of 127.0.0.0/8 is this host: each simulated board connects from an address of its own.
    if (sim.interceptor_address.rfind("127.", 0) == 0) {
      static std::atomic<unsigned> next_board{0};
      unsigned n = next_board++ % (250U * 250U);
      client_address_ = fmt::format("127.77.{}.{}", n / 250, n % 250 + 1);
      spawn.argv.push_back("--source-address");
      spawn.argv.push_back(client_address_);
    }
    if (sim.time_scale) {
      spawn.argv.push_back("--time-scale");
      spawn.argv.push_back(fmt::format("{}", *sim.time_scale));
    }
    for (const char* host : cloud_hosts) {
      for (int port : {443, sim.interceptor_port}) {
        spawn.argv.push_back("--resolve");
        spawn.argv.push_back(
            fmt::format("{}:{}={}:{}", host, port, sim.interceptor_address, sim.interceptor_port));
      }
    }
    // The simulator gets its settings as arguments: none of the runner's secrets (a board's token
    // variable, LAB_WIFI_PASS, ...) reach it through the environment.
    spawn.inherit_only = std::vector<std::string>{
        "PATH",          "HOME",         "LANG",          "LC_ALL",       "LC_CTYPE",      "TZ",
        "TMPDIR",        "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "SSL_CERT_FILE", "SSL_CERT_DIR",
        "XDG_STATE_HOME"};
    port_ = serial::spawn_pty(spawn);
  } else {
    auto spec = serial::parse_port_spec(board.port);
    serial::OpenOptions options;
    options.serial.baud = board.baud;
    using Flow = scenario::Board::FlowControl;
    options.serial.flow = board.flow_control == Flow::rtscts    ? serial::FlowControl::rts_cts
                          : board.flow_control == Flow::xonxoff ? serial::FlowControl::xon_xoff
                                                                : serial::FlowControl::none;
    // Native-USB boards re-enumerate on reset: give them a moment to come back.
    options.serial.reopen_grace = std::chrono::seconds(5);
    port_ = serial::open_port(spec, options);
  }
  console::ConsoleOptions options;
  options.masker = &masker;
  options.epoch = sim.run_origin;
  console_ = std::make_unique<console::Console>(*port_, options);
  if (board.simulated()) {
    // The simulator installs its reset (SIGUSR1) handler before it prints anything: wait for its
    // first output so that an early reset cannot kill it.
    auto first = console_->expect(console::Pattern::regex("."), std::chrono::seconds(10));
    if (!first.ok())
      throw serial::PortError(port_->describe(), "the simulated board printed nothing: " + first.reason);
  }
}

BoardSession::~BoardSession() {
  console_.reset();
  if (port_) port_->close();
}

std::string BoardSession::port_description() const {
  // A simulator's pty line names its whole command line: the profile says which board it is.
  if (board_.simulated()) return "sim:" + board_.sim_profile->filename().string();
  return port_->describe();
}

bool BoardSession::hard_reset() {
  return console_->reset(hard_reset_, board_.name);
}

bool BoardSession::soft_reset() {
  // A replay does not listen: `reboot` typed to it would be lost, a rewind is its reboot.
  if (port_->capabilities().rewind) return console_->reset(serial::parse_reset_strategy("none"), board_.name);
  return console_->reset(serial::parse_reset_strategy("console:reboot"), board_.name);
}

void BoardSession::start_case() {
  if (!console_->rewind()) console_->mark();
}

ApEndpoint BoardSession::ap_endpoint(std::chrono::steady_clock::time_point deadline) const {
  if (!board_.simulated()) return {"192.168.4.1", 80};
  // The simulator writes the file when its AP comes up (WAIT_CONFIG). Its appearance is not
  // signalled, so look every 2 ms (a failed open costs microseconds) until the deadline.
  while (true) {
    std::ifstream in(ap_endpoint_file_);
    std::string text;
    if (in && std::getline(in, text)) {
      auto colon = text.rfind(':');
      if (colon != std::string::npos) {
        try {
          return {text.substr(0, colon), std::stoi(text.substr(colon + 1))};
        } catch (const std::exception&) {
          // A half-written file: read it again.
        }
      }
    }
    if (auto gone = console_->vanished())
      throw serial::PortError(port_description(), "port vanished: " + *gone);
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error(fmt::format("the simulated board's setup AP is not up ({} was not written)",
                                           ap_endpoint_file_.string()));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::unique_ptr<BoardSession> open_board_session(const scenario::Board& board, const SimLaunch& sim,
                                                 const SecretMasker& masker, const BoardWait& wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + wait.limit;
  std::string shown;
  for (;;) {
    try {
      return std::make_unique<BoardSession>(board, sim, masker);
    } catch (const serial::PortBusy& busy) {
      if (Clock::now() >= deadline) throw;
      auto holders = busy.holders_text();
      if (holders != shown && wait.on_waiting) wait.on_waiting(holders);
      shown = holders;
    }
    // The lock's release is not signalled to other processes: look again every `poll`, in short
    // slices so that an interrupt ends the wait at once.
    auto next = std::min(Clock::now() + wait.poll, deadline);
    while (Clock::now() < next) {
      if (wait.interrupted && wait.interrupted()) return nullptr;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(std::chrono::milliseconds(20), next - Clock::now()));
    }
    if (wait.interrupted && wait.interrupted()) return nullptr;
  }
}

}  // namespace provhil::runner
