// Interceptor load benchmark (not a test). Each server runs in its own child process; the load
// generator here makes provision requests with a new TLS connection each (boards don't reuse
// connections) and reports requests/s and latency p50/p99 for: mock mode, the local upstream
// directly, proxy mode in front of that upstream, and mitmproxy (reverse mode) in front of it.
// Then: leaf minting time for a new SNI, and the interceptor's RSS with 1,000 idle connections.
// Usage: bench_intercept [--seconds S] [--concurrency C] [--idle N] [--mitmdump PATH|none]
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

class Load {
 public:
  Load(asio::io_context& ioc, ssl::context& ctx, std::uint16_t port, std::string sni,
       steady::time_point deadline, LoadResult& result)
      : ioc_(ioc),
        ctx_(ctx),
        endpoint_(asio::ip::make_address("127.0.0.1"), port),
        sni_(std::move(sni)),
        deadline_(deadline),
        result_(result) {
    request_ = "GET " + kTarget + " HTTP/1.1\r\nHost: " + sni_ +
               "\r\nUser-Agent: ESP32HTTPClient\r\nConnection: close\r\n\r\n";
  }

  void start_one() {
    if (steady::now() >= deadline_ || result_.errors > 1000) return;
    auto conn = std::make_shared<Conn>(ioc_, ctx_);
    SSL_ctrl(conn->stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(sni_.c_str()));
    conn->started = steady::now();
    conn->stream.next_layer().async_connect(endpoint_, [this, conn](boost::system::error_code ec) {
      if (ec) return fail(conn, "connect", ec);
      conn->stream.next_layer().set_option(tcp::no_delay(true), ec);  // as curl and most clients do
      conn->stream.async_handshake(ssl::stream_base::client, [this, conn](boost::system::error_code hec) {
        if (hec) return fail(conn, "handshake", hec);
        asio::async_write(
            conn->stream, asio::buffer(request_), [this, conn](boost::system::error_code wec, std::size_t) {
              if (wec) return fail(conn, "write", wec);
              http::async_read(
                  conn->stream, conn->buffer, conn->response,
                  [this, conn](boost::system::error_code rec, std::size_t) {
                    if (rec) return fail(conn, "read", rec);
                    if (conn->response.result_int() != 200)
                      return fail(conn, fmt::format("status {}", conn->response.result_int()), {});
                    result_.ok++;
                    result_.latency_ms.push_back(
                        std::chrono::duration<double, std::milli>(steady::now() - conn->started).count());
                    boost::system::error_code ignored;
                    conn->stream.next_layer().close(ignored);
                    start_one();
                  });
            });
      });
    });
  }

 private:
  struct Conn {
    Conn(asio::io_context& ioc, ssl::context& ctx) : stream(ioc, ctx) {}
    ssl::stream<tcp::socket> stream;
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    steady::time_point started;
  };
  void fail(const std::shared_ptr<Conn>& conn, const std::string& what, boost::system::error_code ec) {
    if (result_.first_error.empty())
      result_.first_error = fmt::format("{}: {}", what, ec ? ec.message() : "");
    result_.errors++;
    boost::system::error_code ignored;
    conn->stream.next_layer().close(ignored);
    start_one();
  }
  asio::io_context& ioc_;
  ssl::context& ctx_;
  tcp::endpoint endpoint_;
  std::string sni_, request_;
  steady::time_point deadline_;
  LoadResult& result_;
};

LoadResult run_load(const std::string& name, std::uint16_t port, const std::string& sni, double seconds,
                    int concurrency) {
  LoadResult result;
  result.name = name;
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);  // the same for every server measured
  auto begin = steady::now();
  Load load(ioc, ctx, port, sni, begin + std::chrono::milliseconds(static_cast<long>(seconds * 1000)),
            result);
  for (int i = 0; i < concurrency; ++i)
    load.start_one();
  ioc.run();
  result.seconds = std::chrono::duration<double>(steady::now() - begin).count();
  return result;
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
  LoadResult r;
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);
  Load load(ioc, ctx, port, sni, steady::now() + std::chrono::hours(1), r);
  // A deadline far away, but a single start: stop after the first answer by running until one completes.
  load.start_one();
  while (r.ok + r.errors == 0 && ioc.run_one()) {
  }
  return r.latency_ms.empty() ? -1 : r.latency_ms[0];
}

void print_row(LoadResult& r) {
  fmt::print("| {:<36} | {:>8.0f} | {:>8.2f} | {:>8.2f} | {:>6} | {:>10.3f} | {:>10.3f} |{}\n", r.name,
             r.rps(), r.percentile(0.5), r.percentile(0.99), r.errors, r.server_cpu_ms, r.client_cpu_ms,
             r.first_error.empty() ? "" : " first error: " + r.first_error);
}

// run_load, plus the CPU the server processes and this client spent per request.
LoadResult measured(const std::string& name, std::vector<pid_t> servers, std::uint16_t port,
                    const std::string& sni, double seconds, int concurrency) {
  auto server_cpu = [&] {
    double sum = 0;
    for (auto pid : servers)
      sum += cpu_seconds(pid);
    return sum;
  };
  double server_before = server_cpu(), client_before = cpu_seconds(getpid());
  LoadResult r = run_load(name, port, sni, seconds, concurrency);
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
  std::string mitmdump = "mitmdump";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--seconds")
      seconds = std::stod(value);
    else if (key == "--concurrency")
      concurrency = std::stoi(value);
    else if (key == "--idle")
      idle = std::stoi(value);
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
  ensure_lab_ca(upstream_config.ca_dir);
  ChildServer upstream = spawn_interceptor(upstream_config);

  InterceptorConfig mock_config;
  mock_config.ca_dir = tmp / "ca";
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
    minter.leaf(fmt::format("board-{}.lab.test", i));
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
    fmt::print("| mock mode throughput | {:.0f} req/s | >= 2000 |\n", mock_result.rps());
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
