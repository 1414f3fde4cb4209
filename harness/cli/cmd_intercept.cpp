// `provhil intercept`: the interceptor on its own for manual lab work, printing each exchange live.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"
#include "common/secrets.hpp"
#include "common/text.hpp"
#include "intercept/interceptor.hpp"
#include "intercept/lab_ca.hpp"

namespace provhil::cli {

namespace {

struct InterceptOptions {
  std::string listen = "0.0.0.0:8443";
  std::string advertise;
  std::string mode = "mock";
  std::string upstream = "https://blynk.cloud";
  std::string upstream_ca;
  bool rewrite_redirects = false;
  std::string ca_dir, cert, key, journal;
  int plain_port = -1;
  std::vector<std::string> tokens;
  bool show_secrets = false;
  int max_exchanges = 0;
  double duration = 0;
};

std::string exchange_line(const intercept::Exchange& ex, const SecretMasker& masker) {
  auto wall = std::chrono::system_clock::to_time_t(ex.wall);
  std::tm parts{};
  localtime_r(&wall, &parts);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &parts);
  int failed = 0;
  std::string first_failure;
  for (const auto& v : ex.verdicts)
    if (!v.passed && failed++ == 0) first_failure = fmt::format(" ({}: {})", v.check, v.detail);
  std::string what = ex.kind == intercept::ExchangeKind::login ? fmt::format("login token={}", ex.token)
                                                               : fmt::format("{} {}", ex.method, ex.target);
  std::string line = fmt::format(
      "{} {} sni={} {} {} {} -> {} {} {}us{}{}{}", clock, ex.client, ex.sni.empty() ? "-" : ex.sni,
      ex.tls_version, to_string(ex.kind), what, ex.status, to_string(ex.answered_by), ex.duration.count(),
      ex.verdicts.empty() ? ""
      : failed            ? fmt::format(" checks: {} FAILED{}", failed, first_failure)
                          : fmt::format(" checks: {} ok", ex.verdicts.size()),
      ex.expected || ex.kind == intercept::ExchangeKind::rejected || ex.kind == intercept::ExchangeKind::fault
          ? ""
          : " UNEXPECTED",
      ex.error.empty() ? "" : " error: " + ex.error);
  SecretMasker own;  // the token of an unexpected request is masked too
  if (ex.token.size() >= SecretMasker::min_length) own.add(ex.token, "token");
  // What the client sent (SNI, target, token) is shown escaped: no control character or invalid
  // byte reaches the terminal, so it cannot forge a line or an escape sequence.
  std::string shown = sanitize_text(masker.mask(masker.enabled() ? own.mask(line) : line));
  std::string out;  // one exchange, one line: line breaks too are shown as \xHH
  for (char c : shown) {
    if (c == '\n' || c == '\r')
      out += fmt::format("\\x{:02X}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out;
}

int run_intercept(const InterceptOptions& options) {
  intercept::InterceptorConfig config;
  auto colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    fmt::print(stderr, "provhil intercept: --listen \"{}\" must be ADDRESS:PORT\n", options.listen);
    return to_int(ExitCode::usage);
  }
  config.listen_address = options.listen.substr(0, colon);
  if (config.listen_address.size() > 2 && config.listen_address.front() == '[')
    config.listen_address = config.listen_address.substr(1, config.listen_address.size() - 2);
  unsigned char address_bytes[16];
  if (inet_pton(AF_INET, config.listen_address.c_str(), address_bytes) != 1 &&
      inet_pton(AF_INET6, config.listen_address.c_str(), address_bytes) != 1) {
    fmt::print(stderr, "provhil intercept: --listen \"{}\": \"{}\" is not an IPv4 or IPv6 address\n",
               options.listen, config.listen_address);
    return to_int(ExitCode::usage);
  }
  try {
    int port = std::stoi(options.listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    config.port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    fmt::print(stderr, "provhil intercept: --listen \"{}\": the port is not a number 0-65535\n",
               options.listen);
    return to_int(ExitCode::usage);
  }
  config.advertised_host = options.advertise;
  config.mode = options.mode == "proxy" ? intercept::InterceptorConfig::Mode::proxy
                                        : intercept::InterceptorConfig::Mode::mock;
  config.upstream_url = options.upstream;
  config.upstream_ca_file = options.upstream_ca;
  config.rewrite_redirects = options.rewrite_redirects;
  config.ca_dir = options.ca_dir;
  config.cert_file = options.cert;
  config.key_file = options.key;
  config.journal_path = options.journal;
  if (options.plain_port >= 0) config.plain_http_port = static_cast<std::uint16_t>(options.plain_port);

  if (config.cert_file.empty()) {
    // The lab CA first, so that an unusable folder is reported with the ways to choose another.
    try {
      if (config.ca_dir.empty()) config.ca_dir = intercept::default_ca_dir();
      intercept::ensure_lab_ca(config.ca_dir);
    } catch (const intercept::LabCaError& e) {
      fmt::print(stderr, "provhil intercept: {}\n  ({})\n", e.what(), intercept::ca_dir_options());
      return to_int(ExitCode::infrastructure);
    }
  }

  SecretMasker masker;
  masker.set_enabled(!options.show_secrets);
  config.masker = &masker;

  std::mutex mutex;
  std::condition_variable changed;
  int seen = 0;
  int signal_number = 0;
  std::string journal_error;  // the first failed journal write ends the command with exit 3
  config.on_exchange = [&](const intercept::Exchange& ex) {
    std::lock_guard lock(mutex);
    fmt::print("{}\n", exchange_line(ex, masker));
    std::fflush(stdout);
    ++seen;
    changed.notify_all();
  };
  config.on_journal_error = [&](const std::string& error) {
    std::lock_guard lock(mutex);
    journal_error = error;
    changed.notify_all();
  };

  // Signals go to one thread that wakes the main one; the server threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    std::lock_guard lock(mutex);
    signal_number = received;
    changed.notify_all();
  });
  auto stop_signal_thread = [&] {
    pthread_kill(signal_thread.native_handle(), SIGUSR1);
    signal_thread.join();
  };

