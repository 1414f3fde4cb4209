// Interceptor load benchmark (not a test). Each server runs in its own child process; the load
// generator here makes provision requests with a new TLS connection each (boards don't reuse
// connections) and reports requests/s and latency p50/p99 for: mock mode, the local upstream
// directly, proxy mode in front of that upstream, and mitmproxy (reverse mode) in front of it.
// Then: leaf minting time for a new SNI, and the interceptor's RSS with 1,000 idle connections.
// Also the floor under all of it: OpenSSL's own handshake CPU per side, in memory (no sockets, no HTTP).
// Usage: bench_intercept [--seconds S] [--concurrency C] [--idle N] [--server-threads N]
//                        [--mitmdump PATH|none]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "asio/tls_socket.hpp"
#include "intercept/certs.hpp"
#include "intercept/interceptor.hpp"
#include "intercept/lab_ca.hpp"

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace provhil::intercept;

namespace {

const std::string kToken = "Rps15JICmtRVbFyS_95houlLbm6xIQ2L";
const std::string kTarget =
    "/external/api/provision?token=" + kToken +
    "&templateId=TMPL8sRFwcfqL&build=Oct+1&ver=1.0.0&type=MCU&fwType=TMPL8sRFwcfqL&blVer=2.27.2&boType=ESP32";

// ---- servers in child processes ------------------------------------------------------------

struct ChildServer {
  pid_t pid = -1;
  std::uint16_t port = 0;
  int control = -1;  // closing it tells the child to stop
  std::filesystem::path ca_pem;
  void stop() {
    if (pid <= 0) return;
    close(control);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
  }
};

// Forks before the parent has threads; the child runs an Interceptor until the control pipe closes.
ChildServer spawn_interceptor(InterceptorConfig config) {
  int port_pipe[2], control_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(control_pipe) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(port_pipe[0]);
    close(control_pipe[1]);
    {
      Interceptor interceptor(config);
      ProvisionExpectation e;
      e.token = kToken;
      e.owner = "bench";
      e.count = CountRule::at_least_n(1);
      interceptor.expect_provision(e);
      std::uint16_t port = interceptor.port();
      if (write(port_pipe[1], &port, sizeof port) != sizeof port) _exit(2);
      char byte;
      while (read(control_pipe[0], &byte, 1) > 0) {
      }
    }
    _exit(0);
  }
  close(port_pipe[1]);
  close(control_pipe[0]);
  ChildServer child;
  child.pid = pid;
  child.control = control_pipe[1];
  if (read(port_pipe[0], &child.port, sizeof child.port) != sizeof child.port)
    throw std::runtime_error("an interceptor child did not start");
  close(port_pipe[0]);
  child.ca_pem = config.cert_file.empty() ? config.ca_dir / "ca.pem" : config.cert_file;
  return child;
}

