#ifndef BOWDEN_TRANSPORT_STREAM_WINDOW_H_
#define BOWDEN_TRANSPORT_STREAM_WINDOW_H_

#include "grpc/grpc.h"

namespace bowden::transport {

// HTTP/2 flow control on every Bowden connection (relay, agent, CLI), so that
// a session whose reader stalls holds a bounded number of bytes in each
// process instead of whatever the peer managed to send.
//
// gRPC grows each stream's receive window from its BDP probe (up to several
// MiB on loopback), and it buffers everything the window admits whether or
// not the application reads: one browser tab that stopped reading a 100 MiB
// file made the relay hold 8-55 MB and the CLI 4-44 MB for it. With the probe
// off, a stream admits the lookahead below, or the rest of the message the
// application is reading if that is more, which bounds a stalled session (see
// docs/architecture.md, "Backpressure").
inline constexpr int kStreamWindowBytes = 64 * 1024;

// Calls set(name, value) for each channel argument, so the one list serves
// grpc::ChannelArguments::SetInt and grpc::ServerBuilder::AddChannelArgument.
template <typename SetInt>
void BoundStreamWindows(SetInt set) {
  set(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  set(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
}

}  // namespace bowden::transport

#endif  // BOWDEN_TRANSPORT_STREAM_WINDOW_H_
