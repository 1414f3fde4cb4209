#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace provhil::runner {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Connection refused, timeout, a malformed answer...: what and where, for the step's failure message.
class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Nothing listens there (yet): the one failure worth retrying.
class HttpConnectError : public HttpError {
 public:
  using HttpError::HttpError;
};

// One plain HTTP/1.1 GET with a deadline over the whole exchange; what the phone app does against a
// board's setup AP. Throws HttpError.
HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& target,
                   std::chrono::steady_clock::time_point deadline);

}  // namespace provhil::runner
