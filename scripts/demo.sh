#!/usr/bin/env bash
# Bowden end to end on one machine, in under a minute:
#
#   stand-in printer (python3 http.server on loopback)
#     <- bowden-agent (dials out) ==mTLS gRPC==> bowden-relay
#     <==mTLS gRPC== bowden open (local port) <- curl / your browser
#
# Everything lives in a temporary directory (a throw-away CA and keys
# included) and is stopped and deleted when you press Ctrl-C.
#
#   scripts/demo.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"

say() { printf '\n== %s\n' "$*"; }
die() {
  printf '\ndemo: %s\n' "$*" >&2
  exit 1
}

# ---- build ------------------------------------------------------------------

say "Checking Debian packages"
bash scripts/install-deps.sh

say "Building the relay, the agent and the CLI"
bazel build --color=no //relay:bowden-relay //agent:bowden-agent //cli:bowden
readonly RELAY_BIN="${ROOT}/bazel-bin/relay/bowden-relay"
readonly AGENT_BIN="${ROOT}/bazel-bin/agent/bowden-agent"
readonly CLI_BIN="${ROOT}/bazel-bin/cli/bowden"
for bin in "${RELAY_BIN}" "${AGENT_BIN}" "${CLI_BIN}"; do
  [[ -x "${bin}" ]] || die "${bin} is missing after the build"
done

# ---- workspace and cleanup --------------------------------------------------

umask 077
D="$(mktemp -d -t bowden-demo.XXXXXX)"
readonly D
PIDS=()

# Stops only the processes this script started, then deletes the directory.
cleanup() {
  local pid deadline
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "${pid}" 2>/dev/null || true
  done
  deadline=$((SECONDS + 5))
  for pid in "${PIDS[@]}"; do
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.1
    done
    kill -KILL "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
  done
  rm -rf "${D}"
}
trap cleanup EXIT
trap 'echo; echo "Stopping the demo."; exit 130' INT
trap 'exit 143' TERM

# Starts "$@" in the background with stdout and stderr in files; remembers it.
#   start NAME CMD...   ->  $D/NAME.out, $D/NAME.log
start() {
  local name="$1"
  shift
  "$@" >"${D}/${name}.out" 2>"${D}/${name}.log" </dev/null &
  PIDS+=("$!")
  LAST_PID="$!"
}

# Polls until "$@" succeeds; gives up after TIMEOUT seconds, or as soon as the
# process PID (if not empty) has exited.
#   wait_for TIMEOUT PID WHAT CMD...
wait_for() {
  local timeout="$1" pid="$2" what="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if [[ -n "${pid}" ]] && ! kill -0 "${pid}" 2>/dev/null; then
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "demo: timed out after ${timeout}s waiting for ${what}" >&2
      return 1
    fi
    sleep 0.1
  done
}

