#!/usr/bin/env bash
# Bowden benchmark: one nginx target on loopback, reached three ways (ssh in
# two variants):
#
#   (a) direct       curl/wrk ──────────────────────────────────────────► nginx
#   (b) Bowden       curl/wrk ─► bowden open ══TLS══► bowden-relay ◄══TLS══ bowden-agent ─► nginx
#   (c) ssh -R       curl/wrk ─► sshd (forwarded port) ══SSH══ ssh -N -R ─► nginx
#   (c') the same with TCP_NODELAY: ssh -tt -R ... sleep (a control, see below)
#   (b') Bowden with the agent's HTTP guard (guard=octoprint) on the same
#        nginx, files under /static/: what parsing, judging and auditing every
#        request costs (reported in a table of its own)
#   (d) two mTLS hops, one poll loop per process (socat, a reference path):
#        curl/wrk ─► socat ══TLS══► socat ══TLS══► socat ─► nginx
#   (e) end-to-end mTLS, the middle splicing TCP (socat, a reference path):
#        curl/wrk ─► socat ══TLS══ socat (TCP only) ══TLS══► socat ─► nginx
#   (d) and (e) are not Bowden: they are a simple form of the two data
#   paths docs/architecture.md weighs against gRPC streams ("Why the data
#   path stays on gRPC"), the same three processes and certificates with
#   socat's select() loop and 128 KiB buffers, so each run shows what leaving
#   gRPC could buy. Only their download and wrk -c1 figures are
#   taken: socat makes a TLS handshake and forks a process per connection,
#   which a real design would not. Skipped, with a note, without socat.
#
# For each path it measures
#   1. 100 MiB download throughput: curl, median of 5 runs (MiB/s);
#   2. small-request latency and rate: wrk -t1 -c1 and wrk -t2 -c50, 10 s each
#      (p50, p99 in ms, requests/s);
#   3. new-connection setup: 200 sequential curls of the small file, each a
#      new TCP connection (median and p99 of time_total, ms);
# plus the CPU time the tunnel processes spent in phases 1 and 2 (per GiB,
# per request at c1 and at c50), and their resident memory (VmRSS summed over
# the tunnel's processes: bowden open + relay + agent, or ssh + sshd and its
# session processes): the peak during wrk -c50 (sampled every 0.5 s) and the
# figure right after the downloads. The agent's own RSS is taken once when it
# has just attached (idle, before any session) and once at the end of the run.
#
# The report ends with a "Goals" table: every goal of issue 12 this script
# can measure, as Bowden's figure against its bar (an absolute figure or
# ssh's in the same run), with "met" or "not met". The goals it cannot
# measure (per idle session and per attached agent: bench/scale.sh) are named
# under the table.
#
# (c) is the usual `ssh -N -R` command. Without a session OpenSSH never marks
# its connection interactive, so neither ssh nor sshd sets TCP_NODELAY on it,
# and Nagle plus delayed ACKs stall some small exchanges by ~40 ms. (c') asks
# for a tty session (`-tt ... sleep`), which makes both ends set TCP_NODELAY:
# the faster of the two is the fair bar for Bowden, and the report compares
# Bowden with both.
#
#   bench/run.sh [--out FILE] [--no-build] [--wrk-duration 10s]
#                [--downloads 5] [--connects 200] [--big-mib 100] [--short]
#
# --short is a quick check (about a minute of measuring): wrk 3 s, 2
# downloads, 50 new connections; later flags override it.
#
# Prints a markdown report on stdout and writes it to FILE (default
# bench/results-latest.md). Everything (PKI, nginx files, sshd config and
# keys, logs) lives in one temporary directory that is deleted at exit; every
# process the script starts is stopped at exit, also on failure.
#
# Needs: bazel, nginx, wrk, curl, OpenSSH client and server (/usr/sbin/sshd),
# python3, socat (for (d) and (e) only), util-linux unshare (only if /run/sshd does not exist; see
# start_sshd). Only loopback addresses are used.
set -euo pipefail

readonly CALLER_PWD="${PWD}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

# ---- options ----------------------------------------------------------------

