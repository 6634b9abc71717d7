#!/usr/bin/env bash
# Bowden memory benchmark: what the relay, the agent and `bowden open` (the
# CLI) hold, idle, after bursts of short sessions, after a big download, and
# with clients that stop reading.
#
#   curl/python ─► bowden open ══mTLS══► bowden-relay ◄══mTLS══ bowden-agent ─► nginx
#                  (everything on 127.0.0.1)
#
# Phases (RSS and PSS of each process, from /proc/PID/smaps_rollup):
#   1. idle: after one request, nothing open;
#   2. open: STALLED clients connect and send nothing; a session's own cost
#      = (open - idle) / STALLED;
#      stalled: then each sends a GET for the BIG_MIB file and never reads;
#      measured when the processes stop growing; bytes buffered per stalled
#      session = (stalled - open) / STALLED;
#   3. unstalled: the stalled clients closed (reset);
#   4. bursts: BURSTS times SESSIONS sessions, each a new TCP connection
#      through `bowden open`, one GET of a 100-byte file, close
#      (PARALLEL at a time); measured once every session is closed;
#   5. download: DOWNLOADS GETs of a BIG_MIB file, one at a time (curl, MiB/s),
#      nothing open after.
#
#   bench/memory.sh [--out FILE] [--no-build] [--bursts 10] [--sessions 2000]
#                   [--parallel 50] [--stalled 10] [--big-mib 100]
#                   [--downloads 3] [--bin-dir DIR]
#
# --bin-dir takes bowden-relay, bowden-agent and bowden from DIR instead of
# bazel-bin (e.g. copies of an older build, for an A/B comparison).
#
# Prints a markdown report on stdout (and writes it to FILE if given). Every
# process the script starts is stopped at exit, also on failure, and its
# temporary directory is deleted. Needs: bazel, nginx, curl, python3.
set -euo pipefail

readonly CALLER_PWD="${PWD}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

OUT=""
BUILD=1
BURSTS=10
SESSIONS=2000
PARALLEL=50
STALLED=10
BIG_MIB=100
DOWNLOADS=3
BIN_DIR=""

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while (($# > 0)); do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --bursts) BURSTS="$2"; shift 2 ;;
    --sessions) SESSIONS="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --stalled) STALLED="$2"; shift 2 ;;
    --big-mib) BIG_MIB="$2"; shift 2 ;;
    --downloads) DOWNLOADS="$2"; shift 2 ;;
    --bin-dir) BIN_DIR="$2"; BUILD=0; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "memory: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ -z "${OUT}" || "${OUT}" == /* ]] || OUT="${CALLER_PWD}/${OUT}"
for n in "${BURSTS}" "${SESSIONS}" "${PARALLEL}" "${STALLED}" "${BIG_MIB}" "${DOWNLOADS}"; do
  [[ "${n}" =~ ^[1-9][0-9]*$ ]] || { echo "memory: '${n}' is not a positive count" >&2; exit 2; }
done

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'memory: %s\n' "$*" >&2
  exit 1
}

for tool in nginx curl python3; do
  command -v "${tool}" >/dev/null || die "'${tool}' is not installed (apt-get install nginx curl python3)"
done

