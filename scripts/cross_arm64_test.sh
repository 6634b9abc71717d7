#!/usr/bin/env bash
# End-to-end check of the arm64 agent: the cross-built bowden-agent runs under
# qemu-aarch64 (as it would on a Raspberry Pi), enrolls with a join token at
# an amd64 bowden-relay on loopback, attaches, and carries a real session:
#
#   stand-in printer (python3 http.server) <- bowden-agent (arm64, qemu)
#     ==mTLS gRPC==> bowden-relay (amd64) <==mTLS gRPC== bowden open <- curl
#
#   scripts/cross_arm64_test.sh        # BOWDEN_ARM64_SYSROOT as cross_arm64.sh
#
# Passes when a page goes through the tunnel unchanged and the agent's guard
# refuses a firmware flash (M997). Prints "PASS" or the logs of the failure.
# Not part of scripts/test.sh: docs/arm64.md says why.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"
# start, wait_for, show_logs, stop_started, http_ok, free_port.
# shellcheck source=bench/lib.sh
source bench/lib.sh

die() {
  echo "cross_arm64_test: FAIL: $*" >&2
  exit 1
}

export BOWDEN_ARM64_SYSROOT="${BOWDEN_ARM64_SYSROOT:-${ROOT}/.arm64-sysroot}"
agent_bin="$(scripts/cross_arm64.sh | tail -n 1)"
bazel build --color=no --curses=no //relay:bowden-relay //cli:bowden </dev/null
bin_dir="$(bazel info bazel-bin 2>/dev/null)"
readonly RELAY_BIN="${bin_dir}/relay/bowden-relay" CLI_BIN="${bin_dir}/cli/bowden"
readonly AGENT=(qemu-aarch64 -L "${BOWDEN_ARM64_SYSROOT}" "${agent_bin}")

umask 077
T="$(mktemp -d -t bowden-arm64.XXXXXX)"
PIDS=()
trap 'stop_started; rm -rf "${T}"' EXIT

# A throw-away PKI; the arm64 agent gets its certificate by enrolling.
PKI="${T}/pki"
"${CLI_BIN}" ca init --dir "${PKI}" --trust-domain arm64.bowden >/dev/null
"${CLI_BIN}" ca issue --dir "${PKI}" relay relay --ip 127.0.0.1 >/dev/null
"${CLI_BIN}" ca issue --dir "${PKI}" user alice >/dev/null

mkdir -p "${T}/www"
readonly MARKER="served next to the arm64 agent $$"
echo "<p>${MARKER}</p>" >"${T}/www/index.html"
target_port="$(free_port)"
start printer python3 -m http.server --bind 127.0.0.1 --directory "${T}/www" "${target_port}"
wait_for 10 "${LAST_PID}" "the stand-in printer" http_ok "http://127.0.0.1:${target_port}/" ||
  { show_logs printer; die "the stand-in printer did not start"; }

cat >"${T}/policy.textproto" <<'POLICY'
admins: "alice"
grant { user: "alice" printers: "pi-*" role: "admin" }
POLICY
start relay "${RELAY_BIN}" --listen 127.0.0.1:0 \
  --cert "${PKI}/relay.crt" --key "${PKI}/relay.key" --ca "${PKI}/bundle.crt" \
  --state-dir "${T}/state" --policy "${T}/policy.textproto" \
  --ca-dir "${PKI}" --enroll-listen 127.0.0.1:0
wait_for 20 "${LAST_PID}" "the relay" grep -q 'listening on port' "${T}/relay.out" ||
  { show_logs relay; die "the relay did not start"; }
relay="127.0.0.1:$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "${T}/relay.out" | head -n 1)"
USER_FLAGS=(--relay "${relay}" --cert "${PKI}/alice.crt" --key "${PKI}/alice.key" --ca "${PKI}/ca.crt")

token="$("${CLI_BIN}" "${USER_FLAGS[@]}" token create agent pi-01 --ttl 10m)" ||
  { show_logs relay; die "could not create a join token"; }
"${AGENT[@]}" enroll --token "${token}" --state-dir "${T}/printer-host" >"${T}/enroll.out" 2>&1 ||
  { cat "${T}/enroll.out" >&2; show_logs relay; die "the arm64 agent could not enroll"; }

start agent "${AGENT[@]}" --config "${T}/printer-host/agent.textproto" \
  --target "octoprint=127.0.0.1:${target_port}"
agent_pid="${LAST_PID}"
wait_for 60 "${agent_pid}" "the arm64 agent to attach" \
  grep -q "attached as printer 'pi-01'" "${T}/agent.err" ||
  { show_logs agent relay; die "the arm64 agent did not attach"; }
[[ "$(readlink "/proc/${agent_pid}/exe")" == */qemu-aarch64 ]] ||
  die "the agent (pid ${agent_pid}) does not run under qemu-aarch64"

start open "${CLI_BIN}" "${USER_FLAGS[@]}" open pi-01 --no-browser
url_re='http://127\.0\.0\.1:[0-9]+/'
wait_for 20 "${LAST_PID}" "bowden open" grep -Eq "${url_re}" "${T}/open.out" ||
  { show_logs open; die "bowden open did not start"; }
url="$(grep -Eo "${url_re}" "${T}/open.out" | head -n 1)"

page="$(curl -sS --noproxy '*' --max-time 30 "${url}")" ||
  { show_logs open relay agent; die "the request through the arm64 agent failed"; }
[[ "${page}" == *"${MARKER}"* ]] ||
  { show_logs agent; die "the page through the tunnel is not the printer's: ${page}"; }

code="$(curl -s --noproxy '*' --max-time 30 -o "${T}/m997.body" -w '%{http_code}' \
  -X POST -H 'Content-Type: application/json' --data '{"command":"M997"}' \
  "${url}api/printer/command")"
[[ "${code}" == 403 ]] ||
  { show_logs agent; die "M997 through the arm64 agent's guard got HTTP ${code}, want 403"; }

echo "PASS: arm64 bowden-agent under qemu-aarch64 attached to the amd64 relay at ${relay}," \
  "served '${MARKER}' through 'bowden open' and refused M997 (403)"
