#!/usr/bin/env python3
"""Holds many idle TCP sessions open through a tunnel, for bench/scale.sh.

    idle_sessions.py --connect PORT --sink-port-file FILE

One process plays both ends of N idle sessions on 127.0.0.1:
  - the sink: a listener the tunnel's agent dials as its target; it accepts
    and holds every connection (it never reads or writes);
  - the clients: connections to the tunnel's local port (`bowden open`).
The sink runs in a child process, so that each process needs one file
descriptor per session, not two. It writes the sink's port to FILE once it listens, then reads one number a
line on stdin: the total number of sessions to hold. It opens client
connections until it holds that many, waits until the sink has accepted as
many (each accepted connection is a session the tunnel carried end to end),
and prints "held N accepted M" (M < N if the deadline passed first). It exits
on end of input. Only loopback addresses are used.
"""

import argparse
import ctypes
import os
import resource
import select
import signal
import socket
import sys
import time


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connect", type=int, required=True,
                        help="the tunnel's local port on 127.0.0.1")
    parser.add_argument("--sink-port-file", required=True,
                        help="where to write the sink's port")
    parser.add_argument("--deadline", type=float, default=120.0,
                        help="seconds to wait for each step's sessions")
    parser.add_argument("--batch", type=int, default=50,
                        help="client connections opened before waiting for "
                             "the sink to catch up")
    args = parser.parse_args()
    raise_fd_limit()

    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(4096)
    count_r, count_w = os.pipe()
    if os.fork() == 0:
        run_sink(sink, count_r, count_w)
    with open(args.sink_port_file, "w") as f:
        f.write(f"{sink.getsockname()[1]}\n")
    sink.close()
    os.close(count_w)

    counts = os.fdopen(count_r, "rb", buffering=0)
    os.set_blocking(count_r, False)
    clients = []
    accepted = 0

    def poll_accepted(timeout):
        # The sink writes one byte per accepted connection.
        nonlocal accepted
        r, _, _ = select.select([count_r], [], [], timeout)
        if r:
            data = counts.read(65536)
            if data is None:
                return
            if not data:
                sys.exit("idle_sessions.py: the sink process exited")
            accepted += len(data)

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        want = int(line)
        deadline = time.monotonic() + args.deadline
        while len(clients) < want and time.monotonic() < deadline:
            # Keep at most `batch` sessions in flight, so the tunnel sees a
            # steady stream of new connections rather than one burst.
            while (len(clients) < want and
                   len(clients) - accepted < args.batch):
                clients.append(
                    socket.create_connection(("127.0.0.1", args.connect)))
            poll_accepted(0.05)
        while accepted < len(clients) and time.monotonic() < deadline:
            poll_accepted(0.1)
        print(f"held {len(clients)} accepted {accepted}", flush=True)


def run_sink(sink, count_r, count_w):
    """The child: accepts and holds connections, one byte each on count_w."""
    # Die with the parent, whichever way it ends (PR_SET_PDEATHSIG = 1).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(0)
    os.close(count_r)
    held = []
    try:
        while True:
            conn, _ = sink.accept()
            held.append(conn)
            os.write(count_w, b".")
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
