// Interceptor soak benchmark (not a test; issue 16): the interceptor, in a child process of its own,
// under a mix of good requests (real TLS on loopback, the certificate verified) and hostile inputs for
// a fixed time. It reports how many good requests were answered correctly (target: all), the
// server's RSS at the start and at the end (target: flat) and its descriptors at the end, once the
// clients are gone (target: back to the start).
//
// Hostile kinds, each on its own client thread, as fast as the server answers:
//   sni_churn     a new SNI name on every connection (the leaf cache must stay bounded)
//   blynk_64k     invalid Blynk logins of 65,535 bytes (bounded evidence per exchange)
//   bad_utf8      a provision query and an SNI holding invalid UTF-8 (%FF%FE%C0%AF, bytes FF FE)
//   san_inject    an SNI "a,DNS:evil.com,IP:10.9.9.9,email:x@y" (no SAN but a valid DNS name)
//   slow_headers  connections that send a header byte a second (closed at the header deadline)
//   torn_tls      half a ClientHello, then a reset; a handshake, then half a request and a reset
//   plain_garbage plain HTTP and random bytes on the TLS port
// Usage: bench_soak [--seconds S] [--good-rate N] [--slow N] [--journal]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "intercept/blynk.hpp"
#include "intercept/interceptor.hpp"

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace provhil::intercept;

