#!/usr/bin/env bash
# Bowden reconnection benchmark: how long a farm of agents takes to come back
# after its relay was away.
#
#   N × bowden-agent (p-001 … p-N) ══mTLS══► bowden-relay (127.0.0.1:PORT)
#
# It starts one relay and N agents (each with one target on a closed local
# port: no session is opened, only the Attach streams matter), waits until
# all N are attached, then runs two faults in turn:
#
#   outage  the relay is killed (SIGKILL) and, after --outage seconds,
#           started again on the same port with the same state directory;
#   freeze  the relay is stopped (SIGSTOP) for --freeze seconds, then
#           continued (SIGCONT); the agents' keepalive (10 s ping, 10 s
#           timeout) drops their connections while it is frozen.
#
# For each it measures, from the moment the relay is back (listening again,
# or continued), until each agent's first successful Attach as the relay logs
# it ("agent p-… attached from"): the time until half and until all N are
# back, and p90. It also reports, from the agents' logs, when each agent made
# its first attempt after the relay was back, the longest backoff any agent
# chose, the peak rate of Attach attempts, the relay's refusals (its accept
# gate's per-source cap, and ALREADY_EXISTS for a printer whose old stream
# the relay still held), and the relay's CPU time.
#
#   bench/reconnect.sh [--out FILE] [--no-build] [--agents 200]
#                      [--outage 40] [--freeze 60] [--only outage|freeze]
#                      [--settle 120] [--agent-bin PATH] [--label TEXT]
#                      [--relay-arg ARG]... [--keep-logs DIR]
#
# --agent-bin runs another agent binary (e.g. one built from an older commit)
# against this tree's relay. --relay-arg passes one more flag to the relay,
# e.g. --relay-arg=--max-unauthenticated-per-source=512. --settle bounds the
# wait for the agents to come back after each fault (and for the first
# attachment of all N). --keep-logs copies the relay's and the agents' logs
# (no keys) to DIR before the workspace is deleted.
#
# Prints a markdown report on stdout and writes it to FILE (default
# bench/reconnect-latest.md). Everything (PKI, state, logs) lives in one
# temporary directory that is deleted at exit; every process the script
# starts is stopped at exit, also on failure. Only 127.0.0.1 is used.
#
# Needs: bazel, python3.
set -euo pipefail

readonly CALLER_PWD="${PWD}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

# ---- options ----------------------------------------------------------------