// CPU seconds (user + system) a process has used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto fields = text.substr(text.rfind(')') + 2);
  std::istringstream in(fields);
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kb(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// ---- the load generator --------------------------------------------------------------------

struct LoadResult {
  std::string name;
  std::size_t ok = 0, errors = 0;
  double seconds = 0;
  std::vector<double> latency_ms;
  std::string first_error;
  double server_cpu_ms = 0, client_cpu_ms = 0;  // CPU per request
  double rps() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
  double percentile(double p) {
    if (latency_ms.empty()) return 0;
    std::sort(latency_ms.begin(), latency_ms.end());
    auto index = static_cast<std::size_t>(p * static_cast<double>(latency_ms.size() - 1));
    return latency_ms[index];
  }
};

// Connections are made with the project's TlsSocket (OpenSSL on the descriptor), the lightest
// client at hand: the generator shares the 2 cores with the server it measures.
class Load {
 public:
  Load(asio::io_context& ioc, SSL_CTX* ctx, std::uint16_t port, std::string sni, steady::time_point deadline,
       std::size_t limit, LoadResult& result)
      : limit_(limit),
        ioc_(ioc),
        ctx_(ctx),
        endpoint_(asio::ip::make_address("127.0.0.1"), port),
        sni_(std::move(sni)),
        deadline_(deadline),
        result_(result) {
    request_ = "GET " + kTarget + " HTTP/1.1\r\nHost: " + sni_ +
               "\r\nUser-Agent: ESP32HTTPClient\r\nConnection: close\r\n\r\n";
  }

  void start_one() {
    if (steady::now() >= deadline_ || result_.errors > 1000 || result_.ok + result_.errors >= limit_) return;
    auto conn = std::make_shared<Conn>(ioc_);
    conn->started = steady::now();
    conn->socket.async_connect(endpoint_, [this, conn](boost::system::error_code ec) {
      if (ec) return fail(conn, "connect", ec);
      conn->socket.set_option(tcp::no_delay(true), ec);  // as curl and most clients do
      conn->stream.emplace(std::move(conn->socket), ctx_);
      // SSL_set_tlsext_host_name() without its old-style cast
      SSL_ctrl(conn->stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(sni_.c_str()));
      conn->stream->async_handshake(ssl::stream_base::client, [this, conn](boost::system::error_code hec) {
        if (hec) return fail(conn, "handshake", hec);
        asio::async_write(
            *conn->stream, asio::buffer(request_), [this, conn](boost::system::error_code wec, std::size_t) {
              if (wec) return fail(conn, "write", wec);
              http::async_read(
                  *conn->stream, conn->buffer, conn->response,
                  [this, conn](boost::system::error_code rec, std::size_t) {
                    if (rec) return fail(conn, "read", rec);
                    if (conn->response.result_int() != 200)
                      return fail(conn, fmt::format("status {}", conn->response.result_int()), {});
                    result_.ok++;
                    result_.latency_ms.push_back(
                        std::chrono::duration<double, std::milli>(steady::now() - conn->started).count());
                    conn->stream->close();
                    start_one();
                  });
            });
      });
    });
  }

 private:
  struct Conn {
    explicit Conn(asio::io_context& ioc) : socket(ioc) {}
    tcp::socket socket;
    std::optional<provhil::net::TlsSocket> stream;
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    steady::time_point started;
  };
  void fail(const std::shared_ptr<Conn>& conn, const std::string& what, boost::system::error_code ec) {
    if (result_.first_error.empty())
      result_.first_error = fmt::format("{}: {}", what, ec ? ec.message() : "");
    result_.errors++;
    if (conn->stream)
      conn->stream->close();
    else
      conn->socket.close(ec);
    start_one();
  }
  std::size_t limit_;
  asio::io_context& ioc_;
  SSL_CTX* ctx_;
  tcp::endpoint endpoint_;
  std::string sni_, request_;
  steady::time_point deadline_;
  LoadResult& result_;
};

struct ClientContext {
  explicit ClientContext(int max_version) {
    SSL_CTX_set_verify(ctx.native_handle(), SSL_VERIFY_NONE, nullptr);  // the same for every server measured
    SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
  }
  ssl::context ctx{ssl::context::tls_client};
};

// `concurrency` connections at a time, spread over `threads` client threads with an io_context each.
LoadResult run_load(const std::string& name, std::uint16_t port, const std::string& sni, double seconds,
                    int concurrency, int threads = 2, int max_version = TLS1_3_VERSION,
                    std::size_t limit = SIZE_MAX) {
  ClientContext client(max_version);
  threads = std::max(1, std::min(threads, concurrency));
  std::vector<LoadResult> parts(static_cast<std::size_t>(threads));
  auto begin = steady::now();
  auto deadline = begin + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      asio::io_context ioc(1);
      Load load(ioc, client.ctx.native_handle(), port, sni, deadline, limit,
                parts[static_cast<std::size_t>(t)]);
      for (int i = t; i < concurrency; i += threads)
        load.start_one();
      ioc.run();
    });
  for (auto& worker : workers)
    worker.join();
  LoadResult result;
  result.name = name;
  result.seconds = std::chrono::duration<double>(steady::now() - begin).count();
  for (auto& part : parts) {
    result.ok += part.ok;
    result.errors += part.errors;
    result.latency_ms.insert(result.latency_ms.end(), part.latency_ms.begin(), part.latency_ms.end());
    if (result.first_error.empty()) result.first_error = part.first_error;
  }
  return result;
}

// ---- the floor: OpenSSL alone ------------------------------------------------------------

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

struct HandshakeFloor {
  double server_ms = 0, client_ms = 0;  // CPU per full handshake
};

