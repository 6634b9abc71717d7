#!/usr/bin/env bash
# Bowden relay scaling benchmark: the relay's CPU and memory against the
# number of idle sessions and of attached agents.
#
#   sessions  idle_sessions.py ─N TCP─► bowden open ══1 mTLS══► bowden-relay
#                                        ◄══1 mTLS══ bowden-agent ─N TCP─► idle_sessions.py
#   agents    bench/attach_load ══N mTLS connections, N Attach streams══► bowden-relay
#
# Part 1 holds 1, 10, 100, 1000, 10000 idle sessions (--sessions) through one
# `bowden open`, one relay and one agent: each session is a TCP connection
# to `bowden open`, a Dial stream on the relay, a Carry stream from the
# agent, and a TCP connection from the agent to a sink that accepts and
# holds it (bench/idle_sessions.py plays both ends). The counts are totals:
# each step opens the sessions it adds and keeps the earlier ones.
# Part 2 attaches 1, 10, 100, 1000, 2000 agents (--agents) to a fresh relay
# from bench/attach_load, one process that plays many idle agents: for each
# a certificate of its own (p-0001, ...), its own channel (TCP and TLS
# connection, the agents' keepalive) and an Attach stream with a real
# agent's hello, at most 100 pending at once (the relay's per-source cap on
# connections that have not authenticated is 256). bowden-agent processes
# cost ~20 MiB of RSS each, which puts 2,000 of them out of reach of one
# machine; bench/reconnect.sh runs 200 real ones.
#
# At each step, once every session (agent) is through, it waits --settle
# seconds and then records the relay's VmRSS, the relay's CPU time spent
# opening the step's sessions (attaching its agents), and the relay's CPU
# over an idle window of --idle seconds (the agents' keepalive pings every
# 10 s fall in it). Per-session (per-agent) memory is (RSS now - RSS with
# none) / count. Part 1 also records the CLI's and the agent's RSS.
#
# Before each step it estimates the memory the step would add (from the
# last step's per-unit growth of every process it started) and stops when
# that would leave less than --keep-free-gib GiB of MemAvailable: the report
# says which step stopped and why. A step that does not complete within
# --step-timeout seconds stops its part, also said in the report.
#
#   bench/scale.sh [--out FILE] [--no-build] [--sessions "1 10 100 1000 10000"]
#                  [--agents "1 10 100 1000 2000"] [--settle 3] [--idle 10]
#                  [--step-timeout 300] [--keep-free-gib 6] [--only sessions|agents]
#
# Prints a markdown report on stdout and writes it to FILE (default
# bench/scale-latest.md). Everything (PKI, state, logs) lives in one
# temporary directory that is deleted at exit; every process the script
# starts is stopped at exit, also on failure. The processes it starts get
# 65536 file descriptors (prlimit; raising the hard limit needs root or
# CAP_SYS_RESOURCE, otherwise they get the caller's hard limit). Only
# 127.0.0.1 is used.
#
# Needs: bazel, python3, util-linux prlimit.
set -euo pipefail

readonly CALLER_PWD="${PWD}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

# ---- options ----------------------------------------------------------------

