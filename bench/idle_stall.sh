#!/usr/bin/env bash
# The stall after a quiet second (issue 12): one keep-alive connection through
# `bowden open` to nginx serving a 437-byte JSON file, measured as
#
#   curl -s -o /dev/null URL; sleep IDLE; wrk -t1 -c1 -d5s --latency URL
#
# against the same without the sleep and against nginx directly:
#
#   (a) idle     curl; sleep IDLE; wrk     through Bowden (raw target, guard=none)
#   (b) no idle  curl; wrk                 through Bowden
#   (c) direct   curl; sleep IDLE; wrk     straight to nginx
#
# Each is measured RUNS times, interleaved (a b c a b c ...), and the script
# prints p50, p99 and max of every run plus the median over runs, and how many
# requests took 20 ms or more and how many of those fell in 38-50 ms. Then,
# RUNS times each, the quiet-gap test, which a busy machine does not blur:
#
#   (d) gaps     one keep-alive connection through Bowden, GAPS requests each
#                sent 1.05 s after the previous answer (median and max, ms)
#   (e) gaps     the same straight to nginx
#
# The machine is shared, so compare ratios in one run of the script, not
# absolute figures.
#
#   bench/idle_stall.sh [--no-build] [--runs 3] [--duration 5s] [--idle 1]
#                       [--gaps 10] [--relay-bin PATH]
#
# --relay-bin runs another bowden-relay (e.g. one built before a change) with
# this tree's agent and CLI.
#
# Everything (PKI, nginx files, logs) lives in one temporary directory that is
# deleted at exit; every process the script starts is stopped at exit, also on
# failure. Only loopback addresses are used. Needs: bazel, nginx, wrk, curl,
# python3.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

BUILD=1
RUNS=3
DURATION="5s"
IDLE=1
GAPS=10
RELAY_BIN="${ROOT}/bazel-bin/relay/bowden-relay"

while (($# > 0)); do
  case "$1" in
    --no-build) BUILD=0; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --idle) IDLE="$2"; shift 2 ;;
    --gaps) GAPS="$2"; shift 2 ;;
    --relay-bin) RELAY_BIN="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "idle_stall: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "${RUNS}" =~ ^[1-9][0-9]*$ ]] || { echo "idle_stall: --runs '${RUNS}' is not a positive count" >&2; exit 2; }
