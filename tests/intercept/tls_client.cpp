#include "tls_client.hpp"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <memory>

namespace provhil::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

template <class Stream>
void read_all(Stream& stream, ClientResult& result, std::size_t stop_after, std::function<void()> done) {
  auto chunk = std::make_shared<std::array<char, 4096>>();
  stream.async_read_some(asio::buffer(*chunk),
                         [&stream, &result, stop_after, done, chunk](auto ec, std::size_t n) {
                           result.received.append(chunk->data(), n);
                           if (ec) {
                             result.read_error = ec.message();
                             if (ec.category() == boost::system::system_category())
                               result.read_errno = ec.value();
                             done();
                             return;
                           }
                           if (stop_after && result.received.size() >= stop_after) {
                             done();
                             return;
                           }
                           read_all(stream, result, stop_after, done);
                         });
}

std::vector<std::string> subject_alt_names(X509* cert) {
  std::vector<std::string> out;
  if (!cert) return out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                         static_cast<std::size_t>(ASN1_STRING_length(dns))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[64] = "";
      inet_ntop(ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text,
                sizeof text);
      out.push_back(std::string("IP:") + text);
    } else {
      out.push_back("other");
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

ClientResult run_client(const ClientOptions& options, const std::string& send) {
  ClientResult result;
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  if (!options.ca_file.empty()) {
    ctx.load_verify_file(options.ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
  } else {
    ctx.set_verify_mode(ssl::verify_none);
  }
  ssl::stream<tcp::socket> tls_stream(ioc, ctx);
  tcp::socket& socket = tls_stream.next_layer();
  if (!options.sni.empty())
    SSL_ctrl(tls_stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(options.sni.c_str()));
  if (!options.ca_file.empty())
    tls_stream.set_verify_callback(
        ssl::host_name_verification(options.sni.empty() ? options.address : options.sni));
  bool finished = false;
  auto done = [&] { finished = true; };
  tcp::endpoint endpoint(asio::ip::make_address(options.address), options.port);
  socket.async_connect(endpoint, [&](boost::system::error_code ec) {
    if (ec) {
      result.read_error = ec.message();
      done();
      return;
    }
    result.connected = true;
    if (!options.tls) {
      asio::async_write(socket, asio::buffer(send), [&](boost::system::error_code wec, std::size_t) {
        if (wec) {
          result.read_error = wec.message();
          if (wec.category() == boost::system::system_category()) result.read_errno = wec.value();
          done();
          return;
        }
        read_all(socket, result, options.stop_after_bytes, done);
      });
      return;
    }
    tls_stream.async_handshake(ssl::stream_base::client, [&](boost::system::error_code hec) {
      if (hec) {
        result.handshake_error = hec.message();
        done();
        return;
      }
      result.handshake_ok = true;
      result.tls_version = SSL_get_version(tls_stream.native_handle());
      result.peer_san = subject_alt_names(SSL_get0_peer_certificate(tls_stream.native_handle()));
      asio::async_write(tls_stream, asio::buffer(send), [&](boost::system::error_code wec, std::size_t) {
        if (wec) {
          result.read_error = wec.message();
          done();
          return;
        }
        read_all(tls_stream, result, options.stop_after_bytes, done);
      });
    });
  });
  ioc.run_for(options.timeout);
  if (!finished) result.timed_out = true;
  return result;
}

std::string get_request(const std::string& target, const std::string& host) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host +
         "\r\nUser-Agent: provhil-test\r\nConnection: close\r\n\r\n";
}

}  // namespace provhil::test
