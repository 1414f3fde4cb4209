#pragma once
// A listening TCP socket on 127.0.0.1 with a free port, for tests that play a server by hand.

#include <cstdint>

namespace provhil::test {

struct LoopbackListener {
  int fd = -1;  // close-on-exec; closed on destruction
  std::uint16_t port = 0;
  explicit LoopbackListener(int backlog = 8);
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
};

}  // namespace provhil::test