OUT="${ROOT}/bench/results-latest.md"
BUILD=1
WRK_DURATION="10s"
DOWNLOADS=5
CONNECTS=200
BIG_MIB=100

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while (($# > 0)); do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    --no-build) BUILD=0; shift ;;
    --wrk-duration) WRK_DURATION="$2"; shift 2 ;;
    --downloads) DOWNLOADS="$2"; shift 2 ;;
    --connects) CONNECTS="$2"; shift 2 ;;
    --big-mib) BIG_MIB="$2"; shift 2 ;;
    --short) WRK_DURATION="3s"; DOWNLOADS=2; CONNECTS=50; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "${OUT}" == /* ]] || OUT="${CALLER_PWD}/${OUT}"
for n in "${DOWNLOADS}" "${CONNECTS}" "${BIG_MIB}"; do
  [[ "${n}" =~ ^[1-9][0-9]*$ ]] || { echo "bench: '${n}' is not a positive count" >&2; exit 2; }
done
[[ "${WRK_DURATION}" =~ ^[1-9][0-9]*[smh]?$ ]] ||
  { echo "bench: --wrk-duration '${WRK_DURATION}' is not like 10s" >&2; exit 2; }

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'bench: %s\n' "$*" >&2
  exit 1
}

for tool in nginx wrk curl ssh ssh-keygen python3; do
  command -v "${tool}" >/dev/null || die "'${tool}' is not installed (apt-get install nginx wrk curl openssh-client openssh-server)"
done
[[ -x /usr/sbin/sshd ]] || die "/usr/sbin/sshd is missing (apt-get install openssh-server)"

# ---- build ------------------------------------------------------------------

build_binaries "${BUILD}"
readonly RELAY_BIN="${ROOT}/bazel-bin/relay/bowden-relay"
readonly AGENT_BIN="${ROOT}/bazel-bin/agent/bowden-agent"
readonly CLI_BIN="${ROOT}/bazel-bin/cli/bowden"
require_binaries "${RELAY_BIN}" "${AGENT_BIN}" "${CLI_BIN}"

# ---- workspace and cleanup --------------------------------------------------

umask 077
T="$(mktemp -d -t bowden-bench.XXXXXX)"
readonly T
PIDS=()


# Stops only what this script started (and their children, e.g. sshd's
# per-connection processes), newest first, then deletes the workspace.
cleanup() {
  local status=$? i pid victims=() children=() deadline
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid="${PIDS[i]}"
    mapfile -t children < <(descendants "${pid}")
    victims+=("${children[@]}" "${pid}")
  done
  for pid in "${victims[@]}"; do
    kill -TERM "${pid}" 2>/dev/null || true
  done
  deadline=$((SECONDS + 5))
  for pid in "${victims[@]}"; do
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.05
    done
    kill -KILL "${pid}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "${pid}" 2>/dev/null || true
  done
  rm -rf "${T}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM





port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}


# ---- statistics -------------------------------------------------------------

# Reads numbers, one a line; prints "median p99" (p99 by nearest rank).
median_p99() {
  sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "nan nan"; exit }
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      r = int(0.99 * NR); if (r < 0.99 * NR) r++; if (r < 1) r = 1
      print med, v[r]
    }'
}

# tunnel_cpu PATH: cpu_seconds of PATH's tunnel processes (0.00 for direct).
tunnel_cpu() {
  local pids=()
  read -ra pids <<<"${TUNNEL_PIDS[$1]}"
  cpu_seconds "${pids[@]}"
}


# ---- the target: nginx ------------------------------------------------------

say "Workspace ${T}"
mkdir -p "${T}/www" "${T}/nginx/tmp"
say "Writing a ${BIG_MIB} MiB random file and a 100-byte file"
head -c "$((BIG_MIB * 1048576))" /dev/urandom >"${T}/www/big.bin"
printf '%099d\n' 0 >"${T}/www/small.txt"
readonly BIG_BYTES=$((BIG_MIB * 1048576))

NGINX_PORT="$(free_port)"
# The same files under /static/, where the OctoPrint guard lets a viewer GET them.
write_nginx_conf "${NGINX_PORT}" application/octet-stream \
  'sendfile on; tcp_nopush on;' "location /static/ { alias ${T}/www/; }" \
  >"${T}/nginx/nginx.conf"
say "Starting nginx on 127.0.0.1:${NGINX_PORT}"
start nginx nginx -p "${T}/nginx" -e "${T}/nginx/error.log" -c "${T}/nginx/nginx.conf"
NGINX_PID="${LAST_PID}"
wait_for 10 "${NGINX_PID}" "nginx" http_ok "http://127.0.0.1:${NGINX_PORT}/small.txt" ||
  { show_logs nginx; cat "${T}/nginx/error.log" >&2 2>/dev/null || true; die "nginx did not start"; }

# ---- (b) Bowden ---------------------------------------------------------------

say "Minting a throw-away PKI (trust domain bench.test)"
PKI="${T}/pki"
{
  "${CLI_BIN}" ca init --dir "${PKI}" --trust-domain bench.test
  "${CLI_BIN}" ca issue --dir "${PKI}" relay relay --ip 127.0.0.1 --dns localhost
  "${CLI_BIN}" ca issue --dir "${PKI}" agent prusa-01
  "${CLI_BIN}" ca issue --dir "${PKI}" user alice
} >"${T}/pki.log" 2>&1 || { cat "${T}/pki.log" >&2; die "bowden ca failed"; }

say "Starting bowden-relay"
start relay "${RELAY_BIN}" --listen 127.0.0.1:0 \
  --cert "${PKI}/relay.crt" --key "${PKI}/relay.key" --ca "${PKI}/ca.crt" \
  --state-dir "${T}/state" --allow 'alice=prusa-*'
RELAY_PID="${LAST_PID}"
wait_for 20 "${RELAY_PID}" "the relay" \
  grep -q 'bowden-relay listening on port' "${T}/relay.out" ||
  { show_logs relay; die "the relay did not start"; }
RELAY_PORT="$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "${T}/relay.out" | head -n 1)"
[[ -n "${RELAY_PORT}" ]] || die "no port in the relay's output: $(cat "${T}/relay.out")"

say "Starting bowden-agent (printer prusa-01, target octoprint = nginx)"
start agent "${AGENT_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
  --cert "${PKI}/prusa-01.crt" --key "${PKI}/prusa-01.key" --ca "${PKI}/ca.crt" \
  --target "octoprint=127.0.0.1:${NGINX_PORT},guard=none" \
  --target "guarded=127.0.0.1:${NGINX_PORT},guard=octoprint"
AGENT_PID="${LAST_PID}"
wait_for 20 "${AGENT_PID}" "the agent to attach" \
  grep -q 'attached as printer' "${T}/agent.err" ||
  { show_logs agent relay; die "the agent did not attach"; }
# The agent as it sits next to OctoPrint between sessions: attached, idle.
AGENT_IDLE_START_KIB="$(rss_kib "${AGENT_PID}")"

# open_tunnel NAME TARGET FIRST_PATH: starts `bowden open prusa-01 --target
# TARGET` as process NAME, waits for its URL and a first answer for FIRST_PATH;
# sets OPENED_PID and OPENED_PORT.
open_tunnel() {
  local name="$1" target="$2" first="$3"
  say "Starting bowden open prusa-01 --target ${target}"
  start "${name}" "${CLI_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
    --cert "${PKI}/alice.crt" --key "${PKI}/alice.key" --ca "${PKI}/ca.crt" \
    open prusa-01 --target "${target}" --no-browser --listen 127.0.0.1:0
  OPENED_PID="${LAST_PID}"
  wait_for 20 "${OPENED_PID}" "bowden open --target ${target} to print its URL" \
    grep -Eq 'Forwarding http://127\.0\.0\.1:[0-9]+/' "${T}/${name}.out" ||
    { show_logs "${name}"; die "bowden open --target ${target} did not start"; }
  OPENED_PORT="$(grep -Eo 'http://127\.0\.0\.1:[0-9]+/' "${T}/${name}.out" | head -n 1 | sed 's/.*:\([0-9]*\)\//\1/')"
  wait_for 20 "${OPENED_PID}" "a first request through --target ${target}" \
    http_ok "http://127.0.0.1:${OPENED_PORT}${first}" ||
    { show_logs "${name}" relay agent; die "no request went through --target ${target}"; }
}

open_tunnel open octoprint /small.txt
OPEN_PID="${OPENED_PID}"
BOWDEN_PORT="${OPENED_PORT}"
# The HTTP guard in the path: the same files where a viewer may GET them.
open_tunnel gopen guarded /static/small.txt
GOPEN_PID="${OPENED_PID}"
GUARDED_PORT="${OPENED_PORT}"

# ---- (c) OpenSSH reverse tunnel -------------------------------------------

say "Starting a private sshd and ssh -R"
mkdir -p "${T}/ssh"
ssh-keygen -q -t ed25519 -N '' -C bench-host -f "${T}/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -C bench-user -f "${T}/ssh/user_key"
cp "${T}/ssh/user_key.pub" "${T}/ssh/authorized_keys"
SSHD_PORT="$(free_port)"
cat >"${T}/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1:${SSHD_PORT}
HostKey ${T}/ssh/host_key
PidFile ${T}/ssh/sshd.pid
AuthorizedKeysFile ${T}/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin $([[ "$(id -u)" == 0 ]] && echo yes || echo no)
StrictModes no
UsePAM no
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PrintMotd no
EOF
/usr/sbin/sshd -t -f "${T}/ssh/sshd_config" 2>"${T}/sshd-check.err" || true
if [[ -d /run/sshd ]] || ! grep -q 'privilege separation directory' "${T}/sshd-check.err"; then
  start sshd /usr/sbin/sshd -D -e -f "${T}/ssh/sshd_config"
else
  # sshd as root needs its privilege-separation directory /run/sshd, which
  # this machine does not have (no sshd service is installed as a daemon).
  # Rather than create it system-wide, give this sshd a private mount
  # namespace in which a directory of ours is mounted over /run. unshare
  # and sh exec, so the PID is sshd's own.
  command -v unshare >/dev/null || die "sshd needs /run/sshd and unshare is missing"
  mkdir -p "${T}/ssh/run/sshd"
  chmod 755 "${T}/ssh/run" "${T}/ssh/run/sshd"
  say "  (no /run/sshd: running sshd in a private mount namespace with ${T}/ssh/run over /run)"
  # shellcheck disable=SC2016  # $1 and $2 are for the inner sh
  start sshd unshare --mount --propagation private sh -c \
    'mount --bind "$1" /run && exec /usr/sbin/sshd -D -e -f "$2"' \
    sh "${T}/ssh/run" "${T}/ssh/sshd_config"
fi
SSHD_PID="${LAST_PID}"
wait_for 10 "${SSHD_PID}" "sshd" port_open "${SSHD_PORT}" ||
  { show_logs sshd; die "sshd did not start"; }

SSH_FWD_PORT="$(free_port)"
start ssh ssh -F /dev/null -N -o BatchMode=yes \
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o ExitOnForwardFailure=yes -o ServerAliveInterval=30 \
  -c aes128-gcm@openssh.com -i "${T}/ssh/user_key" -p "${SSHD_PORT}" \
  -R "127.0.0.1:${SSH_FWD_PORT}:127.0.0.1:${NGINX_PORT}" "$(whoami)@127.0.0.1"
SSH_PID="${LAST_PID}"
wait_for 20 "${SSH_PID}" "the ssh -R forward" \
  http_ok "http://127.0.0.1:${SSH_FWD_PORT}/small.txt" ||
  { show_logs ssh sshd; die "ssh -R did not come up"; }

say "Starting ssh -tt -R (a tty session: TCP_NODELAY on the SSH connection)"
SSHND_FWD_PORT="$(free_port)"
start sshnd ssh -F /dev/null -tt -o BatchMode=yes \
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o ExitOnForwardFailure=yes -o ServerAliveInterval=30 \
  -c aes128-gcm@openssh.com -i "${T}/ssh/user_key" -p "${SSHD_PORT}" \
  -R "127.0.0.1:${SSHND_FWD_PORT}:127.0.0.1:${NGINX_PORT}" "$(whoami)@127.0.0.1" \
  sleep 3600
SSHND_PID="${LAST_PID}"
wait_for 20 "${SSHND_PID}" "the ssh -tt -R forward" \
  http_ok "http://127.0.0.1:${SSHND_FWD_PORT}/small.txt" ||
  { show_logs sshnd sshd; die "ssh -tt -R did not come up"; }

# ---- (d), (e) reference paths: socat ------------------------------------------

# shellcheck source=bench/run_floors.sh
source "${ROOT}/bench/run_floors.sh"

# ---- measurements -----------------------------------------------------------

declare -A URL TUNNEL_PIDS
URL[direct]="http://127.0.0.1:${NGINX_PORT}"
URL[bowden]="http://127.0.0.1:${BOWDEN_PORT}"
URL[guarded]="http://127.0.0.1:${GUARDED_PORT}/static"
URL[ssh]="http://127.0.0.1:${SSH_FWD_PORT}"
URL[sshnd]="http://127.0.0.1:${SSHND_FWD_PORT}"
TUNNEL_PIDS[direct]=""
TUNNEL_PIDS[bowden]="${RELAY_PID} ${AGENT_PID} ${OPEN_PID}"
TUNNEL_PIDS[guarded]="${RELAY_PID} ${AGENT_PID} ${GOPEN_PID}"
# sshd's figure covers both sessions; the idle one costs next to nothing.
TUNNEL_PIDS[ssh]="${SSHD_PID} ${SSH_PID}"
TUNNEL_PIDS[sshnd]="${SSHD_PID} ${SSHND_PID}"
if ((${#FLOORS[@]} > 0)); then
  URL[tls2]="http://127.0.0.1:${D_USER_PORT}"
  URL[e2e]="http://127.0.0.1:${E_USER_PORT}"
  TUNNEL_PIDS[tls2]="${D_USER_PID} ${D_RELAY_PID} ${D_AGENT_PID}"
  TUNNEL_PIDS[e2e]="${E_USER_PID} ${E_RELAY_PID} ${E_AGENT_PID}"
fi
readonly PATHS=(direct bowden guarded ssh sshnd "${FLOORS[@]}")
declare -A R  # results, keyed "path.metric"
NOTES=()
[[ -z "${FLOOR_NOTE}" ]] || NOTES+=("${FLOOR_NOTE}")

# is_floor PATH: whether PATH is one of the socat reference floors.
is_floor() { [[ "$1" == tls2 || "$1" == e2e ]]; }

# settle PATH: for a socat reference path, waits (up to 5 s) until the per-connection
# children have ended and been waited for, so that their CPU time is in
# their parent's figure (cpu_seconds) when the phase is read.
settle() {
  is_floor "$1" || return 0
  local pids=() pid deadline=$((SECONDS + 5))
  read -ra pids <<<"${TUNNEL_PIDS[$1]}"
  for pid in "${pids[@]}"; do
    while [[ -n "$(pgrep -P "${pid}" 2>/dev/null || true)" ]] && ((SECONDS < deadline)); do
      sleep 0.05
    done
  done
}

# download PATH: DOWNLOADS x GET big.bin; R[PATH.dl] = median MiB/s.
download() {
  local p="$1" i line code size speed speeds=()
  for ((i = 1; i <= DOWNLOADS; i++)); do
    line="$(curl -s --noproxy '*' --max-time 300 -o /dev/null \
      -w '%{http_code} %{size_download} %{speed_download}' "${URL[$p]}/big.bin" || true)"
    read -r code size speed <<<"${line}"
    if [[ "${code}" != 200 || "${size}" != "${BIG_BYTES}" ]]; then
      NOTES+=("${p}: download ${i} failed (HTTP '${code}', ${size:-0} of ${BIG_BYTES} bytes)")
      continue
    fi
    speeds+=("$(awk -v s="${speed}" 'BEGIN { printf "%.1f", s / 1048576 }')")
  done
  R[$p.dl_all]="${speeds[*]:-none}"
  if ((${#speeds[@]} > 0)); then
    R[$p.dl]="$(printf '%s\n' "${speeds[@]}" | median_p99 | awk '{ printf "%.1f", $1 }')"
  else
    R[$p.dl]="n/a"
  fi
}

# to_ms VALUE_WITH_UNIT: wrk's 45.00us / 1.23ms / 1.02s / 1.00m -> ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); x = v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); x = v }
    else if (v ~ /s$/) { sub(/s$/, "", v); x = v * 1000 }
    else if (v ~ /m$/) { sub(/m$/, "", v); x = v * 60000 }
    else if (v ~ /h$/) { sub(/h$/, "", v); x = v * 3600000 }
    else { print "n/a"; exit }
    printf "%.3f", x
  }'
}

# run_wrk PATH KEY THREADS CONNECTIONS: R[PATH.KEY_rps|_p50|_p99].
run_wrk() {
  local p="$1" key="$2" threads="$3" conns="$4" f errors
  f="${T}/wrk-${p}-${key}.txt"
  timeout 120 wrk -t"${threads}" -c"${conns}" -d"${WRK_DURATION}" --latency \
    "${URL[$p]}/small.txt" >"${f}" 2>&1 || true
  R[$p.${key}_rps]="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "${f}")"
  R[$p.${key}_p50]="$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "${f}")")"
  R[$p.${key}_p99]="$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "${f}")")"
  [[ -n "${R[$p.${key}_rps]}" ]] || { R[$p.${key}_rps]="n/a"; NOTES+=("${p}: wrk -c${conns} printed no result: $(tr '\n' ' ' <"${f}" | cut -c1-200)"); }
  errors="$(grep -E 'Socket errors|Non-2xx' "${f}" | sed 's/^ *//' | tr '\n' ';' || true)"
  [[ -z "${errors}" ]] || NOTES+=("${p}: wrk -c${conns}: ${errors%;}")
  R[$p.${key}_total]="$(awk '/requests in/ { print $1; exit }' "${f}")"
}

