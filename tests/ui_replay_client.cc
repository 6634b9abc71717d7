#include "tests/ui_replay_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bowden::tests {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

constexpr size_t kMaxBody = 64 << 10;
constexpr char kUserAgent[] =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 (bowden-e2e replay)";

// `bytes` bytes of G-code the G-code ceiling passes: moves, then a comment
// that pads to the exact size.
std::string HarmlessGcode(size_t bytes) {
  std::string gcode = "; bowden e2e replay upload\n";
  const std::string move = "G1 X10 Y10 F3000\n";
  while (gcode.size() + move.size() + 2 <= bytes) gcode += move;
  if (gcode.size() > bytes) return std::string(bytes, '\n');
  const size_t rest = bytes - gcode.size();
  if (rest == 1) return gcode + "\n";
  if (rest >= 2) gcode += ";" + std::string(rest - 2, ' ') + "\n";
  return gcode;
}

// Bounds every read and write of the blocking socket, so a stuck tunnel
// fails the request instead of hanging the test.
void SetTimeouts(tcp::socket& socket) {
  timeval timeout{20, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
             sizeof(timeout));
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout,
             sizeof(timeout));
}

bool Connect(tcp::socket& socket, int port, ReplayAnswer* answer) {
  beast::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    answer->error =
        absl::StrCat("cannot connect to 127.0.0.1:", port, ": ", ec.message());
    return false;
  }
  SetTimeouts(socket);
  return true;
}

ReplayAnswer ReplayWebsocket(int port, const UiRequest& request,
                             const std::string& tag,
                             const std::string& client_frame) {
  ReplayAnswer answer;
  net::io_context io;
  websocket::stream<tcp::socket> ws(io);
  if (!Connect(ws.next_layer(), port, &answer)) return answer;
  const std::string host = absl::StrCat("127.0.0.1:", port);
  ws.set_option(
      websocket::stream_base::decorator([&](websocket::request_type& head) {
        head.set(http::field::user_agent, kUserAgent);
        head.set(http::field::origin, "http://" + host);
        head.set(kReplayTagHeader, tag);
      }));
  websocket::response_type response;
  beast::error_code ec;
  ws.handshake(response, host, request.target, ec);
  answer.status = response.result_int();
  answer.content_type = std::string(response[http::field::content_type]);
  answer.body = response.body();
  if (ec) {
    if (answer.status == 101) answer.status = 0;  // a 101 that did not upgrade
    answer.error = absl::StrCat("websocket handshake: ", ec.message());
    return answer;
  }
  std::vector<std::string> frames;
  for (int i = 0; i < 2 && !ec; ++i) {
    beast::flat_buffer frame;
    ws.read(frame, ec);
    frames.push_back(beast::buffers_to_string(frame.data()));
  }
  if (ec) {
    answer.error =
        absl::StrCat("reading SockJS's first frames: ", ec.message());
    return answer;
  }
  ws.text(true);
  ws.write(net::buffer(client_frame), ec);
  answer.sockjs_spoke =
      !ec && frames[0] == "o" && absl::StartsWith(frames[1], "a[");
  if (!answer.sockjs_spoke) {
    answer.error = absl::StrCat("SockJS frames '", frames[0], "', '", frames[1],
                                "'; sending: ", ec.message());
  }
  ws.close(websocket::close_code::normal, ec);
  return answer;
}

}  // namespace

absl::StatusOr<std::string> RecordedBody(const UiRequest& request) {
  absl::string_view summary = request.body;
  if (!absl::ConsumePrefix(&summary, "multipart: ")) return request.body;
  const size_t at = request.content_type.find("boundary=");
  if (at == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", request.line, ": a multipart body without a boundary"));
  }
  const std::string boundary = request.content_type.substr(at + 9);
  std::string body;
  for (absl::string_view part : absl::StrSplit(summary, "; ")) {
    std::string field, filename, value, type;
    size_t bytes = 0;
    for (absl::string_view attribute : absl::StrSplit(part, ", ")) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(attribute, absl::MaxSplits('=', 1));
      if (kv.first == "field") field = kv.second;
      if (kv.first == "filename") filename = kv.second;
      if (kv.first == "value") value = kv.second;
      if (kv.first == "type") type = kv.second;
      if (kv.first == "bytes" && !absl::SimpleAtoi(kv.second, &bytes)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", request.line, ": bytes=", kv.second, " is not a size"));
      }
    }
    if (field.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", request.line, ": a multipart part without field=: ", part));
    }
    absl::StrAppend(&body, "--", boundary,
                    "\r\nContent-Disposition: form-data; name=\"", field, "\"");
    if (!filename.empty()) {
      absl::StrAppend(&body, "; filename=\"", filename, "\"\r\nContent-Type: ",
                      type.empty() ? "application/octet-stream" : type,
                      "\r\n\r\n", HarmlessGcode(bytes), "\r\n");
    } else {
      absl::StrAppend(&body, "\r\n\r\n", value, "\r\n");
    }
  }
  absl::StrAppend(&body, "--", boundary, "--\r\n");
  return body;
}

ReplayAnswer Replay(int port, const UiRequest& request, const std::string& tag,
                    const std::string& client_frame) {
  if (request.status == 101)
    return ReplayWebsocket(port, request, tag, client_frame);
  ReplayAnswer answer;
  absl::StatusOr<std::string> body = RecordedBody(request);
  if (!body.ok()) {
    answer.error = std::string(body.status().message());
    return answer;
  }
  net::io_context io;
  tcp::socket socket(io);
  if (!Connect(socket, port, &answer)) return answer;
  const std::string host = absl::StrCat("127.0.0.1:", port);
  http::request<http::string_body> head(http::string_to_verb(request.method),
                                        request.target, 11);
  head.set(http::field::host, host);
  head.set(http::field::user_agent, kUserAgent);
  head.set(http::field::accept, "*/*");
  head.set(kReplayTagHeader, tag);
  // Browsers send Origin on every request but a same-origin GET or HEAD.
  if (request.method != "GET" && request.method != "HEAD") {
    head.set(http::field::origin, "http://" + host);
  }
  if (!request.content_type.empty())
    head.set(http::field::content_type, request.content_type);
  head.keep_alive(false);
  head.body() = *body;
  head.prepare_payload();
  beast::error_code ec;
  http::write(socket, head, ec);
  if (ec) {
    answer.error = absl::StrCat("sending: ", ec.message());
    return answer;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{1} << 30);
  http::read_header(socket, buffer, parser, ec);
  if (ec) {
    answer.error = absl::StrCat("reading the response head: ", ec.message());
    return answer;
  }
  answer.status = parser.get().result_int();
  answer.content_type = std::string(parser.get()[http::field::content_type]);
  // A stream (the webcam's) never ends: its first whole JPEG is enough.
  const bool stream =
      absl::StartsWith(answer.content_type, "multipart/x-mixed-replace");
  while (!ec && !parser.is_done() && parser.get().body().size() < kMaxBody &&
         !(stream && absl::StrContains(parser.get().body(), "\xFF\xD9"))) {
    http::read_some(socket, buffer, parser, ec);
  }
  answer.body = parser.get().body().substr(0, kMaxBody);
  if (ec && ec != http::error::end_of_stream) {
    answer.error = absl::StrCat("reading the response body: ", ec.message());
  }
  return answer;
}

}  // namespace bowden::tests