// Full TLS 1.3 handshakes between two SSL objects over an in-memory BIO pair, with the interceptor's
// leaf and settings: what each side costs before any socket, event loop or HTTP is involved.
HandshakeFloor handshake_floor(const std::filesystem::path& ca_dir, int rounds) {
  LeafMinter minter(ca_dir);
  SSL_CTX* server = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(server, minter.mint("fra1.blynk.cloud").get());
  SSL_CTX_use_PrivateKey(server, minter.leaf_key());
  SSL_CTX_set_num_tickets(server, 0);
  SSL_CTX_set_session_cache_mode(server, SSL_SESS_CACHE_OFF);
  SSL_CTX* client = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(client, SSL_VERIFY_NONE, nullptr);
  HandshakeFloor floor;
  for (int i = 0; i < rounds; ++i) {
    BIO *server_bio = nullptr, *client_bio = nullptr;
    BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);  // the transport: neither side's cost
    double t0 = thread_cpu_ms();
    SSL* s = SSL_new(server);
    SSL_set_bio(s, server_bio, server_bio);
    SSL_set_accept_state(s);
    double t1 = thread_cpu_ms();
    SSL* c = SSL_new(client);
    SSL_set_bio(c, client_bio, client_bio);
    SSL_set_connect_state(c);
    SSL_ctrl(c, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>("fra1.blynk.cloud"));
    double t2 = thread_cpu_ms();
    floor.server_ms += t1 - t0;
    floor.client_ms += t2 - t1;
    bool server_done = false, client_done = false;
    for (int turn = 0; turn < 20 && !(server_done && client_done); ++turn) {
      double a = thread_cpu_ms();
      if (!client_done) client_done = SSL_do_handshake(c) == 1;
      double b = thread_cpu_ms();
      if (!server_done) server_done = SSL_do_handshake(s) == 1;
      double d = thread_cpu_ms();
      floor.client_ms += b - a;
      floor.server_ms += d - b;
    }
    if (!server_done || !client_done) throw std::runtime_error("in-memory handshake did not complete");
    double a = thread_cpu_ms();
    SSL_free(c);
    double b = thread_cpu_ms();
    SSL_free(s);
    double d = thread_cpu_ms();
    floor.client_ms += b - a;
    floor.server_ms += d - b;
  }
  SSL_CTX_free(server);
  SSL_CTX_free(client);
  floor.server_ms /= rounds;
  floor.client_ms /= rounds;
  return floor;
}

