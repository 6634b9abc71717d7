#ifndef BOWDEN_TESTS_UI_REPLAY_CLIENT_H_
#define BOWDEN_TESTS_UI_REPLAY_CLIENT_H_

// Replays one recorded OctoPrint UI request against a `bowden open` port the
// way the browser sent it, for the UI end-to-end test.

#include <string>

#include "absl/status/statusor.h"
#include "tests/ui_corpus.h"

namespace bowden::tests {

// The header that tells the stand-in which recorded request this is
// (ROLE/LINE), so it can answer as OctoPrint did.
inline constexpr char kReplayTagHeader[] = "X-Bowden-E2e";

// What a replayed request got back.
struct ReplayAnswer {
  int status = 0;  // 0: no HTTP answer at all (`error` says why)
  std::string content_type;
  std::string body;  // a stream's first 64 KiB at most
  // After a 101: SockJS's "o" and a message frame arrived, and the client's
  // frame went out.
  bool sockjs_spoke = false;
  std::string error;
};

// The body the UI sent: JSON and other bodies verbatim; a multipart body
// rebuilt from the recording's summary
//   multipart: field=file, filename=a.gcode, bytes=6541, type=text/x.gcode;
//   field=select, value=true
// with the recorded boundary and harmless G-code of the recorded size.
absl::StatusOr<std::string> RecordedBody(const UiRequest& request);

// Sends `request` on a fresh connection to 127.0.0.1:`port` as a browser on
// the page http://127.0.0.1:PORT/ does: Host, Origin on unsafe methods and
// websocket handshakes, the recorded Content-Type, and `tag` in
// kReplayTagHeader. A websocket row is a real handshake; after a 101 it reads
// SockJS's first two frames and sends `client_frame`. Reads at most 20 s.
ReplayAnswer Replay(int port, const UiRequest& request, const std::string& tag,
                    const std::string& client_frame);

}  // namespace bowden::tests

#endif  // BOWDEN_TESTS_UI_REPLAY_CLIENT_H_
