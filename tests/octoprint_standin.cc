// A stand-in for OctoPrint (or, with --webcam, for mjpg-streamer) that the
// OctoPrint UI end-to-end test puts behind bowden-agent.
//
// OctoPrint mode answers each request tagged `X-Bowden-E2e: ROLE/LINE` the
// way the real OctoPrint 1.10.3 answered line LINE of the recorded UI traffic
// (status and content type, a small body of that type; 101 rows get a real
// websocket upgrade speaking SockJS's first frames). Untagged requests are the
// browser's: `/` is a page that opens the push socket and shows the webcam
// stream, and `/static/bowden-e2e-*` is where that page reports back.
// Webcam mode answers `/?action=stream` with an endless MJPEG stream of a tiny
// JPEG and `/?action=snapshot` with one.
//
// Every request (and every websocket frame a client sends) is appended to the
// --log file, one tab-separated line each, before it is answered:
//   request  TAG  METHOD  TARGET  BODY_BYTES
//   ws-frame TAG  TARGET  TEXT
// (TAG is "-" for untagged requests.) Prints "listening on 127.0.0.1:PORT".
// Loopback only.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tests/tiny_jpeg.h"
#include "tests/ui_corpus.h"

ABSL_FLAG(std::string, corpus, "tests/data/octoprint-1.10.3-ui-traffic.tsv",
          "the recorded OctoPrint UI traffic to answer from");
ABSL_FLAG(std::string, log, "", "file to append every request to (required)");
ABSL_FLAG(bool, webcam, false,
          "be a webcam (mjpg-streamer) instead of OctoPrint");

namespace bowden::tests {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// The header the e2e test tags its replayed requests with: ROLE/LINE.
constexpr char kTagHeader[] = "X-Bowden-E2e";

// What GET /api/settings answers: a secret a viewer must never get to see
// (OctoPrint's global API key), so the test can check the guard strips it.
constexpr char kSettingsBody[] =
    R"({"api":{"key":"STANDIN0API0KEY0SECRET0DO0NOT0SHOW"},)"
    R"("webcam":{"streamUrl":"/webcam/?action=stream"},"appearance":{"name":"stand-in"}})";

// The browser's page: the push socket and the webcam through the tunnel.
// When both worked it fetches /static/bowden-e2e-result?ws=ok&img=ok; each
// step is also reported on its own, so a failure shows how far it got.
constexpr char kIndexPage[] = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>Bowden e2e stand-in</title></head>
<body><p id="state">loading</p>
<script>
var wsOk = false, imgOk = false, reported = false;
function step(what) { fetch('/static/bowden-e2e-step?' + what); }
function report() {
  document.getElementById('state').textContent = 'ws=' + wsOk + ' img=' + imgOk;
  if (reported || !wsOk || !imgOk) return;
  reported = true;
  fetch('/static/bowden-e2e-result?ws=ok&img=ok');
}
var socket = new WebSocket('ws://' + location.host + '/sockjs/000/abcdefgh/websocket');
socket.onopen = function () { step('ws-open'); };
socket.onerror = function () { step('ws-error'); };
socket.onmessage = function (event) {
  if (wsOk) return;
  wsOk = true;
  step('ws-message');
  socket.send('["{\\"throttle\\":1}"]');
  report();
};
var img = document.createElement('img');
img.onerror = function () { step('img-error'); };
img.src = '/webcam/?action=stream';
document.body.appendChild(img);
// An MJPEG <img> never fires load (the stream does not end): poll.
var poll = setInterval(function () {
  if (img.naturalWidth > 0) {
    clearInterval(poll);
    imgOk = true;
    step('img-width-' + img.naturalWidth);
    report();
  }
}, 50);
</script></body></html>
)html";

// Appends lines to the log file. Thread-safe.
class RequestLog {
 public:
  explicit RequestLog(std::FILE* file) : file_(file) {}
  void Write(const std::string& line) {
    absl::MutexLock lock(&mu_);
    std::fputs((line + "\n").c_str(), file_);
    std::fflush(file_);  // the test reads it while we run
  }

