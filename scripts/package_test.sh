#!/usr/bin/env bash
# Installs the freshly built Debian packages on this machine for real, checks
# them, runs the installed relay and agent against each other, and purges them
# again (also on failure). Run as root, on a machine without a Bowden install
# of its own (it refuses otherwise). scripts/test.sh runs it after bazel test:
# dpkg cannot run inside Bazel's test sandbox, and the packages are built by
# scripts/package.sh with a stamped `bazel build`, not by a test action.
#
#   scripts/package_test.sh
#
# Checks, in order:
#   1. dpkg -i of bowden-relay, bowden-agent and bowden;
#   2. files, conffiles, system users, /var/lib/bowden-* modes (0700);
#   3. --version of the installed binaries names the revision they were
#      built from;
#   4. systemd-analyze verify, and systemd-analyze security --offline in the
#      "OK" band or better, on the installed units;
#   5. the installed relay and agent (as their users, with the shipped
#      relay.textproto and agent.env and a PKI minted now) attach, `bowden ls` shows the
#      printer online, and SIGHUP (systemctl reload) leaves the relay serving;
#   6. an upgrade (the same packages repacked with a higher version) keeps
#      the edited policy and agent.env, the keys, the users and the modes;
#   7. dpkg -r keeps users, state and config; dpkg --purge removes them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PACKAGES=(bowden-relay bowden-agent bowden)
readonly SERVICE_USERS=(bowden-relay bowden-agent)

fail() {
  echo "package_test: FAIL: $*" >&2
  exit 1
}
ok() { echo "package_test: ok: $*"; }

# Whether dpkg has PACKAGE installed or half-installed, or its conffiles.
known_to_dpkg() {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" && [[ "${status}" != *not-installed ]]
}

((EUID == 0)) || fail "run as root: it installs the packages with dpkg -i (and purges them)"
for package in "${PACKAGES[@]}"; do
  if known_to_dpkg "${package}"; then
    fail "${package} is already installed here; this test would purge it: run it elsewhere"
  fi
done
for user in "${SERVICE_USERS[@]}"; do
  ! getent passwd "${user}" >/dev/null ||
    fail "user ${user} already exists; this test would delete it: run it elsewhere"
done
[[ ! -e /etc/bowden && ! -e /var/lib/bowden-relay && ! -e /var/lib/bowden-agent ]] ||
  fail "/etc/bowden or /var/lib/bowden-* exist; this test would delete them: run it elsewhere"

umask 077
T="$(mktemp -d -t bowden-package-test.XXXXXX)"
readonly T
PIDS=()

# Stops what this test started, then purges whatever it installed.
cleanup() {
  local status=$? pid
  trap - EXIT
  for pid in "${PIDS[@]}"; do kill -TERM "${pid}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "${pid}" 2>/dev/null || true; done
  for package in "${PACKAGES[@]}"; do
    if known_to_dpkg "${package}"; then
      dpkg --purge "${package}" >/dev/null || status=1
    fi
  done
  if ((status != 0)); then
    for log in "${T}"/*.log; do
      [[ -s "${log}" ]] && { echo "---- ${log##*/} (last lines)"; tail -n 15 "${log}"; } >&2
    done
  fi
  rm -rf "${T}"
  exit "${status}"
}
trap cleanup EXIT

# Polls "$@" until it succeeds; fails after 30 s or when PID has exited.
#   await PID WHAT CMD...
await() {
  local pid="$1" what="$2" deadline=$((SECONDS + 30))
  shift 2
  until "$@"; do
    [[ -z "${pid}" ]] || kill -0 "${pid}" 2>/dev/null || fail "${what}: the process exited"
    ((SECONDS < deadline)) || fail "timed out waiting for ${what}"
    sleep 0.1
  done
}

# "MODE OWNER GROUP" of a path, e.g. "700 bowden-relay bowden-relay".
mode_of() { stat -c '%a %U %G' "$1"; }
expect_mode() {
  [[ "$(mode_of "$1")" == "$2" ]] || fail "$1 is '$(mode_of "$1")', expected '$2'"
}

# ---- 1. build and install ---------------------------------------------------