  std::unique_ptr<intercept::Interceptor> interceptor;
  try {
    interceptor = std::make_unique<intercept::Interceptor>(config);
    for (const auto& token : options.tokens)
      interceptor->claim_token(token, "provhil intercept --token");
  } catch (const intercept::InterceptorStartError& e) {
    fmt::print(stderr, "provhil intercept: {}\n", e.what());
    stop_signal_thread();
    return to_int(ExitCode::infrastructure);
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "provhil intercept: {}\n", e.what());
    stop_signal_thread();
    return to_int(ExitCode::usage);
  } catch (const std::exception& e) {  // anything else it could not set up (a file, a socket)
    fmt::print(stderr, "provhil intercept: {}\n", e.what());
    stop_signal_thread();
    return to_int(ExitCode::infrastructure);
  }
  {
    std::lock_guard lock(mutex);
    fmt::print("provhil intercept: {} mode, listening on https://{}:{}", options.mode, config.listen_address,
               interceptor->port());
    if (interceptor->plain_port())
      fmt::print(" and http://{}:{}", config.listen_address, *interceptor->plain_port());
    fmt::print(" (boards use host {})\n", interceptor->host());
    fmt::print("provhil intercept: boards must trust {}\n", interceptor->ca_certificate_path().string());
    if (!options.journal.empty()) fmt::print("provhil intercept: journal {}\n", options.journal);
    std::fflush(stdout);
  }

  auto deadline = options.duration > 0
                      ? std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(static_cast<long>(options.duration * 1000))
                      : std::chrono::steady_clock::time_point::max();
  {
    std::unique_lock lock(mutex);
    changed.wait_until(lock, deadline, [&] {
      return signal_number != 0 || !journal_error.empty() ||
             (options.max_exchanges > 0 && seen >= options.max_exchanges);
    });
  }
  bool interrupted = false;
  {
    std::lock_guard lock(mutex);
    interrupted = signal_number == SIGINT || signal_number == SIGTERM;
  }
  interceptor.reset();
  if (!interrupted)
    stop_signal_thread();
  else
    signal_thread.join();
  if (interrupted) return to_int(ExitCode::interrupted);
  // A journal that cannot be written (a full disk) ends the command: exchanges would go unrecorded.
  // Read after the server stopped, so a failure racing the last exchange is still reported.
  if (!journal_error.empty()) {
    fmt::print(stderr, "provhil intercept: {}; stopped\n", journal_error);
    return to_int(ExitCode::infrastructure);
  }
  return to_int(ExitCode::passed);
}

}  // namespace

void add_intercept_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("intercept", "Run the HTTPS interceptor on its own, printing each exchange live");
  auto options = std::make_shared<InterceptOptions>();
  command->footer(
      "Examples:\n"
      "  provhil intercept --listen 127.0.0.1:8443       # mock answers, every exchange printed\n"
      "  provhil intercept --mode proxy --upstream https://blynk.cloud --journal exchanges.jsonl");
  command->add_option("--listen", options->listen, "ADDRESS:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  command->add_option("--advertise", options->advertise,
                      "Host boards are told to connect to (default: listen address)");
  command->add_option("--mode", options->mode, "mock: scripted answers; proxy: forward to --upstream")
      ->check(CLI::IsMember({"mock", "proxy"}))
      ->capture_default_str();
  command->add_option("--upstream", options->upstream, "Upstream for proxy mode (https URL)")
      ->capture_default_str();
  command
      ->add_option("--upstream-ca", options->upstream_ca,
                   "CA file to verify the upstream (default: system roots)")
      ->check(CLI::ExistingFile);
  command->add_flag("--rewrite-redirects", options->rewrite_redirects,
                    "Proxy: point an upstream redirect's Location back at the interceptor");
  command->add_option("--ca-dir", options->ca_dir,
                      "Lab CA folder, created when missing (default: $PROVHIL_CA_DIR, else "
                      "$XDG_STATE_HOME/provhil/ca or ~/.local/state/provhil/ca)");
  command
      ->add_option("--cert", options->cert, "Serve this certificate (chain, PEM) instead of minting leaves")
      ->check(CLI::ExistingFile);
  command->add_option("--key", options->key, "Private key for --cert")->check(CLI::ExistingFile);
  command->add_option("--journal", options->journal, "Append every exchange to FILE.jsonl (tokens masked)");
  command->add_option("--plain-port", options->plain_port,
                      "Also serve plain HTTP on this port (0: any free port)");
  command->add_option("--token", options->tokens,
                      "Token to accept (mock: 200 instead of 400; login: 200 instead of 9)");
  command->add_flag("--show-secrets", options->show_secrets, "Print tokens in clear");
  command->add_option("--max-exchanges", options->max_exchanges, "Exit after this many exchanges");
  command->add_option("--duration", options->duration, "Exit after this many seconds");
  command->callback([&exit_code, options] { exit_code = run_intercept(*options); });
}

}  // namespace provhil::cli