# connects PATH: CONNECTS sequential new-connection GETs of small.txt.
connects() {
  local p="$1" i line code t failed=0 f
  f="${T}/connect-${p}.txt"
  : >"${f}"
  for ((i = 1; i <= CONNECTS; i++)); do
    line="$(curl -s --noproxy '*' --max-time 10 -o /dev/null \
      -w '%{http_code} %{time_total}' "${URL[$p]}/small.txt" || true)"
    read -r code t <<<"${line}"
    if [[ "${code}" == 200 ]]; then
      echo "${t}" >>"${f}"
    else
      failed=$((failed + 1))
    fi
  done
  ((failed == 0)) || NOTES+=("${p}: ${failed} of ${CONNECTS} new-connection requests failed")
  local med p99
  read -r med p99 < <(median_p99 <"${f}" |
    awk '{ printf "%.2f %.2f\n", $1 * 1000, $2 * 1000 }')
  R[$p.conn_p50]="${med}"
  R[$p.conn_p99]="${p99}"
}

# tunnel_rss PATH: VmRSS (KiB) of PATH's tunnel processes, summed.
tunnel_rss() {
  local pids=()
  read -ra pids <<<"${TUNNEL_PIDS[$1]}"
  ((${#pids[@]} > 0)) || { echo 0; return; }
  rss_kib "${pids[@]}"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# per_request CPU0 CPU1 REQUESTS: CPU-µs per request, or n/a.
per_request() {
  awk -v a="$1" -v b="$2" -v n="$3" \
    'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1000 * 1000 / n; else print "n/a" }'
}

# rss_peak_start PATH / rss_peak_stop: samples PATH's tunnel RSS every 0.5 s
# in the background; stop prints the highest sample (KiB).
RSS_SAMPLER_PID=""
rss_peak_start() {
  local p="$1"
  echo 0 >"${T}/rss-peak"
  (
    peak=0
    while :; do
      v="$(tunnel_rss "${p}")"
      if ((v > peak)); then peak="${v}"; echo "${peak}" >"${T}/rss-peak"; fi
      sleep 0.5
    done
  ) &
  RSS_SAMPLER_PID=$!
  PIDS+=("${RSS_SAMPLER_PID}")
}
rss_peak_stop() {
  kill "${RSS_SAMPLER_PID}" 2>/dev/null || true
  wait "${RSS_SAMPLER_PID}" 2>/dev/null || true
  cat "${T}/rss-peak"
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_START=${SECONDS}
for p in "${PATHS[@]}"; do
  say "Measuring ${p}: ${DOWNLOADS} x ${BIG_MIB} MiB download"
  c0="$(tunnel_cpu "${p}")"
  if [[ "${p}" == bowden ]]; then
    b0=("$(cpu_seconds "${OPEN_PID}")" "$(cpu_seconds "${RELAY_PID}")" "$(cpu_seconds "${AGENT_PID}")")
  fi
  download "${p}"
  settle "${p}"
  c1="$(tunnel_cpu "${p}")"
  R[$p.rss_dl]="$(mib "$(tunnel_rss "${p}")")"
  if [[ "${p}" == bowden ]]; then
    b1=("$(cpu_seconds "${OPEN_PID}")" "$(cpu_seconds "${RELAY_PID}")" "$(cpu_seconds "${AGENT_PID}")")
    R[bowden.dl_split]="$(awk -v o0="${b0[0]}" -v r0="${b0[1]}" -v a0="${b0[2]}" \
      -v o1="${b1[0]}" -v r1="${b1[1]}" -v a1="${b1[2]}" 'BEGIN {
        printf "bowden open %.2f s, relay %.2f s, agent %.2f s", o1 - o0, r1 - r0, a1 - a0 }')"
  fi
  R[$p.dl_cpu]="$(awk -v a="${c0}" -v b="${c1}" -v n="${DOWNLOADS}" -v m="${BIG_MIB}" \
    'BEGIN { printf "%.2f", (b - a) / (n * m / 1024) }')"
  say "Measuring ${p}: wrk -t1 -c1 -d${WRK_DURATION}"
  c0="$(tunnel_cpu "${p}")"
  run_wrk "${p}" c1 1 1
  settle "${p}"
  c1="$(tunnel_cpu "${p}")"
  R[$p.c1_cpu]="$(per_request "${c0}" "${c1}" "${R[$p.c1_total]:-0}")"
  if is_floor "${p}"; then
    # socat forks a process and makes a TLS handshake per connection and
    # hop: its c50, new-connection and RSS figures would measure that, not
    # a data path, so the reference paths stop at one connection.
    for k in c50_rps c50_p50 c50_p99 rq_cpu rss_c50 rss_dl conn_p50 conn_p99; do
      R[$p.$k]="—"
    done
  else
    say "Measuring ${p}: wrk -t2 -c50 -d${WRK_DURATION}"
    c0="$(tunnel_cpu "${p}")"
    rss_peak_start "${p}"
    run_wrk "${p}" c50 2 50
    R[$p.rss_c50]="$(mib "$(rss_peak_stop)")"
    c1="$(tunnel_cpu "${p}")"
    R[$p.rq_cpu]="$(per_request "${c0}" "${c1}" "${R[$p.c50_total]:-0}")"
    say "Measuring ${p}: ${CONNECTS} sequential new connections"
    connects "${p}"
  fi
  read -ra pids <<<"${TUNNEL_PIDS[$p]}"
  for pid in "${pids[@]}"; do
    kill -0 "${pid}" 2>/dev/null || NOTES+=("${p}: tunnel process ${pid} died during the run")
  done
done
BENCH_SECONDS=$((SECONDS - BENCH_START))
AGENT_IDLE_END_KIB="$(rss_kib "${AGENT_PID}")"
R[direct.dl_cpu]="—"  # no tunnel processes
R[direct.rq_cpu]="—"
R[direct.c1_cpu]="—"
R[direct.rss_dl]="—"
R[direct.rss_c50]="—"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report -----------------------------------------------------------------

# shellcheck source=bench/run_report.sh
source "${ROOT}/bench/run_report.sh"

report >"${T}/report.md"
mkdir -p "$(dirname "${OUT}")"
cp "${T}/report.md" "${OUT}"
cat "${T}/report.md"
say "Wrote ${OUT}"