 private:
  absl::Mutex mu_;
  std::FILE* file_ ABSL_GUARDED_BY(mu_);
};

// A small body of the recorded answer's type, as OctoPrint would send it;
// the settings (with their secret) when OctoPrint answered with them.
std::string BodyOf(const UiRequest& recorded) {
  const std::string& content_type = recorded.response_content_type;
  if (recorded.path() == "/api/settings" && recorded.status == 200) {
    return kSettingsBody;
  }
  if (absl::StartsWith(content_type, "application/json"))
    return R"({"standin":true})";
  if (absl::StartsWith(content_type, "text/html")) {
    return "<!doctype html><title>OctoPrint stand-in</title>";
  }
  if (absl::StrContains(content_type, "javascript") ||
      absl::StartsWith(content_type, "text/css")) {
    return "/* OctoPrint stand-in */\n";
  }
  if (absl::StartsWith(content_type, "image/svg")) {
    return R"(<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>)";
  }
  return "OctoPrint stand-in";
}

using Request = http::request<http::string_body>;

// SockJS's opening over a real websocket: "o", then one message frame, then
// every client frame is logged until the client closes.
void ServeSockJs(tcp::socket socket, const Request& request,
                 const std::string& tag, RequestLog* log) {
  websocket::stream<tcp::socket> ws(std::move(socket));
  beast::error_code ec;
  ws.accept(request, ec);
  if (ec) return;
  ws.text(true);
  ws.write(net::buffer(std::string("o")), ec);
  if (ec) return;
  ws.write(net::buffer(std::string(R"(a["{\"connected\":{}}"])")), ec);
  if (ec) return;
  const std::string target(request.target());
  for (;;) {
    beast::flat_buffer frame;
    ws.read(frame, ec);
    if (ec) return;
    log->Write(absl::StrCat("ws-frame\t", tag, "\t", target, "\t",
                            beast::buffers_to_string(frame.data())));
  }
}

// mjpg-streamer's stream: multipart/x-mixed-replace, one frame per 100 ms
// (a camera's frame rate, so the tunnel is not flooded) until the reader
// leaves.
void ServeMjpegStream(tcp::socket& socket) {
  const std::string jpeg = TinyJpeg();
  beast::error_code ec;
  net::write(socket,
             net::buffer(std::string(
                 "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;"
                 "boundary=boundarydonotcross\r\nCache-Control: no-store\r\n"
                 "Connection: close\r\n\r\n")),
             ec);
  while (!ec) {
    const std::string frame = absl::StrCat(
        "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: ",
        jpeg.size(), "\r\n\r\n", jpeg, "\r\n");
    net::write(socket, net::buffer(frame), ec);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

http::response<http::string_body> Answer(unsigned status,
                                         const std::string& content_type,
                                         std::string body,
                                         const Request& request) {
  http::response<http::string_body> response(static_cast<http::status>(status),
                                             request.version());
  response.set(http::field::server, "OctoPrint stand-in");
  if (status != 204 && status != 304) {
    response.set(http::field::content_type, content_type);
    response.body() = std::move(body);
  }
  if (status == 302) response.set(http::field::location, "/login/");
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

// Serves the corpus (and the browser's page), one connection per Serve()
// call. Thread-safe: Serve() runs on many threads at once and only reads the
// corpus; the log is thread-safe.
class Server {
 public:
  Server(std::map<int, UiRequest> corpus, bool webcam, RequestLog* log)
      : corpus_(std::move(corpus)), webcam_(webcam), log_(log) {}

  void Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      beast::error_code ec;
      http::read(socket, buffer, parser, ec);
      if (ec) return;
      Request request = parser.release();
      std::string tag(request[kTagHeader]);
      if (tag.empty()) tag = "-";
      const std::string target(request.target());
      log_->Write(absl::StrCat("request\t", tag, "\t",
                               std::string(request.method_string()), "\t",
                               target, "\t", request.body().size()));
      if (webcam_) {
        if (target == "/?action=stream") return ServeMjpegStream(socket);
        http::write(
            socket,
            target == "/?action=snapshot"
                ? Answer(200, "image/jpeg", TinyJpeg(), request)
                : Answer(404, "text/plain", "no such webcam action", request),
            ec);
      } else if (websocket::is_upgrade(request) &&
                 absl::StartsWith(target, "/sockjs/")) {
        return ServeSockJs(std::move(socket), request, tag, log_);
      } else {
        http::write(socket, OctoPrintAnswer(request, tag, target), ec);
      }
      if (ec || !request.keep_alive()) return;
    }
  }

 private:
  http::response<http::string_body> OctoPrintAnswer(
      const Request& request, const std::string& tag,
      const std::string& target) const {
    int line = 0;
    const size_t slash = tag.find('/');
    if (slash != std::string::npos &&
        absl::SimpleAtoi(tag.substr(slash + 1), &line)) {
      auto it = corpus_.find(line);
      if (it == corpus_.end())
        return Answer(400, "text/plain", "no such corpus line", request);
      const UiRequest& recorded = it->second;
      if (recorded.status == 101) {  // reached here: the upgrade got lost
        return Answer(400, "text/plain", "expected a websocket upgrade",
                      request);
      }
      return Answer(recorded.status, recorded.response_content_type,
                    BodyOf(recorded), request);
    }
    const std::string path = target.substr(0, target.find('?'));
    if (path == "/")
      return Answer(200, "text/html; charset=utf-8", kIndexPage, request);
    if (absl::StartsWith(path, "/static/bowden-e2e-")) {
      return Answer(200, "text/plain", "noted", request);
    }
    return Answer(404, "text/plain", "not part of the stand-in", request);
  }

  const std::map<int, UiRequest> corpus_;
  const bool webcam_;
  RequestLog* const log_;
};

int Main() {
  const std::string log_path = absl::GetFlag(FLAGS_log);
  if (log_path.empty()) {
    std::cerr << "octoprint_standin: --log FILE is required" << std::endl;
    return 2;
  }
  std::FILE* log_file = std::fopen(log_path.c_str(), "a");
  if (log_file == nullptr) {
    std::cerr << "octoprint_standin: cannot append to " << log_path
              << std::endl;
    return 2;
  }
  RequestLog log(log_file);
  std::map<int, UiRequest> corpus;
  if (!absl::GetFlag(FLAGS_webcam)) {
    absl::StatusOr<std::vector<UiRequest>> requests =
        LoadUiCorpus(absl::GetFlag(FLAGS_corpus));
    if (!requests.ok()) {
      std::cerr << "octoprint_standin: " << requests.status().message()
                << std::endl;
      return 2;
    }
    for (UiRequest& r : *requests) corpus.emplace(r.line, std::move(r));
  }
  Server server(std::move(corpus), absl::GetFlag(FLAGS_webcam), &log);

  net::io_context io;
  beast::error_code ec;
  tcp::acceptor acceptor(io);
  const tcp::endpoint loopback(net::ip::make_address("127.0.0.1"), 0);
  acceptor.open(loopback.protocol(), ec);
  if (!ec) acceptor.bind(loopback, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "octoprint_standin: cannot listen on 127.0.0.1: "
              << ec.message() << std::endl;
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << acceptor.local_endpoint().port()
            << std::endl;
  for (;;) {
    tcp::socket socket(io);
    acceptor.accept(socket, ec);
    if (ec) continue;
    // One thread per connection: a test's handful of connections, and the
    // process is killed when the test ends.
    std::thread([&server, s = std::move(socket)]() mutable {
      server.Serve(std::move(s));
    }).detach();
  }
}

}  // namespace
}  // namespace bowden::tests

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return bowden::tests::Main();
}