build_binaries "${BUILD}"
if [[ -n "${BIN_DIR}" ]]; then
  [[ "${BIN_DIR}" == /* ]] || BIN_DIR="${CALLER_PWD}/${BIN_DIR}"
  readonly RELAY_BIN="${BIN_DIR}/bowden-relay" AGENT_BIN="${BIN_DIR}/bowden-agent" CLI_BIN="${BIN_DIR}/bowden"
else
  readonly RELAY_BIN="${ROOT}/bazel-bin/relay/bowden-relay"
  readonly AGENT_BIN="${ROOT}/bazel-bin/agent/bowden-agent"
  readonly CLI_BIN="${ROOT}/bazel-bin/cli/bowden"
fi
require_binaries "${RELAY_BIN}" "${AGENT_BIN}" "${CLI_BIN}"

umask 077
T="$(mktemp -d -t bowden-memory.XXXXXX)"
readonly T
PIDS=()

# Stops only what this script started, newest first, then deletes the
# workspace.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_started 5
  rm -rf "${T}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



# ---- processes --------------------------------------------------------------

mkdir -p "${T}/www" "${T}/nginx/tmp"
head -c "$((BIG_MIB * 1048576))" /dev/urandom >"${T}/www/big.bin"
printf '%099d\n' 0 >"${T}/www/small.txt"
NGINX_PORT="$(free_port)"
write_nginx_conf "${NGINX_PORT}" application/octet-stream 'sendfile on; send_timeout 600s;' \
  >"${T}/nginx/nginx.conf"
start nginx nginx -p "${T}/nginx" -e "${T}/nginx/error.log" -c "${T}/nginx/nginx.conf"
NGINX_PID="${LAST_PID}"
wait_for 10 "${NGINX_PID}" "nginx" http_ok "http://127.0.0.1:${NGINX_PORT}/small.txt" ||
  { show_logs nginx; die "nginx did not start"; }

PKI="${T}/pki"
{
  "${CLI_BIN}" ca init --dir "${PKI}" --trust-domain bench.test
  "${CLI_BIN}" ca issue --dir "${PKI}" relay relay --ip 127.0.0.1 --dns localhost
  "${CLI_BIN}" ca issue --dir "${PKI}" agent prusa-01
  "${CLI_BIN}" ca issue --dir "${PKI}" user alice
} >"${T}/pki.log" 2>&1 || { cat "${T}/pki.log" >&2; die "bowden ca failed"; }

say "Starting relay, agent and bowden open"
start relay "${RELAY_BIN}" --listen 127.0.0.1:0 \
  --cert "${PKI}/relay.crt" --key "${PKI}/relay.key" --ca "${PKI}/ca.crt" \
  --state-dir "${T}/state" --allow 'alice=prusa-*' --max-sessions-per-user 100000
RELAY_PID="${LAST_PID}"
wait_for 20 "${RELAY_PID}" "the relay" grep -q 'bowden-relay listening on port' "${T}/relay.out" ||
  { show_logs relay; die "the relay did not start"; }
RELAY_PORT="$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "${T}/relay.out" | head -n 1)"

start agent "${AGENT_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
  --cert "${PKI}/prusa-01.crt" --key "${PKI}/prusa-01.key" --ca "${PKI}/ca.crt" \
  --target "octoprint=127.0.0.1:${NGINX_PORT},guard=none"
AGENT_PID="${LAST_PID}"
wait_for 20 "${AGENT_PID}" "the agent to attach" grep -q 'attached as printer' "${T}/agent.err" ||
  { show_logs agent relay; die "the agent did not attach"; }

start open "${CLI_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
  --cert "${PKI}/alice.crt" --key "${PKI}/alice.key" --ca "${PKI}/ca.crt" \
  open prusa-01 --target octoprint --no-browser --listen 127.0.0.1:0
OPEN_PID="${LAST_PID}"
wait_for 20 "${OPEN_PID}" "bowden open to print its URL" \
  grep -Eq 'Forwarding http://127\.0\.0\.1:[0-9]+/' "${T}/open.out" ||
  { show_logs open; die "bowden open did not start"; }
OPEN_PORT="$(grep -Eo 'http://127\.0\.0\.1:[0-9]+/' "${T}/open.out" | head -n 1 |
  sed 's/.*:\([0-9]*\)\//\1/')"
URL="http://127.0.0.1:${OPEN_PORT}"
wait_for 20 "${OPEN_PID}" "a first request through the tunnel" http_ok "${URL}/small.txt" ||
  { show_logs open relay agent; die "no request went through the tunnel"; }

# ---- measuring --------------------------------------------------------------

readonly NAMES=(relay agent cli)
declare -A PID_OF=([relay]="${RELAY_PID}" [agent]="${AGENT_PID}" [cli]="${OPEN_PID}")
declare -A MEM  # "phase.name.rss" / "phase.name.pss", KiB
PHASES=()

# kib PID FIELD: a field of /proc/PID/smaps_rollup (Rss, Pss), in KiB.
kib() {
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"
}

# total_rss: the three processes' RSS summed, KiB.
total_rss() {
  local name sum=0
  for name in "${NAMES[@]}"; do
    sum=$((sum + $(kib "${PID_OF[${name}]}" Rss)))
  done
  echo "${sum}"
}

# settle: waits until the summed RSS moves less than 256 KiB over 6 s (30 s
# at most), so a figure is not taken halfway through a teardown, and the
# processes' periodic malloc_trim (every 5 s) has run since the last change.
settle() {
  local previous current same=0 deadline=$((SECONDS + 30))
  previous="$(total_rss)"
  while ((same < 12 && SECONDS < deadline)); do
    sleep 0.5
    current="$(total_rss)"
    if ((current - previous < 256 && previous - current < 256)); then
      same=$((same + 1))
    else
      same=0
    fi
    previous="${current}"
  done
}

# measure PHASE: records every process's RSS and PSS under PHASE.
measure() {
  local phase="$1" name pid
  settle
  for name in "${NAMES[@]}"; do
    pid="${PID_OF[${name}]}"
    kill -0 "${pid}" 2>/dev/null || { show_logs "${name/cli/open}"; die "${name} exited during ${phase}"; }
    MEM[${phase}.${name}.rss]="$(kib "${pid}" Rss)"
    MEM[${phase}.${name}.pss]="$(kib "${pid}" Pss)"
    MEM[${phase}.${name}.threads]="$(awk '$1 == "Threads:" { print $2 }' "/proc/${pid}/status")"
  done
  PHASES+=("${phase}")
  say "${phase}: relay $(mib "${MEM[${phase}.relay.rss]}") agent $(mib "${MEM[${phase}.agent.rss]}") cli $(mib "${MEM[${phase}.cli.rss]}") MiB RSS"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# The session client: bursts of short sessions, or stalled readers.
cat >"${T}/client.py" <<'EOF'
import socket, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

mode, port = sys.argv[1], int(sys.argv[2])

def session(_):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
        if not got.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("unexpected answer: %r" % got[:80])

if mode == "bursts":
    bursts, sessions, parallel = map(int, sys.argv[3:6])
    for b in range(bursts):
        start = time.monotonic()
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(session, range(sessions)))
        print("burst %d: %d sessions in %.1f s" % (b + 1, sessions, time.monotonic() - start),
              file=sys.stderr, flush=True)
elif mode == "stall":
    # Each client asks for the big file and never reads: the tunnel fills up
    # until flow control stops the target. A small receive buffer keeps the
    # kernel from taking much of it. Stays until stdin closes.
    # First the connections alone (sessions open, nothing sent), then the
    # requests, so the two figures tell a session's cost from its buffers.
    count = int(sys.argv[3])
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    print("open", flush=True)
    sys.stdin.readline()
    for s in socks:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: bench\r\n\r\n")
    print("stalled", flush=True)
    sys.stdin.read()
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
EOF

# ---- phases -----------------------------------------------------------------

measure idle

say "${STALLED} stalled clients"
coproc STALL { exec python3 "${T}/client.py" stall "${OPEN_PORT}" "${STALLED}"; }
PIDS+=("${STALL_PID}")
read -r ready <&"${STALL[0]}" || die "the stalled clients did not connect"
[[ "${ready}" == open ]] || die "the stalled clients said '${ready}'"
measure open
echo go >&"${STALL[1]}"
read -r ready <&"${STALL[0]}" || die "the stalled clients did not send their requests"
[[ "${ready}" == stalled ]] || die "the stalled clients said '${ready}'"
measure stalled
exec {STALL[1]}>&-
wait "${STALL_PID}" 2>/dev/null || true
measure unstalled

say "Bursts: ${BURSTS} x ${SESSIONS} sessions, ${PARALLEL} at a time"
BURST_START=${SECONDS}
python3 "${T}/client.py" bursts "${OPEN_PORT}" "${BURSTS}" "${SESSIONS}" "${PARALLEL}" ||
  { show_logs open relay agent; die "a session of the bursts failed"; }
BURST_SECONDS=$((SECONDS - BURST_START))
measure bursts

say "${DOWNLOADS} downloads of ${BIG_MIB} MiB"
SPEEDS=()
CPU_BEFORE="$(cpu_seconds "${RELAY_PID}" "${AGENT_PID}" "${OPEN_PID}")"
for ((i = 0; i < DOWNLOADS; i++)); do
  line="$(curl -s --noproxy '*' --max-time 300 -o /dev/null \
    -w '%{size_download} %{speed_download}' "${URL}/big.bin")"
  read -r size speed <<<"${line}"
  ((size == BIG_MIB * 1048576)) || die "download $((i + 1)) got ${size} of $((BIG_MIB * 1048576)) bytes"
  SPEEDS+=("$(awk -v s="${speed}" 'BEGIN { printf "%.1f", s / 1048576 }')")
done
CPU_PER_GIB="$(awk -v a="${CPU_BEFORE}" -v b="$(cpu_seconds "${RELAY_PID}" "${AGENT_PID}" "${OPEN_PID}")" \
  -v n="${DOWNLOADS}" -v m="${BIG_MIB}" 'BEGIN { printf "%.2f", (b - a) * 1024 / (n * m) }')"
SPEED="$(printf '%s\n' "${SPEEDS[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
measure download

# ---- report -----------------------------------------------------------------

{
  echo "### Memory: $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  [[ -z "${BIN_DIR}" ]] || echo "Binaries from ${BIN_DIR}."
  echo "\`bench/memory.sh --bursts ${BURSTS} --sessions ${SESSIONS} --parallel ${PARALLEL} --stalled ${STALLED} --big-mib ${BIG_MIB} --downloads ${DOWNLOADS}\`, $(nproc) CPUs; MiB from \`/proc/PID/smaps_rollup\`."
  echo
  echo "| phase | relay RSS | relay PSS | agent RSS | agent PSS | CLI RSS | CLI PSS | sum RSS | threads (relay, agent, CLI) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for phase in "${PHASES[@]}"; do
    sum=0
    row="| ${phase} |"
    for name in "${NAMES[@]}"; do
      row+=" $(mib "${MEM[${phase}.${name}.rss]}") | $(mib "${MEM[${phase}.${name}.pss]}") |"
      sum=$((sum + MEM[${phase}.${name}.rss]))
    done
    echo "${row} $(mib "${sum}") | ${MEM[${phase}.relay.threads]}, ${MEM[${phase}.agent.threads]}, ${MEM[${phase}.cli.threads]} |"
  done
  echo
  echo "| per session (KiB RSS) | relay | agent | CLI | sum |"
  echo "|---|---|---|---|---|"
  # per_session LABEL FROM TO: (TO - FROM) / STALLED for each process.
  per_session() {
    local row="| $1 |" sum=0 d name
    for name in "${NAMES[@]}"; do
      d=$(((MEM[$3.${name}.rss] - MEM[$2.${name}.rss]) / STALLED))
      sum=$((sum + d))
      row+=" ${d} |"
    done
    echo "${row} ${sum} |"
  }
  per_session "open, nothing sent: (open - idle) / ${STALLED}" idle open
  per_session "buffered when stalled: (stalled - open) / ${STALLED}" open stalled
  echo
  echo "| after bursts vs idle (RSS) | relay | agent | CLI |"
  echo "|---|---|---|---|"
  row="| ratio |"
  for name in "${NAMES[@]}"; do
    row+=" $(awk -v a="${MEM[bursts.${name}.rss]}" -v b="${MEM[idle.${name}.rss]}" 'BEGIN { printf "%.2f", a / b }') |"
  done
  echo "${row}"
  echo
  echo "Bursts took ${BURST_SECONDS} s; ${BIG_MIB} MiB downloads: median ${SPEED} MiB/s (${SPEEDS[*]}), ${CPU_PER_GIB} CPU s per GiB (relay, agent and CLI together)."
} >"${T}/report.md"
cat "${T}/report.md"
if [[ -n "${OUT}" ]]; then cp "${T}/report.md" "${OUT}"; fi