# Prints the last lines of a process's logs, to explain a failure.
show_logs() {
  local name="$1" file
  for file in "${D}/${name}.out" "${D}/${name}.log"; do
    if [[ -s "${file}" ]]; then
      echo "---- ${file##*/} (last lines)" >&2
      tail -n 20 "${file}" >&2
    fi
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- a throw-away PKI -------------------------------------------------------

say "Minting a throw-away CA for trust domain demo.bowden in ${D}/pki"
PKI="${D}/pki"
"${CLI_BIN}" ca init --dir "${PKI}" --trust-domain demo.bowden
"${CLI_BIN}" ca issue --dir "${PKI}" relay relay --ip 127.0.0.1 --dns localhost
"${CLI_BIN}" ca issue --dir "${PKI}" user alice
# The printer gets no certificate here: it enrolls with a join token below.

# ---- the stand-in printer ---------------------------------------------------

say "Starting a stand-in OctoPrint on loopback"
mkdir -p "${D}/www"
cat >"${D}/www/index.html" <<'HTML'
<!doctype html>
<html>
<head><title>Stand-in OctoPrint</title></head>
<body>
<h1>Stand-in OctoPrint for the Bowden demo</h1>
<p>This page is served on 127.0.0.1 next to bowden-agent, and reached you
through bowden-relay over mutually authenticated TLS.</p>
</body>
</html>
HTML
TARGET_PORT="$(free_port)"
start printer python3 -m http.server --bind 127.0.0.1 --directory "${D}/www" "${TARGET_PORT}"
PRINTER_PID="${LAST_PID}"
wait_for 10 "${PRINTER_PID}" "the stand-in printer" \
  curl -fs -o /dev/null "http://127.0.0.1:${TARGET_PORT}/" ||
  { show_logs printer; die "the stand-in printer did not start"; }
echo "printer target 'octoprint' at 127.0.0.1:${TARGET_PORT}"

# ---- relay ------------------------------------------------------------------

say "Starting bowden-relay (policy: alice is an admin of prusa-*; it signs with the demo CA)"
cat >"${D}/policy.textproto" <<'POLICY'
admins: "alice"
grant { user: "alice" printers: "prusa-*" role: "admin" }
POLICY
start relay "${RELAY_BIN}" --listen 127.0.0.1:0 \
  --cert "${PKI}/relay.crt" --key "${PKI}/relay.key" --ca "${PKI}/bundle.crt" \
  --state-dir "${D}/state" --policy "${D}/policy.textproto" \
  --ca-dir "${PKI}" --enroll-listen 127.0.0.1:0
RELAY_PID="${LAST_PID}"
wait_for 20 "${RELAY_PID}" "the relay" \
  grep -q 'bowden-relay listening on port' "${D}/relay.out" ||
  { show_logs relay; die "the relay did not start"; }
RELAY_PORT="$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "${D}/relay.out" | head -n 1)"
[[ -n "${RELAY_PORT}" ]] || die "could not read the relay's port from: $(cat "${D}/relay.out")"
readonly RELAY="127.0.0.1:${RELAY_PORT}"
cat "${D}/relay.out"

# ---- agent ------------------------------------------------------------------

USER_FLAGS=(--relay "${RELAY}" --cert "${PKI}/alice.crt" --key "${PKI}/alice.key"
  --ca "${PKI}/ca.crt")

say "As alice (a relay admin): bowden token create agent prusa-01"
TOKEN="$("${CLI_BIN}" "${USER_FLAGS[@]}" token create agent prusa-01 --ttl 10m)" ||
  { show_logs relay; die "could not create a join token"; }
echo "${TOKEN:0:24}...   (single use, valid 10 minutes)"

say "On the printer host: bowden-agent enroll (its key is made there and never leaves it)"
"${AGENT_BIN}" enroll --token "${TOKEN}" --state-dir "${D}/printer-host" ||
  { show_logs relay; die "the agent could not enroll"; }

say "Starting bowden-agent for printer prusa-01 (it dials out to the relay)"
start agent "${AGENT_BIN}" --config "${D}/printer-host/agent.textproto" \
  --target "octoprint=127.0.0.1:${TARGET_PORT}"
AGENT_PID="${LAST_PID}"
wait_for 20 "${AGENT_PID}" "the agent to attach" \
  grep -q "attached as printer 'prusa-01'" "${D}/agent.log" ||
  { show_logs agent; show_logs relay; die "the agent did not attach to the relay"; }
grep -m 1 "attached as printer" "${D}/agent.log"

# ---- the user's side --------------------------------------------------------

say "As alice: bowden ls"
"${CLI_BIN}" "${USER_FLAGS[@]}" ls

say "As alice: bowden open prusa-01 --no-browser"
start open "${CLI_BIN}" "${USER_FLAGS[@]}" open prusa-01 --no-browser
OPEN_PID="${LAST_PID}"
url_re='http://127\.0\.0\.1:[0-9]+/'
wait_for 20 "${OPEN_PID}" "bowden open to print its URL" \
  grep -Eq "${url_re}" "${D}/open.out" ||
  { show_logs open; die "bowden open did not start"; }
cat "${D}/open.out"
URL="$(grep -Eo "${url_re}" "${D}/open.out" | head -n 1)"

say "curl -sS ${URL}   (loopback port -> relay -> agent -> stand-in printer)"
curl -sS --max-time 10 "${URL}" ||
  { show_logs open; show_logs relay; show_logs agent; die "the request did not go through"; }

say "The agent's guard at work: a firmware flash (M997) never reaches the printer, even for an admin"
echo "curl -X POST ${URL}api/printer/command -d '{\"command\":\"M997\"}'"
curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' \
  --data '{"command":"M997"}' "${URL}api/printer/command" || true

say "As alice (a relay admin): bowden audit"
# The agent sends its audit events in batches (every 25 ms): wait for the
# refusal above to be in the relay's log before showing it.
audit_has_refusal() {
  "${CLI_BIN}" "${USER_FLAGS[@]}" audit 2>/dev/null | grep -q 'api/printer/command'
}
wait_for 10 "${AGENT_PID}" "the agent's audit events to reach the relay" audit_has_refusal || true
"${CLI_BIN}" "${USER_FLAGS[@]}" audit || true

cat <<EOF

== The demo is running

  stand-in printer   127.0.0.1:${TARGET_PORT}  (python3 http.server, loopback only)
  bowden-agent       printer prusa-01, target octoprint; dialled out to the relay
  bowden-relay       ${RELAY}, trust domain demo.bowden, policy ${D}/policy.textproto
  bowden open        ${URL}  ->  prusa-01/octoprint, as user alice

Open ${URL} in a browser on this machine, or: curl ${URL}
Logs: ${D}/{relay,agent,open,printer}.log

Press Ctrl-C to stop everything and delete ${D}.
EOF

# Sleep until Ctrl-C, or until one of the processes dies on its own.
declare -A names=([${PRINTER_PID}]=printer [${RELAY_PID}]=relay [${AGENT_PID}]=agent [${OPEN_PID}]=open)
wait -n "${PIDS[@]}" || true
for pid in "${PIDS[@]}"; do
  if ! kill -0 "${pid}" 2>/dev/null; then
    show_logs "${names[${pid}]}"
    die "${names[${pid}]} exited unexpectedly"
  fi
done