mapfile -t debs < <(bash scripts/package.sh "${T}/dist")
((${#debs[@]} == 3)) || fail "scripts/package.sh wrote ${#debs[@]} packages, expected 3"
dpkg -i "${debs[@]}" >"${T}/dpkg-install.log" 2>&1 || fail "dpkg -i failed: $(cat "${T}/dpkg-install.log")"
ok "installed ${debs[*]##*/}"

# ---- 2. files, users, modes -------------------------------------------------

for binary in bowden-relay bowden-agent bowden; do expect_mode "/usr/bin/${binary}" "755 root root"; done
expect_mode /usr/share/bash-completion/completions/bowden "644 root root"
# The installed completion, sourced as bash-completion would, completes a
# command word.
completed="$(bash --norc --noprofile -c 'source /usr/share/bash-completion/completions/bowden &&
  COMP_WORDS=(bowden ca i) COMP_CWORD=2 && { _bowden; true; } && echo "${COMPREPLY[*]}"')"
[[ "${completed}" == "init issue" ]] ||
  fail "bash completion of 'bowden ca i' gave '${completed}', expected 'init issue'"
for file in relay.textproto policy.textproto agent.env; do
  expect_mode "/etc/bowden/${file}" "644 root root"
done
expect_mode /etc/bowden "755 root root"
dpkg-query -W -f='${Conffiles}\n' bowden-relay | grep -q '/etc/bowden/relay.textproto' ||
  fail "/etc/bowden/relay.textproto is not a conffile of bowden-relay"
dpkg-query -W -f='${Conffiles}\n' bowden-agent | grep -q '/etc/bowden/agent.env' ||
  fail "/etc/bowden/agent.env is not a conffile of bowden-agent"
for user in "${SERVICE_USERS[@]}"; do
  IFS=: read -r _ _ uid _ _ home shell < <(getent passwd "${user}")
  ((uid < 1000)) || fail "${user} has uid ${uid}, not a system user"
  [[ "${home}" == "/var/lib/${user}" && "${shell}" == /usr/sbin/nologin ]] ||
    fail "${user} has home ${home} and shell ${shell}"
  getent group "${user}" >/dev/null || fail "group ${user} is missing"
  expect_mode "/var/lib/${user}" "700 ${user} ${user}"
  [[ -f "/lib/systemd/system/${user}.service" ]] || fail "${user}.service is missing"
done
ok "files, conffiles, users and 0700 state directories"

# ---- 3. --version -------------------------------------------------------------

# What the build stamped (the tree may have been edited since, so "-dirty"
# is not recomputed), and that it is this checkout's commit.
revision="$(sed -n 's/^STABLE_GIT_REVISION //p' bazel-out/stable-status.txt)"
[[ "${revision%-dirty}" == "$(git rev-parse --short=12 HEAD)" ]] ||
  fail "the build stamped revision '${revision}', but HEAD is $(git rev-parse --short=12 HEAD)"
[[ "$(dpkg-query -W -f='${Version}' bowden-relay)" == *".${revision%-dirty}"* ]] ||
  fail "bowden-relay's version $(dpkg-query -W -f='${Version}' bowden-relay) does not name ${revision}"
for binary in bowden-relay bowden-agent bowden; do
  line="$("/usr/bin/${binary}" --version)"
  [[ "${line}" == "${binary} $(cat VERSION) (git ${revision})" ]] ||
    fail "/usr/bin/${binary} --version says '${line}', expected revision ${revision}"
done
ok "installed binaries report git ${revision}"

# ---- 4. systemd units ---------------------------------------------------------

for user in "${SERVICE_USERS[@]}"; do
  unit="/lib/systemd/system/${user}.service"
  systemd-analyze verify "${unit}" >"${T}/verify.log" 2>&1 ||
    fail "systemd-analyze verify ${unit}: $(cat "${T}/verify.log")"
  [[ ! -s "${T}/verify.log" ]] || fail "systemd-analyze verify ${unit} warns: $(cat "${T}/verify.log")"
  overall="$(systemd-analyze security --offline=yes --no-pager "${unit}" | grep 'Overall exposure level')"
  [[ "${overall}" =~ :\ ([0-9.]+)\ (SAFE|OK) ]] ||
    fail "systemd-analyze security: ${overall} (expected the OK band or better)"
  ok "${unit}: verify clean, exposure ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
done

# ---- 5. the installed programs, against each other ----------------------------

# A throw-away PKI in the CA directory the shipped relay.textproto reads the
# relay's files from, owned by its user.
/usr/bin/bowden ca init --dir "${T}/farm-ca" --trust-domain package-test.bowden >/dev/null
/usr/bin/bowden ca issue --dir "${T}/farm-ca" relay relay --ip 127.0.0.1 --dns localhost >/dev/null
/usr/bin/bowden ca issue --dir "${T}/farm-ca" user alice >/dev/null
cp -a "${T}/farm-ca" /var/lib/bowden-relay/farm-ca
chown -R bowden-relay:bowden-relay /var/lib/bowden-relay/farm-ca
cat >/etc/bowden/policy.textproto <<'EOF'
# Edited by scripts/package_test.sh: an upgrade must keep this.
admins: "alice"
grant { user: "alice" printers: "prusa-*" role: "admin" }
EOF

# Runs "$@" in the background as USER (setpriv execs, so $! is the program).
#   start_as USER NAME CMD...   ->  $T/NAME.out, $T/NAME.log
start_as() {
  local user="$1" name="$2"
  shift 2
  setpriv --reuid="${user}" --regid="${user}" --init-groups -- "$@" \
    >"${T}/${name}.out" 2>"${T}/${name}.log" </dev/null &
  PIDS+=("$!")
  LAST_PID="$!"
}

# The stand-in printer: the agent needs something to forward to.
mkdir -p "${T}/www" && echo "stand-in printer" >"${T}/www/index.html"
start_as root printer python3 -u -m http.server --bind 127.0.0.1 --directory "${T}/www" 0
await "${LAST_PID}" "the stand-in printer" grep -q 'Serving HTTP' "${T}/printer.out"
printer_port="$(sed -n 's/.*port \([0-9]*\).*/\1/p' "${T}/printer.out" | head -n 1)"

# The shipped config; only addresses change, so the test needs no fixed port.
start_as bowden-relay relay /usr/bin/bowden-relay --config /etc/bowden/relay.textproto \
  --listen 127.0.0.1:0 --ca-dir /var/lib/bowden-relay/farm-ca --enroll-listen 127.0.0.1:0
relay_pid="${LAST_PID}"
await "${relay_pid}" "the relay to listen" grep -q 'listening on port' "${T}/relay.out"
relay_port="$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "${T}/relay.out")"

alice=(/usr/bin/bowden --relay "127.0.0.1:${relay_port}" --cert "${T}/farm-ca/alice.crt"
  --key "${T}/farm-ca/alice.key" --ca "${T}/farm-ca/ca.crt")
token="$("${alice[@]}" token create agent prusa-01 --ttl 10m 2>"${T}/token.log")" ||
  fail "bowden token create: $(cat "${T}/token.log")"
setpriv --reuid=bowden-agent --regid=bowden-agent --init-groups -- \
  /usr/bin/bowden-agent enroll --token "${token}" --state-dir /var/lib/bowden-agent \
  >"${T}/enroll.log" 2>&1 || fail "bowden-agent enroll: $(cat "${T}/enroll.log")"
expect_mode /var/lib/bowden-agent/agent.key "600 bowden-agent bowden-agent"

# As an operator would: point the shipped agent.env at the printer, then
# run the agent as bowden-agent.service does, the enrolled config plus
# agent.env's flags split on white space (systemd's unbraced $VAR).
sed -i "s/127.0.0.1:5000/127.0.0.1:${printer_port}/" /etc/bowden/agent.env
# shellcheck source=/dev/null
agent_args="$(set -a && . /etc/bowden/agent.env && echo "${BOWDEN_AGENT_ARGS}")"
read -ra agent_args <<<"${agent_args}"
[[ "${agent_args[*]}" == *"octoprint=127.0.0.1:${printer_port}"* ]] ||
  fail "agent.env's BOWDEN_AGENT_ARGS did not take the edit: ${agent_args[*]}"
start_as bowden-agent agent /usr/bin/bowden-agent --config /var/lib/bowden-agent/agent.textproto \
  "${agent_args[@]}"
agent_pid="${LAST_PID}"
await "${agent_pid}" "the agent to attach" grep -q "attached as printer 'prusa-01'" "${T}/agent.log"
"${alice[@]}" ls >"${T}/ls.out" 2>&1 || fail "bowden ls: $(cat "${T}/ls.out")"
grep -Eq 'prusa-01.*online' "${T}/ls.out" || fail "bowden ls does not show prusa-01 online: $(cat "${T}/ls.out")"
ok "installed relay and agent attached; bowden ls shows prusa-01 online"

kill -HUP "${relay_pid}"
await "${relay_pid}" "the relay to handle SIGHUP" grep -q 'SIGHUP: the policy file is unchanged' "${T}/relay.log"
"${alice[@]}" ls >"${T}/ls.out" 2>&1 || fail "bowden ls after SIGHUP: $(cat "${T}/ls.out")"
ok "the relay re-reads its policy on SIGHUP and keeps serving"

for pid in "${relay_pid}" "${agent_pid}"; do
  kill -TERM "${pid}"
  wait "${pid}" || fail "a program exited with status $? on SIGTERM"
done

# ---- 6. upgrade ----------------------------------------------------------------

# The same packages under a higher version, as the next commit's would be:
# dpkg runs the upgrade path (prerm upgrade, postinst configure OLD_VERSION)
# and its conffile handling.
upgrades=()
for deb in "${debs[@]}"; do
  rm -rf "${T}/repack"
  dpkg-deb -R "${deb}" "${T}/repack"
  sed -i 's/^Version: .*/&+upgrade/' "${T}/repack/DEBIAN/control"
  upgrades+=("${T}/$(basename "${deb}" .deb)+upgrade.deb")
  dpkg-deb --root-owner-group --build "${T}/repack" "${upgrades[-1]}" >/dev/null
done
uid_before="$(id -u bowden-relay)"
dpkg -i "${upgrades[@]}" >"${T}/dpkg-upgrade.log" 2>&1 || fail "upgrade failed: $(cat "${T}/dpkg-upgrade.log")"
grep -q 'Preparing to unpack .*+upgrade.deb' "${T}/dpkg-upgrade.log" ||
  fail "dpkg did not upgrade: $(cat "${T}/dpkg-upgrade.log")"
[[ "$(dpkg-query -W -f='${Version}' bowden-relay)" == *+upgrade ]] || fail "bowden-relay was not upgraded"
grep -q 'an upgrade must keep this' /etc/bowden/policy.textproto || fail "the upgrade replaced the edited policy"
grep -q "127.0.0.1:${printer_port}" /etc/bowden/agent.env || fail "the upgrade replaced the edited agent.env"
[[ -f /var/lib/bowden-relay/farm-ca/relay.key && -f /var/lib/bowden-agent/agent.key ]] ||
  fail "the upgrade lost the keys"
[[ "$(id -u bowden-relay)" == "${uid_before}" ]] || fail "the upgrade changed bowden-relay's uid"
for user in "${SERVICE_USERS[@]}"; do expect_mode "/var/lib/${user}" "700 ${user} ${user}"; done
expect_mode /var/lib/bowden-agent/agent.key "600 bowden-agent bowden-agent"
ok "upgrade kept the edited policy and agent.env, the keys, the users and the modes"

# ---- 7. remove, then purge -------------------------------------------------------

dpkg -r "${PACKAGES[@]}" >"${T}/dpkg-remove.log" 2>&1 || fail "dpkg -r: $(cat "${T}/dpkg-remove.log")"
[[ ! -e /usr/bin/bowden-relay ]] || fail "dpkg -r left /usr/bin/bowden-relay"
[[ -f /etc/bowden/relay.textproto && -f /var/lib/bowden-relay/farm-ca/relay.key ]] ||
  fail "dpkg -r removed config or state"
getent passwd bowden-relay >/dev/null || fail "dpkg -r removed user bowden-relay"
ok "remove kept users, state and config"

# bowden has no conffiles, so dpkg -r already forgot it.
dpkg --purge "${SERVICE_USERS[@]}" >"${T}/dpkg-purge.log" 2>&1 || fail "dpkg --purge: $(cat "${T}/dpkg-purge.log")"
for user in "${SERVICE_USERS[@]}"; do
  ! getent passwd "${user}" >/dev/null || fail "purge left user ${user}"
  ! getent group "${user}" >/dev/null || fail "purge left group ${user}"
  [[ ! -e "/var/lib/${user}" ]] || fail "purge left /var/lib/${user}"
done
[[ ! -e /etc/bowden ]] || fail "purge left /etc/bowden: $(ls -la /etc/bowden)"
ok "purge removed users, state and /etc/bowden"
echo "package_test: PASSED"