[[ "${DURATION}" =~ ^[1-9][0-9]*s$ ]] || { echo "idle_stall: --duration '${DURATION}' is not like 5s" >&2; exit 2; }
[[ "${GAPS}" =~ ^[1-9][0-9]*$ ]] || { echo "idle_stall: --gaps '${GAPS}' is not a positive count" >&2; exit 2; }
[[ "${IDLE}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "idle_stall: --idle '${IDLE}' is not a number of seconds" >&2; exit 2; }

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'idle_stall: %s\n' "$*" >&2
  exit 1
}

for tool in nginx wrk curl python3; do
  command -v "${tool}" >/dev/null || die "'${tool}' is not installed (apt-get install nginx wrk curl python3)"
done

build_binaries "${BUILD}"
readonly RELAY_BIN
readonly AGENT_BIN="${ROOT}/bazel-bin/agent/bowden-agent"
readonly CLI_BIN="${ROOT}/bazel-bin/cli/bowden"
require_binaries "${RELAY_BIN}" "${AGENT_BIN}" "${CLI_BIN}"

umask 077
T="$(mktemp -d -t bowden-idle-stall.XXXXXX)"
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

# wait_until TIMEOUT_S PID WHAT CMD...: polls CMD until it succeeds.
wait_until() {
  local deadline=$((SECONDS + $1)) pid="$2" what="$3"
  shift 3
  until "$@" >/dev/null 2>&1; do
    kill -0 "${pid}" 2>/dev/null || { echo "idle_stall: ${what}: the process exited" >&2; return 1; }
    ((SECONDS < deadline)) || { echo "idle_stall: timed out waiting for ${what}" >&2; return 1; }
    sleep 0.05
  done
}

# ---- nginx: one 437-byte JSON file ------------------------------------------

mkdir -p "${T}/www" "${T}/nginx/tmp"
python3 -c 'import json, sys
doc = {"state": {"text": "Operational", "flags": {"operational": True, "printing": False,
       "paused": False, "error": False, "ready": True}},
       "temperature": {"tool0": {"actual": 214.8, "target": 215.0, "offset": 0},
       "bed": {"actual": 59.9, "target": 60.0, "offset": 0}}}
s = json.dumps(doc)
s += " " * (436 - len(s))
sys.stdout.write(s + "\n")' >"${T}/www/printer.json"
[[ "$(wc -c <"${T}/www/printer.json")" == 437 ]] || die "the JSON file is not 437 bytes"

NGINX_PORT="$(free_port)"
write_nginx_conf "${NGINX_PORT}" application/json >"${T}/nginx/nginx.conf"
start nginx nginx -p "${T}/nginx" -e "${T}/nginx/error.log" -c "${T}/nginx/nginx.conf"
NGINX_PID="${LAST_PID}"
wait_until 10 "${NGINX_PID}" "nginx" http_ok "http://127.0.0.1:${NGINX_PORT}/printer.json" ||
  { show_logs nginx; die "nginx did not start"; }

# ---- Bowden: relay, agent (raw target), bowden open --------------------------

PKI="${T}/pki"
{
  "${CLI_BIN}" ca init --dir "${PKI}" --trust-domain bench.test
  "${CLI_BIN}" ca issue --dir "${PKI}" relay relay --ip 127.0.0.1 --dns localhost
  "${CLI_BIN}" ca issue --dir "${PKI}" agent prusa-01
  "${CLI_BIN}" ca issue --dir "${PKI}" user alice
} >"${T}/pki.log" 2>&1 || { cat "${T}/pki.log" >&2; die "bowden ca failed"; }

start relay "${RELAY_BIN}" --listen 127.0.0.1:0 \
  --cert "${PKI}/relay.crt" --key "${PKI}/relay.key" --ca "${PKI}/ca.crt" \
  --state-dir "${T}/state" --allow 'alice=prusa-*'
RELAY_PID="${LAST_PID}"
wait_until 20 "${RELAY_PID}" "the relay" grep -q 'bowden-relay listening on port' "${T}/relay.out" ||
  { show_logs relay; die "the relay did not start"; }
RELAY_PORT="$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "${T}/relay.out" | head -n 1)"

start agent "${AGENT_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
  --cert "${PKI}/prusa-01.crt" --key "${PKI}/prusa-01.key" --ca "${PKI}/ca.crt" \
  --target "web=127.0.0.1:${NGINX_PORT},guard=none"
AGENT_PID="${LAST_PID}"
wait_until 20 "${AGENT_PID}" "the agent to attach" grep -q 'attached as printer' "${T}/agent.err" ||
  { show_logs agent relay; die "the agent did not attach"; }

OPEN_PORT="$(free_port)"
start open "${CLI_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
  --cert "${PKI}/alice.crt" --key "${PKI}/alice.key" --ca "${PKI}/ca.crt" \
  open prusa-01 --target web --no-browser --listen "127.0.0.1:${OPEN_PORT}"
OPEN_PID="${LAST_PID}"
wait_until 20 "${OPEN_PID}" "a first request through bowden open" \
  http_ok "http://127.0.0.1:${OPEN_PORT}/printer.json" ||
  { show_logs open relay agent; die "no request went through bowden open"; }
say "relay ${RELAY_PID} (port ${RELAY_PORT}), agent ${AGENT_PID}, bowden open ${OPEN_PID} (port ${OPEN_PORT}), nginx ${NGINX_PID} (port ${NGINX_PORT})"

# ---- measurements -----------------------------------------------------------

# wrk's 45.00us / 1.23ms / 1.02s -> ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); x = v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); x = v }
    else if (v ~ /s$/) { sub(/s$/, "", v); x = v * 1000 }
    else { print "n/a"; exit }
    printf "%.2f", x }'
}

# Counts the requests that took 20 ms or more, and those in the 38-50 ms band
# of a delayed ACK (Linux's minimum ACK delay is 40 ms): a busy machine's
# scheduling delays spread out, a protocol stall sits in the band.
cat >"${T}/stalls.lua" <<'EOF'
done = function(summary, latency, requests)
  local slow, band = 0, 0
  for i = 1, #latency do
    local us, count = latency(i)
    if us >= 20000 then slow = slow + count end
    if us >= 38000 and us <= 50000 then band = band + count end
  end
  io.write(string.format("STALLS %d %d\n", slow, band))
