#ifndef BOWDEN_AGENT_HTTP_EXCHANGE_H_
#define BOWDEN_AGENT_HTTP_EXCHANGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tunnel/net.h"

namespace bowden::agent {

// One HTTP answer, as far as the agent's own small requests need it.
struct HttpAnswer {
  int status = 0;
  std::vector<std::string> set_cookies;  // each Set-Cookie field value
  std::string content_type;              // the Content-Type field value, or ""
  std::string body;                      // empty when only the head was read
};

// Sends `request` (a whole HTTP/1.1 request with Connection: close) on a new
// connection to `address` and reads the answer with Boost.Beast, blocking
// the calling thread until `deadline` at most. With `head_only` it stops
// after the answer's head. Bodies over 256 KiB are refused. Unavailable when
// nothing answers in time or the answer is not HTTP.
absl::StatusOr<HttpAnswer> ExchangeOnce(const tunnel::SocketAddress& address,
                                        const std::string& request,
                                        absl::Time deadline,
                                        bool head_only = false);

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_HTTP_EXCHANGE_H_