OUT="${ROOT}/bench/reconnect-latest.md"
BUILD=1
AGENTS=200
OUTAGE=40
FREEZE=60
ONLY=""
SETTLE=120
AGENT_BIN=""
LABEL=""
RELAY_ARGS=()
KEEP_LOGS=""

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while (($# > 0)); do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    --no-build) BUILD=0; shift ;;
    --agents) AGENTS="$2"; shift 2 ;;
    --outage) OUTAGE="$2"; shift 2 ;;
    --freeze) FREEZE="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --agent-bin) AGENT_BIN="$2"; shift 2 ;;
    --label) LABEL="$2"; shift 2 ;;
    --relay-arg) RELAY_ARGS+=("$2"); shift 2 ;;
    --relay-arg=*) RELAY_ARGS+=("${1#*=}"); shift ;;
    --keep-logs) KEEP_LOGS="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "reconnect: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "${OUT}" == /* ]] || OUT="${CALLER_PWD}/${OUT}"
for n in "${AGENTS}" "${OUTAGE}" "${FREEZE}" "${SETTLE}"; do
  [[ "${n}" =~ ^[1-9][0-9]*$ ]] || { echo "reconnect: '${n}' is not a positive count" >&2; exit 2; }
done
((AGENTS <= 999)) || { echo "reconnect: --agents is at most 999 (printer ids p-001 … p-999)" >&2; exit 2; }
# A shorter freeze may end before the agents' keepalive notices it, and then
# nobody has anything to come back from.
((FREEZE >= 30)) || { echo "reconnect: --freeze must be at least 30 (the agents notice a frozen relay after 10-20 s)" >&2; exit 2; }
case "${ONLY}" in
  "" | outage | freeze) ;;
  *) echo "reconnect: --only takes outage or freeze, not '${ONLY}'" >&2; exit 2 ;;
esac
if [[ -n "${AGENT_BIN}" && "${AGENT_BIN}" != /* ]]; then AGENT_BIN="${CALLER_PWD}/${AGENT_BIN}"; fi
if [[ -n "${KEEP_LOGS}" && "${KEEP_LOGS}" != /* ]]; then KEEP_LOGS="${CALLER_PWD}/${KEEP_LOGS}"; fi

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'reconnect: %s\n' "$*" >&2
  exit 1
}

command -v python3 >/dev/null || die "'python3' is not installed (apt-get install python3)"

# ---- build ------------------------------------------------------------------

build_binaries "${BUILD}"
readonly RELAY_BIN="${ROOT}/bazel-bin/relay/bowden-relay"
[[ -n "${AGENT_BIN}" ]] || AGENT_BIN="${ROOT}/bazel-bin/agent/bowden-agent"
readonly AGENT_BIN
readonly CLI_BIN="${ROOT}/bazel-bin/cli/bowden"
require_binaries "${RELAY_BIN}" "${AGENT_BIN}" "${CLI_BIN}"

# ---- workspace and cleanup --------------------------------------------------

umask 077
T="$(mktemp -d -t bowden-reconnect.XXXXXX)"
readonly T
PIDS=()
SLEEP_PID=""

# pause SECONDS: sleeps in the background and waits for it, so that a signal
# stops the script at once (bash runs traps only between foreground commands).
pause() {
  sleep "$1" &
  SLEEP_PID=$!
  wait "${SLEEP_PID}"
  SLEEP_PID=""
}

# Stops only what this script started, newest first (a frozen relay is
# continued first, so it can take its SIGTERM), then deletes the workspace.
cleanup() {
  local status=$? i pid deadline
  trap - EXIT INT TERM
  [[ -z "${SLEEP_PID}" ]] || kill "${SLEEP_PID}" 2>/dev/null || true
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -CONT "${PIDS[i]}" 2>/dev/null || true
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  deadline=$((SECONDS + 10))
  for pid in "${PIDS[@]}"; do
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.05
    done
    kill -KILL "${pid}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "${pid}" 2>/dev/null || true
  done
  if [[ -n "${KEEP_LOGS}" ]]; then
    mkdir -p "${KEEP_LOGS}/agents"
    cp "${T}"/relay-*.err "${T}"/relay-*.out "${KEEP_LOGS}/" 2>/dev/null || true
    cp "${T}"/agents/*.err "${KEEP_LOGS}/agents/" 2>/dev/null || true
  fi
  rm -rf "${T}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



now() { date +%s.%N; }



# attached_since FILE LINE: how many distinct printers the relay log FILE
# reports attached after its first LINE lines.
attached_since() {
  tail -n "+$(($2 + 1))" "$1" | { grep -o "agent p-[0-9]* attached from" || true; } | sort -u | wc -l
}

# ---- PKI --------------------------------------------------------------------

say "Workspace ${T}"
say "Minting a throw-away PKI with ${AGENTS} agent certificates"
PKI="${T}/pki"
{
  "${CLI_BIN}" ca init --dir "${PKI}" --trust-domain reconnect.test
  "${CLI_BIN}" ca issue --dir "${PKI}" relay relay --ip 127.0.0.1 --dns localhost
  "${CLI_BIN}" ca issue --dir "${PKI}" user alice
  for ((i = 1; i <= AGENTS; i++)); do
    "${CLI_BIN}" ca issue --dir "${PKI}" agent "$(printf 'p-%03d' "${i}")"
  done
} >"${T}/pki.log" 2>&1 || { tail -n 20 "${T}/pki.log" >&2; die "bowden ca failed"; }

# ---- relay and agents -------------------------------------------------------

RELAY_PORT="$(free_port)"
# Nothing listens here: the agents' target is never dialled in this run.
CLOSED_PORT="$(free_port)"
RELAY_RUNS=0

# start_relay: starts the relay on RELAY_PORT as process relay-K (K counts
# the starts) and waits until it listens; sets RELAY_PID, RELAY_LOG and
# RELAY_UP_AT (when its "listening" line was seen, polled every 20 ms).
start_relay() {
  RELAY_RUNS=$((RELAY_RUNS + 1))
  local name="relay-${RELAY_RUNS}" deadline=$((SECONDS + 30))
  start "${name}" "${RELAY_BIN}" --listen "127.0.0.1:${RELAY_PORT}" \
    --cert "${PKI}/relay.crt" --key "${PKI}/relay.key" --ca "${PKI}/ca.crt" \
    --state-dir "${T}/state" --allow 'alice=*' "${RELAY_ARGS[@]}"
  RELAY_PID="${LAST_PID}"
  RELAY_LOG="${T}/${name}.err"
  until grep -q 'listening on port' "${T}/${name}.out" 2>/dev/null; do
    kill -0 "${RELAY_PID}" 2>/dev/null || { show_logs "${name}"; die "the relay exited"; }
    ((SECONDS < deadline)) || { show_logs "${name}"; die "the relay did not listen within 30 s"; }
    sleep 0.02
  done
  RELAY_UP_AT="$(now)"
}

say "Starting bowden-relay on 127.0.0.1:${RELAY_PORT}"
start_relay

say "Starting ${AGENTS} agents ($(basename "${AGENT_BIN}") at ${AGENT_BIN})"
mkdir -p "${T}/agents"
for ((i = 1; i <= AGENTS; i++)); do
  id="$(printf 'p-%03d' "${i}")"
  start "agents/${id}" "${AGENT_BIN}" --relay "127.0.0.1:${RELAY_PORT}" \
    --cert "${PKI}/${id}.crt" --key "${PKI}/${id}.key" --ca "${PKI}/ca.crt" \
    --target "octoprint=127.0.0.1:${CLOSED_PORT},guard=none"
done
STARTED_AT="$(now)"
deadline=$((SECONDS + SETTLE))
until (($(attached_since "${RELAY_LOG}" 0) >= AGENTS)); do
  ((SECONDS < deadline)) || {
    show_logs relay-1 agents/p-001
    die "only $(attached_since "${RELAY_LOG}" 0) of ${AGENTS} agents attached within ${SETTLE} s"
  }
  sleep 0.5
done
FIRST_ATTACH_S="$(awk -v a="${STARTED_AT}" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
say "All ${AGENTS} agents attached (${FIRST_ATTACH_S} s after the last one started)"

# A cross-check with the real CLI: the relay lists every printer online.
ONLINE="$("${CLI_BIN}" --relay "127.0.0.1:${RELAY_PORT}" --cert "${PKI}/alice.crt" \
  --key "${PKI}/alice.key" --ca "${PKI}/ca.crt" ls 2>"${T}/ls.err" | grep -c ' online ' || true)"
((ONLINE == AGENTS)) || { cat "${T}/ls.err" >&2; die "bowden ls shows ${ONLINE} of ${AGENTS} printers online"; }

# wait_back LOG LINE: waits (polling every 0.25 s, at most SETTLE s) until
# every agent has attached in the relay log LOG after its first LINE lines;
# sets BACK (how many did) and SETTLED_AT.
wait_back() {
  local deadline=$((SECONDS + SETTLE))
  BACK=0
  while :; do
    BACK="$(attached_since "$1" "$2")"
    ((BACK < AGENTS && SECONDS < deadline)) || break
    sleep 0.25
  done
  SETTLED_AT="$(now)"
}

# analyse SCENARIO FAULT_AT BACK_AT END_AT RELAY_LOG: one markdown table row
# (and key=value lines on fd 3 for the summary) from the relay's and agents'
# logs. glog stamps lines with local wall time (YYYYMMDD HH:MM:SS.micro).
analyse() {
  python3 - "$@" "${T}/agents" "${AGENTS}" <<'EOF'
import datetime, glob, math, os, re, sys
scenario, fault_at, back_at, end_at, relay_log, agents_dir, n = sys.argv[1:]
fault_at, back_at, end_at, n = float(fault_at), float(back_at), float(end_at), int(n)
stamp = re.compile(r'^[IWEF](\d{8} \d\d:\d\d:\d\d\.\d+) ')
def when(line):
    m = stamp.match(line)
    if not m:
        return None
    return datetime.datetime.strptime(m.group(1), '%Y%m%d %H:%M:%S.%f').timestamp()
def seconds(text):  # absl::FormatDuration: 1m2.5s, 812.3ms, 9.6s, 250us
    total = 0.0
    for value, unit in re.findall(r'([\d.]+)(h|ms|us|ns|m|s)', text):
        total += float(value) * {'h': 3600, 'm': 60, 's': 1, 'ms': 1e-3, 'us': 1e-6, 'ns': 1e-9}[unit]
    return total
back = {}
refused_exists = 0
# The relay logs its running count of refusals at most every 10 s: the last
# count logged before the relay was back is subtracted, so a few refusals of
# the previous 10 s may be counted here.
gate_before = gate_after = 0
with open(relay_log, errors='replace') as f:
    for line in f:
        t = when(line)
        if t is None:
            continue
        m = re.search(r'refused a connection from .*\((\d+) refused so far\)', line)
        if m and t < back_at:
            gate_before = max(gate_before, int(m.group(1)))
        if t < back_at - 0.001 or t > end_at:
            continue
        if m:
            gate_after = max(gate_after, int(m.group(1)))
        m = re.search(r'agent (p-\d+) attached from', line)
        if m and m.group(1) not in back:
            back[m.group(1)] = t - back_at
        if re.search(r'agent p-\d+ from .* refused:', line):
            refused_exists += 1
gate_refused = max(gate_after - gate_before, 0)
first_try = []
attempts = {}
longest_backoff = 0.0
failed = 0
for path in glob.glob(os.path.join(agents_dir, 'p-*.err')):
    seen_first = False
    with open(path, errors='replace') as f:
        for line in f:
            t = when(line)
            if t is None or t < fault_at or t > end_at:
                continue
            if line.rstrip().endswith(': connecting'):
                second = int(t - back_at) if t >= back_at else None
                if second is not None:
                    attempts[second] = attempts.get(second, 0) + 1
                if t >= back_at and not seen_first:
                    seen_first = True
                    first_try.append(t - back_at)
            m = re.search(r'; backing off (\S+):', line)
            if m:
                longest_backoff = max(longest_backoff, seconds(m.group(1)))
                if t >= back_at and 'could not attach' in line:
                    failed += 1
times = sorted(back.values())
def rank(q):  # nearest rank over all n; None if not that many came back
    k = max(math.ceil(q * n), 1)
    return times[k - 1] if k <= len(times) else None
def fmt(v):
    return '>%.0f' % (end_at - back_at) if v is None else '%.1f' % v
half, p90, full = rank(0.5), rank(0.9), rank(1.0)
first_max = max(first_try) if first_try else float('nan')
peak = max(attempts.values()) if attempts else 0
print('| %s | %d/%d | %s | %s | %s | %.1f | %.1f | %d | %d | %d | %d |' % (
    scenario, len(times), n, fmt(half), fmt(p90), fmt(full), first_max,
    longest_backoff, peak, failed, gate_refused, refused_exists))
EOF
}

ROWS=()
REVISION="$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git -C "${ROOT}" diff --quiet HEAD -- agent relay transport ':(exclude)*.md' 2>/dev/null; then
  REVISION="${REVISION}+local changes"
fi

# ---- outage: SIGKILL, restart after OUTAGE s ----------------------------------

if [[ -z "${ONLY}" || "${ONLY}" == outage ]]; then
  say "Outage: killing the relay (SIGKILL) for ${OUTAGE} s"
  FAULT_AT="$(now)"
  kill -KILL "${RELAY_PID}"
  wait "${RELAY_PID}" 2>/dev/null || true
  pause "${OUTAGE}"
  say "Restarting the relay on the same port with the same state directory"
  start_relay
  BACK_AT="${RELAY_UP_AT}"
  wait_back "${RELAY_LOG}" 0
  RELAY_CPU="$(cpu_seconds "${RELAY_PID}")"
  say "  ${BACK} of ${AGENTS} back; relay CPU since its restart ${RELAY_CPU} s"
  ROWS+=("$(analyse "relay killed, back after ${OUTAGE} s" "${FAULT_AT}" "${BACK_AT}" \
    "${SETTLED_AT}" "${RELAY_LOG}") ${RELAY_CPU} |")
  ((BACK == AGENTS)) || show_logs "relay-${RELAY_RUNS}"
fi

# ---- freeze: SIGSTOP for FREEZE s, then SIGCONT -------------------------------

if [[ -z "${ONLY}" || "${ONLY}" == freeze ]]; then
  if (($(attached_since "${RELAY_LOG}" 0) < AGENTS)); then
    die "not every agent is attached, so the freeze would measure nothing"
  fi
  say "Freeze: stopping the relay (SIGSTOP) for ${FREEZE} s"
  CPU_BEFORE="$(cpu_seconds "${RELAY_PID}")"
  FAULT_AT="$(now)"
  kill -STOP "${RELAY_PID}"
  # Nothing is logged while it is stopped: what comes after this line is new.
  LINES_BEFORE="$(wc -l <"${RELAY_LOG}")"
  pause "${FREEZE}"
  BACK_AT="$(now)"
  kill -CONT "${RELAY_PID}"
  wait_back "${RELAY_LOG}" "${LINES_BEFORE}"
  RELAY_CPU="$(awk -v a="${CPU_BEFORE}" -v b="$(cpu_seconds "${RELAY_PID}")" 'BEGIN { printf "%.2f", b - a }')"
  say "  ${BACK} of ${AGENTS} back; relay CPU since SIGSTOP ${RELAY_CPU} s"
  ROWS+=("$(analyse "relay frozen ${FREEZE} s" "${FAULT_AT}" "${BACK_AT}" \
    "${SETTLED_AT}" "${RELAY_LOG}") ${RELAY_CPU} |")
fi

# ---- report -----------------------------------------------------------------

REPORT="${T}/report.md"
{
  echo "# Bowden reconnection after an outage: ${AGENTS} agents"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), git ${REVISION}, $(nproc) CPU(s), $(uname -sr)."
  echo "Agent binary: \`${AGENT_BIN#"${ROOT}/"}\`${LABEL:+ (${LABEL})}."
  if ((${#RELAY_ARGS[@]} > 0)); then
    echo "Relay flags added: \`${RELAY_ARGS[*]}\`."
  fi
  echo "All ${AGENTS} agents first attached ${FIRST_ATTACH_S} s after the last one was started."
  echo
  echo "Seconds from the moment the relay is back (listening again, or continued) until each"
  echo "agent is attached again, as the relay logs it; \"first try\" is the latest, over all"
  echo "agents, of each agent's first Attach attempt after that moment. Attempts are the"
  echo "agents' Attach calls (gRPC may open more TCP connections than that); \"failed"
  echo "attempts\" are those after the relay was back. The accept gate refuses a connection"
  echo "when its source address already has that many connections without a call (256 by"
  echo "default): here every agent connects from 127.0.0.1."
  echo
  echo "| fault | back | half back (s) | p90 (s) | all back (s) | first try, latest (s) | longest backoff (s) | peak attempts/s | failed attempts | refused by accept gate (approx.) | refused ALREADY_EXISTS | relay CPU (s) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  repro="bench/reconnect.sh --agents ${AGENTS} --outage ${OUTAGE} --freeze ${FREEZE}${ONLY:+ --only ${ONLY}}"
  for arg in "${RELAY_ARGS[@]}"; do repro+=" --relay-arg=${arg}"; done
  [[ "${AGENT_BIN}" == "${ROOT}/bazel-bin/agent/bowden-agent" ]] || repro+=" --agent-bin ${AGENT_BIN}"
  echo "Reproduce: \`${repro}\`"
} >"${REPORT}"
mkdir -p "$(dirname "${OUT}")"
cp "${REPORT}" "${OUT}"
cat "${REPORT}"
say "Report written to ${OUT}"