end
EOF

# measure URL IDLE_S: prints "p50 p99 max requests slow band" (ms, ms, ms,
# then counts).
measure() {
  local url="$1" idle="$2" f="${T}/wrk.txt"
  curl -s --noproxy '*' --max-time 5 -o /dev/null "${url}" || true
  [[ "${idle}" == 0 ]] || sleep "${idle}"
  timeout 60 wrk -t1 -c1 -d"${DURATION}" --latency -s "${T}/stalls.lua" "${url}" >"${f}" 2>&1 || true
  if grep -qE 'Socket errors|Non-2xx' "${f}"; then
    echo "idle_stall: wrk saw errors on ${url}: $(grep -E 'Socket errors|Non-2xx' "${f}")" >&2
  fi
  printf '%s %s %s %s %s\n' \
    "$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "${f}")")" \
    "$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "${f}")")" \
    "$(to_ms "$(awk '$1 == "Latency" { print $4; exit }' "${f}")")" \
    "$(awk '/requests in/ { print $1; exit }' "${f}")" \
    "$(awk '$1 == "STALLS" { print $2 "/" $3; exit }' "${f}")"
}

readonly BOWDEN_URL="http://127.0.0.1:${OPEN_PORT}/printer.json"
readonly DIRECT_URL="http://127.0.0.1:${NGINX_PORT}/printer.json"
declare -A P99S P50S
for ((r = 1; r <= RUNS; r++)); do
  for c in idle noidle direct; do
    case "${c}" in
      idle) read -r p50 p99 max n st < <(measure "${BOWDEN_URL}" "${IDLE}") ;;
      noidle) read -r p50 p99 max n st < <(measure "${BOWDEN_URL}" 0) ;;
      direct) read -r p50 p99 max n st < <(measure "${DIRECT_URL}" "${IDLE}") ;;
    esac
    printf 'run %d  %-7s p50 %7s ms  p99 %7s ms  max %7s ms  %6s requests, %s >=20 ms / in 38-50 ms\n' \
      "${r}" "${c}" "${p50}" "${p99}" "${max}" "${n}" "${st}"
    P50S[${c}]+="${p50} "
    P99S[${c}]+="${p99} "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "median of ${RUNS} runs (wrk -t1 -c1 -d${DURATION}, idle ${IDLE} s, load $(cut -d' ' -f1-3 /proc/loadavg)):"
for c in idle noidle direct; do
  printf '  %-7s p50 %7s ms  p99 %7s ms\n' "${c}" \
    "$(median <<<"${P50S[${c}]}")" "$(median <<<"${P99S[${c}]}")"
done
# gaps PORT: GAPS requests on one keep-alive connection, each 1.05 s after
# the previous answer (just past a second of quiet); prints "median max" ms.
gaps() {
  python3 - "$1" "${GAPS}" <<'EOF'
import http.client, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("GET", "/printer.json")
conn.getresponse().read()
ms = []
for _ in range(n):
    time.sleep(1.05)
    start = time.monotonic()
    conn.request("GET", "/printer.json")
    conn.getresponse().read()
    ms.append((time.monotonic() - start) * 1000)
ms.sort()
print(f"{ms[len(ms) // 2]:.2f} {ms[-1]:.2f}")
EOF
}

echo
echo "quiet-gap test (${GAPS} requests, each 1.05 s after the previous answer, one connection):"
declare -A GAP_MEDS
for ((r = 1; r <= RUNS; r++)); do
  for c in bowden direct; do
    case "${c}" in
      bowden) read -r med max < <(gaps "${OPEN_PORT}") ;;
      direct) read -r med max < <(gaps "${NGINX_PORT}") ;;
    esac
    printf 'run %d  %-7s median %7s ms  max %7s ms\n' "${r}" "${c}" "${med}" "${max}"
    GAP_MEDS[${c}]+="${med} "
  done
done
for c in bowden direct; do
  printf '  %-7s median of the runs'"'"' medians %7s ms\n' "${c}" "$(median <<<"${GAP_MEDS[${c}]}")"
done

for pid in "${RELAY_PID}" "${AGENT_PID}" "${OPEN_PID}" "${NGINX_PID}"; do
  kill -0 "${pid}" 2>/dev/null || echo "idle_stall: process ${pid} died during the run" >&2
done
