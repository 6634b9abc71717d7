#include "agent/http_exchange.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>

#include "absl/time/clock.h"

namespace bowden::agent {
namespace {

namespace http = boost::beast::http;

constexpr size_t kBodyLimit = 256 * 1024;

bool WaitFd(int fd, short events, absl::Time deadline) {
  int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (ms <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 60000))) == 1;
}

}  // namespace

absl::StatusOr<HttpAnswer> ExchangeOnce(const tunnel::SocketAddress& address,
                                        const std::string& request,
                                        absl::Time deadline, bool head_only) {
  tunnel::UniqueFd fd(
      socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || !tunnel::SetNonBlocking(fd.get()).ok()) {
    return absl::UnavailableError("cannot create a socket");
  }
  int rc =
      connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage),
              address.length);
  int error = 0;
  socklen_t len = sizeof(error);
  if ((rc != 0 && errno != EINPROGRESS) ||
      !WaitFd(fd.get(), POLLOUT, deadline) ||
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 ||
      error != 0) {
    return absl::UnavailableError("it did not accept a connection");
  }
  for (size_t sent = 0; sent < request.size();) {
    if (!WaitFd(fd.get(), POLLOUT, deadline))
      return absl::UnavailableError("sending timed out");
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent,
                     MSG_NOSIGNAL);
    if (n <= 0) return absl::UnavailableError("it closed the connection");
    sent += n;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  boost::beast::flat_buffer buffer;
  auto done = [&] {
    return head_only ? parser.is_header_done() : parser.is_done();
  };
  while (!done()) {
    if (!WaitFd(fd.get(), POLLIN, deadline))
      return absl::UnavailableError("no answer in time");
    auto space = buffer.prepare(16 * 1024);
    ssize_t n = recv(fd.get(), space.data(), space.size(), 0);
    if (n == 0) {
      // A body that ends with the connection ends here.
      boost::beast::error_code ec;
      parser.put_eof(ec);
      if (ec || !done())
        return absl::UnavailableError("it closed the connection early");
      break;
    }
    if (n < 0) return absl::UnavailableError("it closed the connection early");
    buffer.commit(n);
    // put() stops after the head; call it again for the body it holds.
    while (buffer.size() > 0 && !done()) {
      boost::beast::error_code ec;
      size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return absl::UnavailableError("the answer is not HTTP");
      if (used == 0) break;
    }
  }
  HttpAnswer answer;
  answer.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    if (field.name() == http::field::set_cookie) {
      answer.set_cookies.emplace_back(field.value());
    } else if (field.name() == http::field::content_type) {
      answer.content_type = std::string(field.value());
    }
  }
  if (!head_only) answer.body = parser.get().body();
  return answer;
}

}  // namespace bowden::agent
