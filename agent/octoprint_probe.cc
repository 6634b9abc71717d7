#include "agent/octoprint_probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "guard/forwarding.h"

namespace bowden::agent {
namespace {

namespace http = boost::beast::http;

// The name a user gets in the probe's X-Forwarded-For: any user's address is
// as good as another's, they all come from the same range.
constexpr char kProbeUser[] = "bowden-login-probe";

bool WaitFd(int fd, short events, absl::Time deadline) {
  int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
  if (ms <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, ms) == 1;
}

// One GET /api/currentuser; returns the "name" OctoPrint reports ("" for
// the anonymous user).
absl::StatusOr<std::string> CurrentUser(const tunnel::SocketAddress& address,
                                        const std::string& extra_headers,
                                        absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  tunnel::UniqueFd fd(socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || !tunnel::SetNonBlocking(fd.get()).ok()) {
    return absl::UnavailableError("cannot create a socket");
  }
  int rc = connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  int error = 0;
  socklen_t len = sizeof(error);
  if ((rc != 0 && errno != EINPROGRESS) || !WaitFd(fd.get(), POLLOUT, deadline) ||
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
    return absl::UnavailableError("OctoPrint did not accept a connection");
  }
  std::string request = absl::StrCat("GET /api/currentuser HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                                     extra_headers, "Connection: close\r\n\r\n");
  for (size_t sent = 0; sent < request.size();) {
    if (!WaitFd(fd.get(), POLLOUT, deadline)) return absl::UnavailableError("send timed out");
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return absl::UnavailableError("OctoPrint closed the connection");
    sent += n;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  boost::beast::flat_buffer buffer;
  while (!parser.is_done()) {
    if (!WaitFd(fd.get(), POLLIN, deadline)) return absl::UnavailableError("no answer in time");
    auto space = buffer.prepare(16 * 1024);
    ssize_t n = recv(fd.get(), space.data(), space.size(), 0);
    if (n == 0) {
      // A body that ends with the connection ends here.
      boost::beast::error_code ec;
      parser.put_eof(ec);
      if (ec || !parser.is_done()) {
        return absl::UnavailableError("OctoPrint closed the connection early");
      }
      break;
    }
    if (n < 0) return absl::UnavailableError("OctoPrint closed the connection early");
    buffer.commit(n);
    // put() stops after the header; call it again for the body it holds.
    while (buffer.size() > 0 && !parser.is_done()) {
      boost::beast::error_code ec;
      size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return absl::UnavailableError("the answer is not HTTP");
      if (used == 0) break;
    }
  }
  google::protobuf::Struct json;
  auto field = [&]() -> const google::protobuf::Value* {
    auto it = json.fields().find("name");
    return it == json.fields().end() ? nullptr : &it->second;
  };
  if (parser.get().result_int() != 200 ||
      !google::protobuf::util::JsonStringToMessage(parser.get().body(), &json).ok() ||
      field() == nullptr) {
    return absl::UnavailableError("the answer is not OctoPrint's /api/currentuser");
  }
  return field()->has_string_value() ? field()->string_value() : "";
}

}  // namespace

absl::StatusOr<LoginProbe> ProbeOctoPrintLogin(const tunnel::SocketAddress& address,
                                               absl::Duration timeout) {
  absl::StatusOr<std::string> local = CurrentUser(address, "", timeout);
  if (!local.ok()) return local.status();
  absl::StatusOr<std::string> remote = CurrentUser(
      address,
      absl::StrCat("X-Forwarded-For: ", guard::ForwardedForAddress(kProbeUser), "\r\n"),
      timeout);
  if (!remote.ok()) return remote.status();
  return LoginProbe{*local, *remote};
}

std::vector<std::string> LoginRisks(const LoginProbe& probe) {
  std::vector<std::string> risks;
  if (!probe.as_remote.empty()) {
    risks.push_back(absl::StrCat(
        "OctoPrint logs a request forwarded by the agent in as '", probe.as_remote,
        "' without any credentials: every remote session would act as that user. Turn off "
        "accessControl.autologinLocal, or remove 100.64.0.0/10 and 127.0.0.0/8 from "
        "accessControl.localNetworks"));
  } else if (!probe.as_local.empty()) {
    risks.push_back(absl::StrCat(
        "OctoPrint's autologinLocal is on: any program on this host is logged in as '",
        probe.as_local,
        "'. Remote sessions are not (the agent sends its own X-Forwarded-For), but turn it "
        "off unless you need it"));
  }
  return risks;
}

}  // namespace bowden::agent