bool wait_for_port(std::uint16_t port, std::chrono::seconds within) {
  auto deadline = steady::now() + within;
  while (steady::now() < deadline) {
    asio::io_context ioc;
    tcp::socket socket(ioc);
    boost::system::error_code ec;
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::uint16_t free_port() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// One handshake + request, sequential: the latency of a single exchange.
double one_exchange_ms(std::uint16_t port, const std::string& sni) {
  LoadResult r = run_load("one", port, sni, 60, 1, 1, TLS1_3_VERSION, 1);
  return r.latency_ms.empty() ? -1 : r.latency_ms[0];
}

void print_row(LoadResult& r) {
  fmt::print("| {:<36} | {:>8.0f} | {:>8.2f} | {:>8.2f} | {:>6} | {:>10.3f} | {:>10.3f} |{}\n", r.name,
             r.rps(), r.percentile(0.5), r.percentile(0.99), r.errors, r.server_cpu_ms, r.client_cpu_ms,
             r.first_error.empty() ? "" : " first error: " + r.first_error);
}

// run_load, plus the CPU the server processes and this client spent per request.
LoadResult measured(const std::string& name, std::vector<pid_t> servers, std::uint16_t port,
                    const std::string& sni, double seconds, int concurrency,
                    int max_version = TLS1_3_VERSION) {
  auto server_cpu = [&] {
    double sum = 0;
    for (auto pid : servers)
      sum += cpu_seconds(pid);
    return sum;
  };
  double server_before = server_cpu(), client_before = cpu_seconds(getpid());
  LoadResult r = run_load(name, port, sni, seconds, concurrency, 2, max_version);
  double requests = static_cast<double>(std::max<std::size_t>(1, r.ok));
  r.server_cpu_ms = (server_cpu() - server_before) * 1000 / requests;
  r.client_cpu_ms = (cpu_seconds(getpid()) - client_before) * 1000 / requests;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int concurrency = 16;
  int idle = 1000;
  int server_threads = InterceptorConfig{}.threads;
  std::string mitmdump = "mitmdump";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--seconds")
      seconds = std::stod(value);
    else if (key == "--concurrency")
      concurrency = std::stoi(value);
    else if (key == "--idle")
      idle = std::stoi(value);
    else if (key == "--server-threads")
      server_threads = std::stoi(value);
    else if (key == "--mitmdump")
      mitmdump = value;
    else {
      fmt::print(stderr, "unknown option {}\n", key);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  char dir_template[] = "/tmp/provhil-bench-XXXXXX";
  std::filesystem::path tmp = mkdtemp(dir_template);

  // Servers first, while this process has no threads (fork).
  InterceptorConfig upstream_config;
  upstream_config.ca_dir = tmp / "upstream-ca";
  upstream_config.threads = server_threads;
  ensure_lab_ca(upstream_config.ca_dir);
  ChildServer upstream = spawn_interceptor(upstream_config);

  InterceptorConfig mock_config;
  mock_config.ca_dir = tmp / "ca";
  mock_config.threads = server_threads;
  ensure_lab_ca(mock_config.ca_dir);
  ChildServer mock = spawn_interceptor(mock_config);

  InterceptorConfig proxy_config = mock_config;
  proxy_config.mode = InterceptorConfig::Mode::proxy;
  proxy_config.upstream_url = fmt::format("https://localhost:{}", upstream.port);
  proxy_config.upstream_ca_file = upstream.ca_pem;
  ChildServer proxy = spawn_interceptor(proxy_config);

  InterceptorConfig idle_config = mock_config;
  idle_config.header_timeout = std::chrono::minutes(2);
  ChildServer idle_server = spawn_interceptor(idle_config);

  fmt::print(
      "provhil interceptor benchmark: {} s per run, {} concurrent clients, new TLS connection per "
      "request\n\n",
      seconds, concurrency);
  fmt::print("| {:<36} | {:>8} | {:>8} | {:>8} | {:>6} | {:>10} | {:>10} |\n", "server", "req/s", "p50 ms",
             "p99 ms", "errors", "srv CPU ms", "cli CPU ms");
  fmt::print("|{:-<38}|{:-<10}|{:-<10}|{:-<10}|{:-<8}|{:-<12}|{:-<12}|\n", "", "", "", "", "", "", "");
  auto mock_result =
      measured("interceptor, mock mode", {mock.pid}, mock.port, "fra1.blynk.cloud", seconds, concurrency);
  print_row(mock_result);
  // What ESP32 and ESP8266 boards speak (their mbedTLS does not offer TLS 1.3).
  auto mock_tls12 = measured("interceptor, mock mode, TLS 1.2", {mock.pid}, mock.port, "fra1.blynk.cloud",
                             seconds, concurrency, TLS1_2_VERSION);
  print_row(mock_tls12);
  HandshakeFloor floor = handshake_floor(mock_config.ca_dir, 2000);
  double cores = static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  double ceiling = cores * 1000 / (floor.server_ms + floor.client_ms);
  fmt::print("| {:<36} | {:>8.0f} | {:>8} | {:>8} | {:>6} | {:>10.3f} | {:>10.3f} |\n",
             "OpenSSL alone, in memory (ceiling)", ceiling, "-", "-", 0, floor.server_ms, floor.client_ms);
  auto direct =
      measured("local upstream, direct", {upstream.pid}, upstream.port, "localhost", seconds, concurrency);
  print_row(direct);
  auto proxied = measured("interceptor, proxy -> local upstream", {proxy.pid, upstream.pid}, proxy.port,
                          "fra1.blynk.cloud", seconds, concurrency);
  print_row(proxied);
  // Added latency, unloaded: one client, sequential requests.
  auto direct_1 = measured("local upstream, direct, 1 client", {upstream.pid}, upstream.port, "localhost",
                           seconds / 2, 1);
  print_row(direct_1);
  auto proxied_1 = measured("proxy -> local upstream, 1 client", {proxy.pid, upstream.pid}, proxy.port,
                            "fra1.blynk.cloud", seconds / 2, 1);
  print_row(proxied_1);

  std::optional<LoadResult> mitm;
  pid_t mitm_pid = -1;
  if (mitmdump != "none") {
    std::uint16_t mitm_port = free_port();
    std::string mode = fmt::format("reverse:https://localhost:{}", upstream.port);
    std::string port_text = std::to_string(mitm_port);
    std::string ca_option = "ssl_verify_upstream_trusted_ca=" + upstream.ca_pem.string();
    std::string confdir = "confdir=" + (tmp / "mitmproxy").string();
    std::fflush(stdout);  // or the child's copy of the buffer is printed twice
    mitm_pid = fork();
    if (mitm_pid == 0) {
      freopen("/dev/null", "w", stdout);
      execlp(mitmdump.c_str(), mitmdump.c_str(), "-q", "--mode", mode.c_str(), "--listen-host", "127.0.0.1",
             "--listen-port", port_text.c_str(), "--set", ca_option.c_str(), "--set", confdir.c_str(),
             nullptr);
      _exit(127);
    }
    if (wait_for_port(mitm_port, std::chrono::seconds(60))) {
      mitm = measured("mitmproxy reverse -> local upstream", {mitm_pid, upstream.pid}, mitm_port,
                      "fra1.blynk.cloud", seconds, concurrency);
      print_row(*mitm);
    } else {
      fmt::print("| mitmproxy: `{}` did not start (install Debian mitmproxy, or pass --mitmdump PATH) |\n",
                 mitmdump);
    }
    kill(mitm_pid, SIGTERM);
    waitpid(mitm_pid, nullptr, 0);
  }

  // Leaf minting for a new SNI: directly, and as the extra latency of a first handshake.
  LeafMinter minter(mock_config.ca_dir);
  std::vector<double> mint_ms;
  for (int i = 0; i < 200; ++i) {
    auto t0 = steady::now();
    minter.mint(fmt::format("board-{}.lab.test", i));
    mint_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - t0).count());
  }
  std::sort(mint_ms.begin(), mint_ms.end());
  std::vector<double> known_sni, new_sni;
  for (int i = 0; i < 100; ++i) {
    known_sni.push_back(one_exchange_ms(mock.port, "fra1.blynk.cloud"));
    new_sni.push_back(one_exchange_ms(mock.port, fmt::format("n{}.new.test", i)));
  }
  std::sort(known_sni.begin(), known_sni.end());
  std::sort(new_sni.begin(), new_sni.end());

  // RSS with `idle` TLS connections open and silent.
  long rss_before = rss_kb(idle_server.pid);
  std::vector<std::unique_ptr<ssl::stream<tcp::socket>>> idle_streams;
  std::size_t idle_ok = 0;
  {
    asio::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_verify_mode(ssl::verify_none);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), idle_server.port);
    for (int i = 0; i < idle; ++i) {
      auto stream = std::make_unique<ssl::stream<tcp::socket>>(ioc, ctx);
      auto* s = stream.get();
      s->next_layer().async_connect(ep, [s, &idle_ok](boost::system::error_code ec) {
        if (ec) return;
        s->async_handshake(ssl::stream_base::client, [&idle_ok](boost::system::error_code hec) {
          if (!hec) idle_ok++;
        });
      });
      idle_streams.push_back(std::move(stream));
      if (i % 50 == 49) {
        ioc.restart();  // run_for stops the context when it runs out of work
        ioc.run_for(std::chrono::seconds(5));
      }
    }
    ioc.restart();
    ioc.run_for(std::chrono::seconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    long rss_idle = rss_kb(idle_server.pid);
    double p50_known = known_sni[known_sni.size() / 2], p50_new = new_sni[new_sni.size() / 2];
    fmt::print("\n| measure | value | target |\n|---|---|---|\n");
    std::fflush(stdout);
    fmt::print(
        "| mock mode throughput, TLS 1.3 | {:.0f} req/s ({:.0f}% of the in-memory ceiling, {:.0f}) | >= 2000 "
        "|\n",
        mock_result.rps(), 100 * mock_result.rps() / ceiling, ceiling);
    fmt::print("| interceptor capacity, its own CPU only: {:.0f} cores / {:.3f} ms | {:.0f} req/s | |\n",
               cores, mock_result.server_cpu_ms, cores * 1000 / mock_result.server_cpu_ms);
    fmt::print("| mock mode throughput, TLS 1.2 (boards) | {:.0f} req/s | >= 2000 |\n", mock_tls12.rps());
    fmt::print("| proxy added latency p50, 1 client | {:.2f} ms ({:.2f} vs {:.2f}) | <= 1 ms |\n",
               proxied_1.percentile(0.5) - direct_1.percentile(0.5), proxied_1.percentile(0.5),
               direct_1.percentile(0.5));
    fmt::print("| proxy added latency p50, {} clients | {:.2f} ms | |\n", concurrency,
               proxied.percentile(0.5) - direct.percentile(0.5));
    if (mitm)
      fmt::print("| throughput vs mitmproxy (both proxying) | {:.1f}x ({:.0f} vs {:.0f} req/s) | >= 10x |\n",
                 mitm->rps() > 0 ? proxied.rps() / mitm->rps() : 0.0, proxied.rps(), mitm->rps());
    fmt::print("| RSS with {} idle TLS connections | {:.1f} MB (before: {:.1f} MB) | <= 64 MB |\n", idle_ok,
               static_cast<double>(rss_idle) / 1024, static_cast<double>(rss_before) / 1024);
    fmt::print("| minting a leaf (200 names) | p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms | <= 5 ms |\n",
               mint_ms[mint_ms.size() / 2], mint_ms[mint_ms.size() * 99 / 100], mint_ms.back());
    fmt::print("| first exchange with a new SNI vs a known one, p50 | {:.2f} ms vs {:.2f} ms (+{:.2f}) | |\n",
               p50_new, p50_known, p50_new - p50_known);
    idle_streams.clear();  // before the io_context and TLS context they use
  }
  idle_server.stop();
  proxy.stop();
  mock.stop();
  upstream.stop();
  std::filesystem::remove_all(tmp);
  return 0;
}