namespace {

const std::string kToken = "Rps15JICmtRVbFyS_95houlLbm6xIQ2L";
const std::string kUnknownToken = "Zq81JICmtRVbFyS_95houlLbm6xIQ2Lx";
const std::string kGoodTarget =
    "/external/api/provision?token=" + kToken +
    "&templateId=TMPL8sRFwcfqL&build=Oct+1&ver=1.0.0&type=MCU&fwType=TMPL8sRFwcfqL"
    "&blVer=2.27.2&boType=ESP32";

// ---- the server: an Interceptor in a child process, forked before this process has threads -----

struct Server {
  pid_t pid = -1;
  std::uint16_t port = 0;
  int control = -1;  // closing it tells the child to stop
};

Server spawn_interceptor(const std::filesystem::path& dir, bool journal) {
  int port_pipe[2], control_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(control_pipe) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(port_pipe[0]);
    close(control_pipe[1]);
    {
      InterceptorConfig config;
      config.ca_dir = dir / "ca";
      if (journal) config.journal_path = dir / "interceptor.jsonl";
      Interceptor interceptor(config);
      // Good requests are owned, as a scenario's are: their exchanges are kept (memory per request).
      ProvisionExpectation provision;
      provision.token = kToken;
      provision.owner = "soak";
      provision.count = CountRule::at_least_n(1);
      interceptor.expect_provision(provision);
      LoginExpectation login;
      login.token = kToken;
      login.owner = "soak";
      login.count = CountRule::at_least_n(1);
      interceptor.expect_login(login);
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
  Server server;
  server.pid = pid;
  server.control = control_pipe[1];
  if (read(port_pipe[0], &server.port, sizeof server.port) != sizeof server.port)
    throw std::runtime_error("the interceptor child did not start");
  close(port_pipe[0]);
  return server;
}

long rss_kb(pid_t pid, const char* field = "VmRSS:") {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  return -1;
}

std::size_t open_fds(pid_t pid) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// ---- a blocking client: a socket with send/receive timeouts, OpenSSL on it ---------------------

struct Tally {
  std::atomic<std::uint64_t> attempts{0}, answered{0}, failed{0};
  std::mutex mutex;
  std::string first_failure;
  void fail(const std::string& why) {
    failed++;
    std::lock_guard lock(mutex);
    if (first_failure.empty()) first_failure = why;
  }
};

int connect_to(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval timeout{20, 0};  // far above any server deadline: a stuck exchange shows as a failure
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Closes with a reset (SO_LINGER 0): the peer sees ECONNRESET, not an orderly end.
void reset_close(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

void send_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

class Tls {
 public:
  Tls(SSL_CTX* ctx, std::uint16_t port, const std::string& sni, const std::string& verify_host = {}) {
    fd_ = connect_to(port);
    if (fd_ < 0) {
      error_ = "connect failed";
      return;
    }
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    if (!sni.empty())
      SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(sni.c_str()));
    if (!verify_host.empty()) SSL_set1_host(ssl_, verify_host.c_str());
    if (SSL_connect(ssl_) != 1) {
      char text[256];
      ERR_error_string_n(ERR_get_error(), text, sizeof text);
      error_ = fmt::format("handshake: {}", text);
      ERR_clear_error();
    }
  }
  ~Tls() {
    if (ssl_) {
      if (error_.empty()) SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (fd_ >= 0) close(fd_);
  }
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;
  const std::string& error() const { return error_; }
  bool write(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      int n = SSL_write(ssl_, bytes.data() + done,
                        static_cast<int>(std::min<std::size_t>(bytes.size() - done, 16384)));
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads until the server closes, `limit` bytes arrived, or an error; what arrived.
  std::string read_all(std::size_t limit = 1 << 20) {
    std::string out;
    char buffer[4096];
    while (out.size() < limit) {
      int n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
    }
    ERR_clear_error();
    return out;
  }
  // Drops the connection with a reset, no close_notify.
  void reset() {
    SSL_free(ssl_);
    ssl_ = nullptr;
    reset_close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string error_;
};

std::string get(const std::string& target, const std::string& host) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host +
         "\r\nUser-Agent: ESP32HTTPClient\r\nConnection: close\r\n\r\n";
}

// The first bytes of a real ClientHello, made once in memory.
std::string client_hello(SSL_CTX* ctx) {
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>("fra1.blynk.cloud"));
  SSL_connect(ssl);
  char* data = nullptr;
  long size = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<std::size_t>(std::max(0L, size)));
  SSL_free(ssl);
  return hello;
}

struct Kind {
  std::string name;
  Tally tally;
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 60;
  // Good exchanges a second (half provision requests, half Blynk logins). They are owned, so the
  // interceptor keeps every one (as a run keeps its scenarios' exchanges): their memory is growth by
  // design, printed apart; boards make a few per scenario, hence the modest default.
  double good_rate = 4;
  int slow_connections = 8;
  bool journal = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--seconds")
      seconds = std::stod(value());
    else if (arg == "--good-rate")
      good_rate = std::stod(value());
    else if (arg == "--slow")
      slow_connections = std::stoi(value());
    else if (arg == "--no-journal")
      journal = false;
    else {
      fmt::print(stderr, "usage: bench_soak [--seconds S] [--good-rate N] [--slow N] [--no-journal]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  char dir_template[] = "/tmp/provhil-soak-XXXXXX";
  if (!mkdtemp(dir_template)) return 3;
  const std::filesystem::path dir = dir_template;
  Server server = spawn_interceptor(dir, journal);
  const std::string ca_pem = (dir / "ca" / "ca.pem").string();

  SSL_CTX* verifying = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(verifying, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(verifying, ca_pem.c_str(), nullptr) != 1) {
    fmt::print(stderr, "bench_soak: cannot load {}\n", ca_pem);
    return 3;
  }
  SSL_CTX* trusting = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(trusting, SSL_VERIFY_NONE, nullptr);
  const std::string hello = client_hello(trusting);

  const long rss_start = rss_kb(server.pid);
  const std::size_t fds_start = open_fds(server.pid);
  fmt::print("interceptor pid {} on 127.0.0.1:{}; {} s; good exchanges {}/s; {} slow connections\n",
             server.pid, server.port, seconds, good_rate, slow_connections);

  const auto begin = steady::now();
  const auto deadline = begin + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  std::atomic<bool> stop{false};
  std::map<std::string, Kind> kinds;
  for (const char* name : {"good_provision", "good_login", "sni_churn", "blynk_64k", "bad_utf8", "san_inject",
                           "slow_headers", "torn_tls", "plain_garbage"})
    kinds[name].name = name;
  auto running = [&] { return !stop.load() && steady::now() < deadline; };
  std::vector<std::thread> threads;

  // Good: paced like boards, each answer checked byte for byte; the certificate verified for the name.
  auto good_interval = std::chrono::duration<double>(2.0 / std::max(0.1, good_rate));
  threads.emplace_back([&] {
    auto& t = kinds["good_provision"].tally;
    for (auto next = steady::now(); running();
         next += std::chrono::duration_cast<steady::duration>(good_interval)) {
      std::this_thread::sleep_until(next);
      t.attempts++;
      Tls tls(verifying, server.port, "fra1.blynk.cloud", "fra1.blynk.cloud");
      if (!tls.error().empty()) {
        t.fail(tls.error());
        continue;
      }
      tls.write(get(kGoodTarget, "fra1.blynk.cloud"));
      std::string answer = tls.read_all();
      if (answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 && answer.size() >= 6 &&
          answer.compare(answer.size() - 6, 6, "\r\n\r\n{}") == 0)
        t.answered++;
      else
        t.fail("provision answer: " + answer.substr(0, 200));
    }
  });
  threads.emplace_back([&] {
    auto& t = kinds["good_login"].tally;
    std::uint16_t id = 0;
    for (auto next = steady::now(); running();
         next += std::chrono::duration_cast<steady::duration>(good_interval)) {
      std::this_thread::sleep_until(next);
      t.attempts++;
      Tls tls(verifying, server.port, "blynk.cloud", "blynk.cloud");
      if (!tls.error().empty()) {
        t.fail(tls.error());
        continue;
      }
      ++id;
      tls.write(blynk::frame(blynk::hw_login, id, kToken));
      std::string answer = tls.read_all(5);
      if (answer == blynk::status_frame(id, blynk::ok))
        t.answered++;
      else
        t.fail(fmt::format("login answer of {} bytes", answer.size()));
    }
  });

  // Hostile: each kind as fast as the server takes it. `answered` counts exchanges the server ended
  // as it should (an answer or a close); a failure here is a hostile client left hanging.
  threads.emplace_back([&] {
    auto& t = kinds["sni_churn"].tally;
    for (std::uint64_t n = 0; running(); ++n) {
      t.attempts++;
      Tls tls(trusting, server.port, fmt::format("d{}.soak.example", n));
      if (!tls.error().empty()) {
        t.fail(tls.error());
        continue;
      }
      tls.write(get("/external/api/provision?token=" + kUnknownToken, "soak.example"));
      if (tls.read_all().rfind("HTTP/1.1 400", 0) == 0)
        t.answered++;
      else
        t.fail("no 400 for an unknown token");
    }
  });
  threads.emplace_back([&] {
    auto& t = kinds["blynk_64k"].tally;
    std::mt19937 random(1);
    std::string body(65535, '\0');
    for (std::uint16_t id = 1; running(); ++id) {
      for (auto& c : body)
        c = static_cast<char>('A' + random() % 26);
      t.attempts++;
      Tls tls(trusting, server.port, "blynk.cloud");
      if (!tls.error().empty()) {
        t.fail(tls.error());
        continue;
      }
      tls.write(blynk::frame(blynk::hw_login, id, body));
      if (tls.read_all(5) == blynk::status_frame(id, blynk::invalid_token))
        t.answered++;
      else
        t.fail("no status 9 for an invalid login");
    }
  });
  threads.emplace_back([&] {
    auto& t = kinds["bad_utf8"].tally;
    for (std::uint64_t n = 0; running(); ++n) {
      t.attempts++;
      Tls tls(trusting, server.port, n % 2 ? std::string("\xFF\xFE.soak.example") : "fra1.blynk.cloud");
      if (!tls.error().empty()) {
        t.fail(tls.error());
        continue;
      }
      tls.write(get("/external/api/provision?token=" + kUnknownToken + "&templateId=TMPL%FF%FE%C0%AF", "x"));
      if (tls.read_all().rfind("HTTP/1.1 ", 0) == 0)
        t.answered++;
      else
        t.fail("no answer to an invalid UTF-8 query");
    }
  });
  threads.emplace_back([&] {
    auto& t = kinds["san_inject"].tally;
    while (running()) {
      t.attempts++;
      Tls tls(trusting, server.port, "a,DNS:evil.com,IP:10.9.9.9,email:x@y");
      if (!tls.error().empty()) {  // refusing the name is as good as not minting it
        t.answered++;
        continue;
      }
      tls.write(get("/external/api/provision?token=" + kUnknownToken, "x"));
      if (tls.read_all().rfind("HTTP/1.1 ", 0) == 0)
        t.answered++;
      else
        t.fail("no answer after an injected SNI");
    }
  });
  for (int s = 0; s < slow_connections; ++s)
    threads.emplace_back([&] {
      auto& t = kinds["slow_headers"].tally;
      while (running()) {
        t.attempts++;
        Tls tls(trusting, server.port, "fra1.blynk.cloud");
        if (!tls.error().empty()) {
          t.fail(tls.error());
          continue;
        }
        tls.write("GET /external/api/provision?token=" + kUnknownToken + " HTTP/1.1\r\nX-Slow: ");
        // A byte a second: the header deadline (10 s from the request's start) must close it.
        auto sent = steady::now();
        bool closed = false;
        while (running() && !closed) {
          std::this_thread::sleep_for(1s);
          closed = !tls.write("a");
        }
        if (closed) {
          if (steady::now() - sent < 30s)
            t.answered++;
          else
            t.fail("a slow header outlived the deadline");
        }
      }
    });
  threads.emplace_back([&] {
    auto& t = kinds["torn_tls"].tally;
    for (std::uint64_t n = 0; running(); ++n) {
      t.attempts++;
      if (n % 2 == 0) {
        int fd = connect_to(server.port);
        if (fd < 0) {
          t.fail("connect failed");
          continue;
        }
        send_all(fd, hello.substr(0, hello.size() / 2));
        reset_close(fd);
        t.answered++;
      } else {
        Tls tls(trusting, server.port, "fra1.blynk.cloud");
        if (!tls.error().empty()) {
          t.fail(tls.error());
          continue;
        }
        tls.write("GET /external/api/provision?token=" + kToken.substr(0, 10));
        tls.reset();
        t.answered++;
      }
    }
  });
  threads.emplace_back([&] {
    auto& t = kinds["plain_garbage"].tally;
    std::mt19937 random(2);
    for (std::uint64_t n = 0; running(); ++n) {
      t.attempts++;
      int fd = connect_to(server.port);
      if (fd < 0) {
        t.fail("connect failed");
        continue;
      }
      std::string bytes = get("/external/api/provision?token=" + kUnknownToken, "x");
      if (n % 2) {
        bytes.resize(512);
        for (auto& c : bytes)
          c = static_cast<char>(random());
        bytes[0] = '\x80';  // neither TLS nor a method name
      }
      send_all(fd, bytes);
      char buffer[512];
      while (recv(fd, buffer, sizeof buffer, 0) > 0) {
      }
      close(fd);
      t.answered++;
    }
  });

  // The RSS after the first tenth of the run (allocator pools and OpenSSL's tables warmed) is the
  // start the end is compared with; the idle figure before any traffic is printed too.
  // The RSS at each tenth shows the trend: flat, or a slope.
  std::vector<long> rss_tenths;
  long rss_peak_seen = 0;
  for (int tenth = 1; tenth <= 10; ++tenth) {
    auto until = begin + (deadline - begin) * tenth / 10;
    while (steady::now() < until) {
      std::this_thread::sleep_for(std::min<steady::duration>(500ms, until - steady::now()));
      rss_peak_seen = std::max(rss_peak_seen, rss_kb(server.pid));
    }
    rss_tenths.push_back(rss_kb(server.pid));
  }
  const long rss_warm = rss_tenths.front();
  stop = true;
  for (auto& thread : threads)
    thread.join();
  const long rss_end = rss_kb(server.pid);
  // Descriptors: every client is gone; the server closes its side as it notices (at once for a
  // close, at a deadline for nothing at all). Waited for, up to 30 s.
  auto drained_at = steady::now();
  std::size_t fds_end = open_fds(server.pid);
  while (fds_end > fds_start && steady::now() - drained_at < 30s) {
    std::this_thread::sleep_for(100ms);
    fds_end = open_fds(server.pid);
  }
  double drain_s = std::chrono::duration<double>(steady::now() - drained_at).count();
  const long hwm = rss_kb(server.pid, "VmHWM:");

  fmt::print("\n{:<15} {:>10} {:>10} {:>8}  first failure\n", "kind", "attempts", "answered", "failed");
  bool good_ok = true;
  std::uint64_t hostile = 0;
  for (auto& [name, kind] : kinds) {
    auto& t = kind.tally;
    fmt::print("{:<15} {:>10} {:>10} {:>8}  {}\n", name, t.attempts.load(), t.answered.load(),
               t.failed.load(), t.first_failure);
    if (name.rfind("good_", 0) == 0)
      good_ok = good_ok && t.failed == 0 && t.answered > 0;
    else
      hostile += t.attempts;
  }
  std::uint64_t good = kinds["good_provision"].tally.answered + kinds["good_login"].tally.answered;
  std::uint64_t good_tried = kinds["good_provision"].tally.attempts + kinds["good_login"].tally.attempts;
  fmt::print("\ngood exchanges answered correctly: {} of {} ({}); hostile connections: {}\n", good,
             good_tried, good_ok ? "target met" : "TARGET MISSED", hostile);
  fmt::print(
      "server RSS: {:.1f} MB idle before traffic, {:.1f} MB at {:.0f} s (start), {:.1f} MB at the end, "
      "peak {:.1f} MB (seen), {:.1f} MB (VmHWM); end - start {:+.1f} MB\n",
      rss_start / 1024.0, rss_warm / 1024.0, seconds / 10, rss_end / 1024.0, rss_peak_seen / 1024.0,
      hwm / 1024.0, (rss_end - rss_warm) / 1024.0);
  std::string trend;
  for (auto kb : rss_tenths)
    trend += fmt::format(" {:.1f}", static_cast<double>(kb) / 1024.0);
  fmt::print("server RSS at each tenth of the run (MB):{}\n", trend);
  fmt::print("owned exchanges the interceptor keeps by design (the good ones): {}\n", good_tried);
  fmt::print("server descriptors: {} at the start, {} at the end ({}; {:.1f} s after the clients stopped)\n",
             fds_start, fds_end, fds_end <= fds_start ? "back to the start" : "NOT BACK", drain_s);
  if (journal) {
    std::error_code ec;
    fmt::print("journal: {:.1f} MB\n",
               static_cast<double>(std::filesystem::file_size(dir / "interceptor.jsonl", ec)) / 1e6);
  }

  close(server.control);
  int status = 0;
  waitpid(server.pid, &status, 0);
  SSL_CTX_free(verifying);
  SSL_CTX_free(trusting);
  std::filesystem::remove_all(dir);
  return good_ok && fds_end <= fds_start ? 0 : 1;
}
