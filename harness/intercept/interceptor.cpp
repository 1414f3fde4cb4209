// The interceptor's face: it owns the io_context and its threads, the shared state, the TLS
// identity, the upstream pool and the listeners (harness/intercept/detail/ holds each piece).
#include "intercept/interceptor.hpp"

#include <boost/asio/io_context.hpp>
#include <thread>

#include "intercept/detail/listener.hpp"
#include "intercept/detail/shared_state.hpp"
#include "intercept/detail/tls_identity.hpp"
#include "intercept/detail/upstream_pool.hpp"
#include "intercept/registry.hpp"

namespace provhil::intercept {

struct Interceptor::Impl {
  InterceptorConfig config;
  Registry registry;
  // Declared after what they use and before the io_context's users: the io_context outlives every
  // coroutine (it is stopped and its threads joined first), the pool's streams go before it.
  boost::asio::io_context ioc;
  detail::UpstreamPool upstream;
  detail::SharedState shared;
  detail::TlsIdentity tls;
  detail::Listener tls_listener;
  std::optional<detail::Listener> plain_listener;
  std::vector<std::thread> threads;

  static InterceptorConfig completed(InterceptorConfig config) {
    if (config.advertised_host.empty()) config.advertised_host = config.listen_address;
    return config;
  }

  explicit Impl(InterceptorConfig cfg)
      : config(completed(std::move(cfg))),
        registry(config.masker, config.journal_path, config.on_exchange, config.on_journal_error),
        upstream(ioc, config),
        shared{config, registry, upstream},
        tls(shared),
        tls_listener(ioc, shared, &tls, config.port) {
    shared.tls_port = tls_listener.port();
    if (config.plain_http_port) plain_listener.emplace(ioc, shared, nullptr, *config.plain_http_port);
    tls_listener.start();
    if (plain_listener) plain_listener->start();
    for (int i = 0; i < std::max(1, config.threads); ++i)
      threads.emplace_back([this] { ioc.run(); });
  }

  ~Impl() {
    shared.stopping = true;
    ioc.stop();
    for (auto& thread : threads)
      thread.join();
    upstream.clear();  // pooled upstream streams belong to ioc: gone before it is
  }
};

Interceptor::Interceptor(InterceptorConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Interceptor::~Interceptor() = default;

std::string Interceptor::host() const {
  return impl_->config.advertised_host;
}
std::uint16_t Interceptor::port() const {
  return impl_->shared.tls_port;
}
std::optional<std::uint16_t> Interceptor::plain_port() const {
  if (!impl_->plain_listener) return std::nullopt;
  return impl_->plain_listener->port();
}
std::filesystem::path Interceptor::ca_certificate_path() const {
  return impl_->tls.ca_pem();
}
ExpectationId Interceptor::expect_provision(ProvisionExpectation expectation) {
  return impl_->registry.add_provision(std::move(expectation));
}
ExpectationId Interceptor::expect_login(LoginExpectation expectation) {
  return impl_->registry.add_login(std::move(expectation));
}
void Interceptor::claim_token(const std::string& token, const std::string& owner) {
  impl_->registry.claim(token, owner);
}
void Interceptor::arm_connection_fault(ConnectionFault fault) {
  impl_->registry.arm(std::move(fault));
}
WaitResult Interceptor::wait(ExpectationId id, std::chrono::steady_clock::time_point deadline) {
  return impl_->registry.wait(id, deadline);
}
WaitResult Interceptor::finish(ExpectationId id) {
  return impl_->registry.finish(id);
}
std::vector<Exchange> Interceptor::exchanges_for_token(const std::string& token) const {
  return impl_->registry.select([&](const Exchange& x) { return x.token == token; });
}
std::vector<Exchange> Interceptor::exchanges_for_owner(const std::string& owner) const {
  return impl_->registry.select([&](const Exchange& x) { return x.owner == owner; });
}
std::vector<Exchange> Interceptor::unowned_unexpected() const {
  return impl_->registry.select([](const Exchange& x) { return !x.expected && x.owner.empty(); });
}
std::vector<Exchange> Interceptor::all_exchanges() const {
  return impl_->registry.select([](const Exchange&) { return true; });
}
std::string Interceptor::journal_lines_for_owner(const std::string& owner) const {
  return impl_->registry.lines([&](const Exchange& x) { return x.owner == owner; });
}
std::string Interceptor::journal_error() const {
  return impl_->registry.journal_error();
}
std::size_t Interceptor::cached_leaf_certificates() const {
  return impl_->tls.cached_leaves();
}

}  // namespace provhil::intercept