OUT="${ROOT}/bench/scale-latest.md"
BUILD=1
SESSION_STEPS="1 10 100 1000 10000"
AGENT_STEPS="1 10 100 1000 2000"
SETTLE=3
IDLE=10
STEP_TIMEOUT=300
KEEP_FREE_GIB=6
ONLY=""

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while (($# > 0)); do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    --no-build) BUILD=0; shift ;;
    --sessions) SESSION_STEPS="$2"; shift 2 ;;
    --agents) AGENT_STEPS="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --idle) IDLE="$2"; shift 2 ;;
    --step-timeout) STEP_TIMEOUT="$2"; shift 2 ;;
    --keep-free-gib) KEEP_FREE_GIB="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "scale: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "${OUT}" == /* ]] || OUT="${CALLER_PWD}/${OUT}"
for n in ${SESSION_STEPS} ${AGENT_STEPS} "${SETTLE}" "${IDLE}" "${STEP_TIMEOUT}" "${KEEP_FREE_GIB}"; do
  [[ "${n}" =~ ^[0-9]+$ ]] || { echo "scale: '${n}' is not a count" >&2; exit 2; }
done
for n in ${AGENT_STEPS}; do
  ((n <= 9999)) || { echo "scale: at most 9999 agents (printer ids p-0001 … p-9999)" >&2; exit 2; }
done
case "${ONLY}" in
  "" | sessions | agents) ;;
  *) echo "scale: --only takes sessions or agents, not '${ONLY}'" >&2; exit 2 ;;
esac

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'scale: %s\n' "$*" >&2
  exit 1
}

for tool in python3 prlimit; do
  command -v "${tool}" >/dev/null || die "'${tool}' is not installed (apt-get install python3 util-linux)"
done

# ---- build ------------------------------------------------------------------

build_binaries "${BUILD}" //bench:attach_load
readonly RELAY_BIN="${ROOT}/bazel-bin/relay/bowden-relay"
readonly AGENT_BIN="${ROOT}/bazel-bin/agent/bowden-agent"
readonly CLI_BIN="${ROOT}/bazel-bin/cli/bowden"
readonly LOAD_BIN="${ROOT}/bazel-bin/bench/attach_load"
require_binaries "${RELAY_BIN}" "${AGENT_BIN}" "${CLI_BIN}" "${LOAD_BIN}"

# ---- workspace and cleanup --------------------------------------------------

umask 077
T="$(mktemp -d -t bowden-scale.XXXXXX)"
readonly T
PIDS=()
HOLDER_PID=""
LOAD_PID=""

# Stops only what this script started, newest first, then deletes the
# workspace.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [[ -z "${HOLDER_PID}" ]] || exec 7>&-
  [[ -z "${LOAD_PID}" ]] || exec 8>&-
  stop_started 10
  rm -rf "${T}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The file-descriptor limit for the processes this script starts.
FD_LIMIT=65536
if ! prlimit --nofile="${FD_LIMIT}:${FD_LIMIT}" true 2>/dev/null; then
  FD_LIMIT="$(ulimit -Hn)"
fi
# A command prefix; prlimit execs the command, so its PID is the program's.
MANY_FDS=(prlimit "--nofile=${FD_LIMIT}:${FD_LIMIT}" --)

mem_available_kib() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }

kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# per_unit NOW BASE COUNT: (NOW - BASE) / COUNT, one decimal.
per_unit() {
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else print "n/a" }'
}

# The relay's idle CPU: CPU-ms per second over IDLE seconds.
idle_cpu_ms_per_s() {
  local c0 c1
  c0="$(cpu_seconds "$1")"
  sleep "${IDLE}"
  c1="$(cpu_seconds "$1")"
  awk -v a="${c0}" -v b="${c1}" -v s="${IDLE}" 'BEGIN { printf "%.1f", (b - a) * 1000 / s }'
}

# fits GROWTH_KIB: is there room for GROWTH_KIB more, keeping KEEP_FREE_GIB?
fits() {
  (($(mem_available_kib) - $1 > KEEP_FREE_GIB * 1048576))
}

# ---- PKI --------------------------------------------------------------------

say "Workspace ${T}"
say "Minting a throw-away PKI"
PKI="${T}/pki"
{
  "${CLI_BIN}" ca init --dir "${PKI}" --trust-domain scale.test
  "${CLI_BIN}" ca issue --dir "${PKI}" relay relay --ip 127.0.0.1 --dns localhost
  "${CLI_BIN}" ca issue --dir "${PKI}" user alice
  "${CLI_BIN}" ca issue --dir "${PKI}" agent prusa-01
} >"${T}/pki.log" 2>&1 || { tail -n 20 "${T}/pki.log" >&2; die "bowden ca failed"; }

# start_relay NAME: a relay on a free port; sets RELAY_PID, RELAY_PORT.
start_relay() {
  local name="$1" deadline=$((SECONDS + 30))
  RELAY_PORT="$(free_port)"
  start "${name}" "${MANY_FDS[@]}" "${RELAY_BIN}" --listen "127.0.0.1:${RELAY_PORT}" \
    --cert "${PKI}/relay.crt" --key "${PKI}/relay.key" --ca "${PKI}/ca.crt" \
    --state-dir "${T}/state-${name}" --allow 'alice=*' --max-sessions-per-user 100000
  RELAY_PID="${LAST_PID}"
  until grep -q 'listening on port' "${T}/${name}.out" 2>/dev/null; do
    kill -0 "${RELAY_PID}" 2>/dev/null || { show_logs "${name}"; die "the relay exited"; }
    ((SECONDS < deadline)) || { show_logs "${name}"; die "the relay did not listen within 30 s"; }
    sleep 0.05
  done
}

SESSION_ROWS=()
AGENT_ROWS=()
NOTES=()
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_START=${SECONDS}

# ---- part 1: idle sessions --------------------------------------------------

run_sessions() {
  say "Part 1: idle sessions"
  start_relay relay-sessions
  # The holder starts first: the agent's target is its sink.
  local sink_port open_port
  # The agent needs the sink's port before `bowden open` runs, and the
  # holder needs `bowden open`'s port: pick that one up front.
  open_port="$(free_port)"
  # The holder reads its steps from a FIFO this script keeps open on fd 7.
  mkfifo "${T}/holder.in"
  "${MANY_FDS[@]}" python3 "${ROOT}/bench/idle_sessions.py" --connect "${open_port}" \
    --sink-port-file "${T}/sink.port" --deadline "${STEP_TIMEOUT}" \
    <"${T}/holder.in" >"${T}/holder.out" 2>"${T}/holder.err" &
  HOLDER_PID=$!
  PIDS+=("${HOLDER_PID}")
  exec 7>"${T}/holder.in"
  local deadline=$((SECONDS + 20))
  until [[ -s "${T}/sink.port" ]]; do
    kill -0 "${HOLDER_PID}" 2>/dev/null || { show_logs holder; die "idle_sessions.py exited"; }
    ((SECONDS < deadline)) || die "idle_sessions.py did not listen"
    sleep 0.05
  done
  sink_port="$(cat "${T}/sink.port")"

  start agent "${MANY_FDS[@]}" "${AGENT_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
    --cert "${PKI}/prusa-01.crt" --key "${PKI}/prusa-01.key" --ca "${PKI}/ca.crt" \
    --target "octoprint=127.0.0.1:${sink_port},guard=none"
  local agent_pid="${LAST_PID}"
  deadline=$((SECONDS + 30))
  until grep -q 'attached as printer' "${T}/agent.err" 2>/dev/null; do
    kill -0 "${agent_pid}" 2>/dev/null || { show_logs agent; die "the agent exited"; }
    ((SECONDS < deadline)) || { show_logs agent relay-sessions; die "the agent did not attach"; }
    sleep 0.05
  done
  start open "${MANY_FDS[@]}" "${CLI_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
    --cert "${PKI}/alice.crt" --key "${PKI}/alice.key" --ca "${PKI}/ca.crt" \
    open prusa-01 --target octoprint --no-browser --listen "127.0.0.1:${open_port}"
  local open_pid="${LAST_PID}"
  deadline=$((SECONDS + 30))
  until grep -q 'Forwarding http://127.0.0.1:' "${T}/open.out" 2>/dev/null; do
    kill -0 "${open_pid}" 2>/dev/null || { show_logs open; die "bowden open exited"; }
    ((SECONDS < deadline)) || { show_logs open; die "bowden open did not start"; }
    sleep 0.05
  done
  sleep "${SETTLE}"
  local base_relay base_agent base_open base_holder
  base_relay="$(rss_kib "${RELAY_PID}")"
  base_agent="$(rss_kib "${agent_pid}")"
  base_open="$(rss_kib "${open_pid}")"
  base_holder="$(rss_kib "${HOLDER_PID}")"
  SESSION_ROWS+=("| 0 | $(kib_to_mib "${base_relay}") | — | — | $(idle_cpu_ms_per_s "${RELAY_PID}") | $(kib_to_mib "${base_open}") | — | $(kib_to_mib "${base_agent}") | — |")
  local n prev=0 per_all=0 c0 c1 held accepted relay agent open holder growth steps=0 pid
  for n in ${SESSION_STEPS}; do
    ((n > prev)) || continue
    growth=$(((n - prev) * per_all))
    if ! fits "${growth}"; then
      NOTES+=("sessions: stopped before ${n}: the step would add about $((growth / 1024)) MiB (at $((per_all)) KiB per session in all processes, from the last step) and leave less than ${KEEP_FREE_GIB} GiB available.")
      break
    fi
    say "  ${n} idle sessions"
    c0="$(cpu_seconds "${RELAY_PID}")"
    echo "${n}" >&7
    steps=$((steps + 1))
    deadline=$((SECONDS + STEP_TIMEOUT + 30))
    until (($(wc -l <"${T}/holder.out") >= steps)); do
      kill -0 "${HOLDER_PID}" 2>/dev/null || { show_logs holder; die "idle_sessions.py exited"; }
      ((SECONDS < deadline)) || die "idle_sessions.py did not answer for ${n} sessions"
      sleep 0.2
    done
    read -r _ held _ accepted < <(tail -n 1 "${T}/holder.out")
    c1="$(cpu_seconds "${RELAY_PID}")"
    for pid in "${RELAY_PID}" "${agent_pid}" "${open_pid}"; do
      kill -0 "${pid}" 2>/dev/null || { NOTES+=("sessions: a tunnel process died at ${n} sessions"); break 2; }
    done
    if ((accepted < n)); then
      NOTES+=("sessions: only ${accepted} of ${n} sessions reached the target within ${STEP_TIMEOUT} s (${held} client connections open); stopped there.")
      break
    fi
    sleep "${SETTLE}"
    relay="$(rss_kib "${RELAY_PID}")"
    agent="$(rss_kib "${agent_pid}")"
    open="$(rss_kib "${open_pid}")"
    holder="$(rss_kib "${HOLDER_PID}")"
    SESSION_ROWS+=("| ${n} | $(kib_to_mib "${relay}") | $(per_unit "${relay}" "${base_relay}" "${n}") | $(per_unit "$(awk -v a="${c0}" -v b="${c1}" 'BEGIN { print (b - a) * 1000000 }')" 0 "$((n - prev))") | $(idle_cpu_ms_per_s "${RELAY_PID}") | $(kib_to_mib "${open}") | $(per_unit "${open}" "${base_open}" "${n}") | $(kib_to_mib "${agent}") | $(per_unit "${agent}" "${base_agent}" "${n}") |")
    per_all=$(((relay + agent + open + holder - base_relay - base_agent - base_open - base_holder) / n + 1))
    prev=${n}
  done
  SESSIONS_REACHED=${prev}
  SESSIONS_RELAY_PER="$(per_unit "${relay:-0}" "${base_relay}" "${prev}")"
}

# ---- part 2: attached agents ------------------------------------------------

run_agents() {
  say "Part 2: attached agents (bench/attach_load: one connection and certificate each)"
  start_relay relay-agents
  local base_relay base_load n prev=0 c0 c1 relay load per_all=0 growth steps=0 attached failed
  local deadline
  mkfifo "${T}/load.in"
  "${MANY_FDS[@]}" "${LOAD_BIN}" --relay "127.0.0.1:${RELAY_PORT}" --pki "${PKI}" \
    --deadline "${STEP_TIMEOUT}s" <"${T}/load.in" >"${T}/load.out" 2>"${T}/load.err" &
  LOAD_PID=$!
  PIDS+=("${LOAD_PID}")
  exec 8>"${T}/load.in"
  sleep "${SETTLE}"
  base_relay="$(rss_kib "${RELAY_PID}")"
  base_load="$(rss_kib "${LOAD_PID}")"
  AGENT_ROWS+=("| 0 | $(kib_to_mib "${base_relay}") | — | — | $(idle_cpu_ms_per_s "${RELAY_PID}") |")
  for n in ${AGENT_STEPS}; do
    ((n > prev)) || continue
    growth=$(((n - prev) * per_all))
    if ! fits "${growth}"; then
      NOTES+=("agents: stopped before ${n}: the step would add about $((growth / 1024)) MiB (at ${per_all} KiB per agent in the relay and attach_load, from the last step) and leave less than ${KEEP_FREE_GIB} GiB available.")
      break
    fi
    say "  ${n} attached agents"
    c0="$(cpu_seconds "${RELAY_PID}")"
    echo "${n}" >&8
    steps=$((steps + 1))
    deadline=$((SECONDS + STEP_TIMEOUT + 30))
    until (($(wc -l <"${T}/load.out") >= steps)); do
      kill -0 "${LOAD_PID}" 2>/dev/null || { show_logs load; die "attach_load exited"; }
      kill -0 "${RELAY_PID}" 2>/dev/null || { show_logs relay-agents; die "the relay exited"; }
      ((SECONDS < deadline)) || die "attach_load did not answer for ${n} agents"
      sleep 0.2
    done
    read -r _ attached _ failed < <(tail -n 1 "${T}/load.out")
    c1="$(cpu_seconds "${RELAY_PID}")"
    if ((attached < n)); then
      NOTES+=("agents: only ${attached} of ${n} agents attached within ${STEP_TIMEOUT} s (${failed} Attach calls failed: $(grep -m1 'Attach ended' "${T}/load.err" | sed 's/.*] //' || true)); stopped there.")
      break
    fi
    sleep "${SETTLE}"
    relay="$(rss_kib "${RELAY_PID}")"
    load="$(rss_kib "${LOAD_PID}")"
    AGENT_ROWS+=("| ${n} | $(kib_to_mib "${relay}") | $(per_unit "${relay}" "${base_relay}" "${n}") | $(per_unit "$(awk -v a="${c0}" -v b="${c1}" 'BEGIN { print (b - a) * 1000000 }')" 0 "$((n - prev))") | $(idle_cpu_ms_per_s "${RELAY_PID}") |")
    per_all=$(((relay + load - base_relay - base_load) / n + 1))
    prev=${n}
  done
  AGENTS_REACHED=${prev}
  AGENTS_RELAY_PER="$(per_unit "${relay:-0}" "${base_relay}" "${prev}")"
}

SESSIONS_REACHED=0
AGENTS_REACHED=0
SESSIONS_RELAY_PER="n/a"
AGENTS_RELAY_PER="n/a"
[[ "${ONLY}" == agents ]] || run_sessions
[[ "${ONLY}" == sessions ]] || run_agents
BENCH_SECONDS=$((SECONDS - BENCH_START))
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report -----------------------------------------------------------------

# verdict REACHED WANTED PER_KIB: the goal "under 64 KiB per unit at WANTED".
verdict() {
  if [[ "$3" == n/a ]]; then
    echo "n/a"
  elif (($1 < $2)); then
    awk -v p="$3" -v r="$1" -v w="$2" 'BEGIN {
      printf "%s at %d (goal is at %d: not measured there)", (p < 64 ? "met" : "**not met**"), r, w }'
  else
    awk -v p="$3" 'BEGIN { print (p < 64 ? "met" : "**not met**") }'
  fi
}

CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
GIT_REV="$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "${ROOT}" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  GIT_REV="${GIT_REV} (work tree has uncommitted changes)"
fi

report() {
  cat <<EOF
## Relay scaling

- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); git ${GIT_REV}
- Machine: $(nproc) CPUs, ${CPU_MODEL:-unknown CPU}, $(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo); processes started with ${FD_LIMIT} file descriptors
- Load average before / after: ${LOAD_BEFORE} / ${LOAD_AFTER}; took ${BENCH_SECONDS} s.
  The machine is shared: the CPU figures are whole-process CPU time, only ratios and growth count.

### Idle sessions (one \`bowden open\`, one relay, one agent)

| sessions | relay RSS (MiB) | relay KiB per session | relay CPU-µs to open one | relay idle CPU (ms/s) | CLI RSS (MiB) | CLI KiB per session | agent RSS (MiB) | agent KiB per session |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${SESSION_ROWS[@]}")

### Attached agents (one connection, certificate and Attach stream each, from \`bench/attach_load\`)

| agents | relay RSS (MiB) | relay KiB per agent | relay CPU-µs to attach one | relay idle CPU (ms/s) |
|---:|---:|---:|---:|---:|
$(printf '%s\n' "${AGENT_ROWS[@]}")

### Against the goals

| goal | measured | verdict |
|---|---:|---|
| relay under 64 KiB per idle session at 10,000 sessions | ${SESSIONS_RELAY_PER} KiB at ${SESSIONS_REACHED} | $(verdict "${SESSIONS_REACHED}" 10000 "${SESSIONS_RELAY_PER}") |
| relay under 64 KiB per attached agent at 2,000 agents | ${AGENTS_RELAY_PER} KiB at ${AGENTS_REACHED} | $(verdict "${AGENTS_REACHED}" 2000 "${AGENTS_RELAY_PER}") |

Per-unit memory is (VmRSS at the step - VmRSS with none) / count, after ${SETTLE} s of
settling; "CPU to open one" is the relay's CPU time during the step divided by the
sessions (agents) the step added; idle CPU is the relay's over ${IDLE} s with everything open.
EOF
  if ((${#NOTES[@]} > 0)); then
    echo
    printf -- '- %s\n' "${NOTES[@]}"
  fi
}

report >"${T}/report.md"
mkdir -p "$(dirname "${OUT}")"
cp "${T}/report.md" "${OUT}"
cat "${T}/report.md"
say "Wrote ${OUT}"
